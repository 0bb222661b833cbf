# bash completion for smtpsh(1): options, their values, profile and preset
# names (from smtpsh --list-profiles) and host names.

_smtpsh_profiles()
{
	local exe=${COMP_WORDS[0]}
	command -v -- "$exe" >/dev/null 2>&1 || exe=smtpsh
	"$exe" --list-profiles 2>/dev/null
}

_smtpsh()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local opts="-4 -6 --tls --starttls --cafile --insecure --ocsp --resume --timeout --ehlo
		--allow-plaintext-auth -p --profile --list-profiles -X --no-rc -f --file
		--strict --color --theme -h --help -V --version --explain --timing --show-raw
		--pipeline --step --record --replay --replay-user --replay-skip-auth
		--password-command --oauth-token-command --oauth-login --send --from --to --cc --bcc
		--subject --body --body-file --attach --header --chunking --notify --ret
		--envid --auth --user
		--practice --serve --listen --maildir --script --lmtp --like --tls-port --sni --proxy
		--proxy-from --mx --resolver --trust-anchor --check --role --json --check-rcpt
		--diagram -o --output --format --width --notes --ascii --tls-min --tls-max
		--ciphers --ciphersuites --groups --no-sni --cert --key --key-password-command"
	local with_arg=" --cafile --timeout --ehlo -p --profile -f --file --color --theme "
	with_arg+="--record --replay --replay-user --password-command --oauth-token-command "
	with_arg+="--oauth-login "
	with_arg+="--from --to --cc --bcc --subject --body --body-file --attach --header "
	with_arg+="--notify --ret --envid "
	with_arg+="--auth --user --listen --maildir --script --sni --proxy --proxy-from "
	with_arg+="--like --tls-port "
	with_arg+="--resolver --trust-anchor --role --check-rcpt "
	with_arg+="--diagram -o --output --format --width "
	with_arg+="--tls-min --tls-max --ciphers --ciphersuites --groups --cert --key "
	with_arg+="--key-password-command "
	COMPREPLY=()

	# --opt=value: bash splits it into "--opt" "=" "value"
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = && COMP_CWORD -ge 2 ]]; then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi
	case $prev in
	--cafile | -f | --file | --record | --replay | --body-file | --attach | --script | \
		--trust-anchor | --diagram | -o | --output | --cert | --key)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--maildir)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	--listen)
		COMPREPLY=($(compgen -W "127.0.0.1 ::1 0.0.0.0" -- "$cur"))
		return
		;;
	--serve)
		COMPREPLY=($(compgen -W "2525 0" -- "$cur"))
		return
		;;
	--like)
		COMPREPLY=($(compgen -W "office365 outlook gmail aol yahoo icloud" -- "$cur"))
		return
		;;
	--tls-port)
		COMPREPLY=($(compgen -W "2465 0" -- "$cur"))
		return
		;;
	--proxy)
		COMPREPLY=($(compgen -W "v1 v2" -- "$cur"))
		return
		;;
	--tls-min | --tls-max)
		COMPREPLY=($(compgen -W "1.0 1.1 1.2 1.3" -- "$cur"))
		return
		;;
	--format)
		COMPREPLY=($(compgen -W "svg html txt" -- "$cur"))
		return
		;;
	--color)
		COMPREPLY=($(compgen -W "auto always never" -- "$cur"))
		return
		;;
	--theme)
		COMPREPLY=($(compgen -W "dark light mono" -- "$cur"))
		return
		;;
	-p | --profile | --oauth-login)
		COMPREPLY=($(compgen -W "$(_smtpsh_profiles)" -- "$cur"))
		return
		;;
	--auth)
		COMPREPLY=($(compgen -W "auto PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER" -- "$cur"))
		return
		;;
	--notify)
		COMPREPLY=($(compgen -W "NEVER SUCCESS,FAILURE SUCCESS,FAILURE,DELAY FAILURE FAILURE,DELAY" -- "$cur"))
		return
		;;
	--ret)
		COMPREPLY=($(compgen -W "FULL HDRS" -- "$cur"))
		return
		;;
	--password-command | --oauth-token-command)
		COMPREPLY=($(compgen -c -- "$cur"))
		return
		;;
	--timeout | --ehlo | --replay-user | --from | --to | --cc | --bcc | --subject | --body | \
		--header | --envid | --user)
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi

	# Which positional argument is this? (words that are not options or their values)
	local i n=0 w profile=
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == = ]]; then
			((i++))
		elif [[ $with_arg == *" $w "* ]]; then
			[[ $w == -p || $w == --profile ]] && profile=1
			((i++))
		elif [[ $w != -* ]]; then
			((n++))
		fi
	done
	if [[ -n $profile || $n -ge 1 ]]; then
		COMPREPLY=($(compgen -W "25 465 587" -- "$cur"))
	else
		COMPREPLY=($(compgen -W "$(_smtpsh_profiles)" -- "$cur") $(compgen -A hostname -- "$cur"))
	fi
}

complete -F _smtpsh smtpsh

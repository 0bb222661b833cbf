#!/bin/bash
# postfix-lab.sh start DIR | stop DIR | destroy DIR | status DIR
#
# A private, throw-away Postfix instance for smtpsh's integration tests.
# Everything lives in DIR (absolute path; created if missing). Must run as
# root (Postfix's master needs it). Needs: postfix, sasl2-bin
# (saslpasswd2), libsasl2-modules, openssl, bash, /usr/bin/python3.
# Install them with scripts/install-test-deps.sh.
#
# Listeners (loopback only: 127.0.0.1, and ::1 when the host has it):
#   PLAIN_PORT       plain SMTP, no TLS offered, no AUTH offered
#   SUBMISSION_PORT  STARTTLS required (smtpd_tls_security_level=encrypt),
#                    AUTH (PLAIN LOGIN CRAM-MD5) only after STARTTLS
#   SMTPS_PORT       implicit TLS (wrapper mode), AUTH PLAIN LOGIN CRAM-MD5
#   SMALL_PORT       only with LAB_SMALL_LIMIT=BYTES in the environment: plain
#                    SMTP like PLAIN_PORT, but its smtpd refuses messages over
#                    BYTES (message_size_limit, advertised as SIZE BYTES), for
#                    "message too big" tests without sending 10 MB
#   XCLIENT_PORT     plain SMTP like PLAIN_PORT, and loopback clients may send
#                    XCLIENT and XFORWARD (smtpd_authorized_xclient_hosts and
#                    smtpd_authorized_xforward_hosts = 127.0.0.0/8 [::1]/128):
#                    the client address, name, HELO... of a proxy's client
#   PROXY_PORT       plain SMTP behind a proxy: every connection must begin
#                    with a haproxy PROXY header, text v1 or binary v2
#                    (smtpd_upstream_proxy_protocol = haproxy); the log then
#                    names the client that header gives
# All listeners offer CHUNKING (BDAT), DSN and SMTPUTF8 (Postfix's defaults).
# Ports are picked free at start unless given in the environment
# (PLAIN_PORT=, SUBMISSION_PORT=, SMTPS_PORT=, SMALL_PORT=, XCLIENT_PORT=,
# PROXY_PORT=). MESSAGE_SIZE_LIMIT=
# sets the SIZE the other listeners advertise and enforce (default 10240000,
# Postfix's own).
#
# Mail for alice@, bob@, carol@example.test is delivered by virtual(8) to
# Maildirs $MAILDIR_BASE/<user>/{new,cur,tmp}. Any other recipient is
# rejected at RCPT (550 unknown user in example.test, 554 relay access
# denied elsewhere) and nothing is ever relayed
# (default_transport = relay_transport = error).
#
# SASL (Cyrus sasldb, realm example.test): user alice, password below.
# Log in as "alice@example.test" (SASL_USER) or just "alice" (the realm is
# added by smtpd_sasl_local_domain); both work for PLAIN, LOGIN, CRAM-MD5.
#
# `start` writes DIR/env (shell-sourceable KEY='value' lines) and prints it.
# `stop` stops master and waits until it has exited; `destroy` stops and
# removes DIR (only a DIR this script made); `status` tells if it runs.
#
# Delivered files: Postfix prepends exactly 4 header lines (Return-Path,
# X-Original-To, Delivered-To, Received -- the Received one is folded over
# several lines), then the message as sent with CRLF -> LF, dots unstuffed.

set -u
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

SASL_REALM=example.test
SASL_NAME=alice
SASL_PASS='Lab-pass-4711'
DOMAIN=example.test
MAILBOXES="alice bob carol"
NOBODY_UID=65534
NOBODY_GID=65534

die() { echo "postfix-lab: error: $*" >&2; exit 1; }
say() { echo "postfix-lab: $*" >&2; }

usage() {
    echo "usage: $0 start DIR | stop DIR | destroy DIR | status DIR" >&2
    exit 2
}

# Postfix writes its error messages only to a terminal: show them.
explain_failure() {
    local dir=$1
    say "postfix check says:"
    script -qec "postfix -c '$dir/etc' check" /dev/null >&2 || true
    if [ -s "$dir/log/postfix.log" ]; then
        say "last lines of $dir/log/postfix.log:"
        tail -n 30 "$dir/log/postfix.log" >&2
    fi
}

free_port() {
    /usr/bin/python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

port_in_use() {
    # true when something listens on 127.0.0.1:$1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
    # pick_port VARNAME EXCLUDE...: a free port not in EXCLUDE
    local p
    for _ in $(seq 1 50); do
        p=$(free_port) || die "cannot run /usr/bin/python3 to pick a port"
        case " ${*:2} " in *" $p "*) continue ;; esac
        echo "$p"
        return 0
    done
    die "cannot find a free port"
}

wait_port() {
    local host=$1 port=$2
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

master_pid() {
    local f=$1/spool/pid/master.pid pid
    [ -r "$f" ] || return 1
    pid=$(tr -dc '0-9' <"$f")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

do_start() {
    local dir=$1
    [ -x /usr/sbin/postfix ] ||
        die "postfix is not installed: run scripts/install-test-deps.sh (as root)"
    command -v saslpasswd2 >/dev/null 2>&1 ||
        die "saslpasswd2 is not installed: run scripts/install-test-deps.sh (as root)"
    command -v openssl >/dev/null 2>&1 ||
        die "openssl is not installed: run scripts/install-test-deps.sh (as root)"
    [ "$(id -u)" -eq 0 ] || die "must run as root (Postfix master needs it)"

    if master_pid "$dir" >/dev/null; then
        die "a lab is already running in $dir (pid $(master_pid "$dir"))"
    fi

    mkdir -p "$dir" || die "cannot create $dir"
    # Postfix daemons run as postfix / nobody: they must reach DIR.
    chmod 755 "$dir"
    local etc=$dir/etc mail=$dir/mail
    mkdir -p "$etc/sasl" "$dir/log" "$dir/data" "$dir/spool" "$mail" || die "mkdir"
    chmod 755 "$etc" "$etc/sasl" "$dir/log" "$dir/spool"
    chown postfix:postfix "$dir/data" && chmod 700 "$dir/data"

    local ipv6=0 protocols=ipv4
    if [ -r /proc/net/if_inet6 ] &&
        grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6; then
        ipv6=1
        protocols=all
    fi

    local plain=${PLAIN_PORT:-} sub=${SUBMISSION_PORT:-} smtps=${SMTPS_PORT:-}
    local xclient=${XCLIENT_PORT:-} proxy=${PROXY_PORT:-}
    local small_limit=${LAB_SMALL_LIMIT:-} small=
    [ -n "$plain" ] || plain=$(pick_port "$sub" "$smtps" "$xclient" "$proxy")
    [ -n "$sub" ] || sub=$(pick_port "$plain" "$smtps" "$xclient" "$proxy")
    [ -n "$smtps" ] || smtps=$(pick_port "$plain" "$sub" "$xclient" "$proxy")
    [ -n "$xclient" ] || xclient=$(pick_port "$plain" "$sub" "$smtps" "$proxy")
    [ -n "$proxy" ] || proxy=$(pick_port "$plain" "$sub" "$smtps" "$xclient")
    local ports="$plain $sub $smtps $xclient"
    if [ -n "$small_limit" ]; then
        case $small_limit in *[!0-9]*) die "bad LAB_SMALL_LIMIT '$small_limit'" ;; esac
        small=${SMALL_PORT:-}
        [ -n "$small" ] || small=$(pick_port "$plain" "$sub" "$smtps" "$xclient" "$proxy")
        ports="$ports $small"
    fi
    # (the PROXY port is checked apart: a probe without a header would only be logged)
    for p in $proxy; do
        case $p in '' | *[!0-9]*) die "bad port '$p'" ;; esac
        port_in_use "$p" && die "port $p is already in use"
    done
    local p
    for p in $ports; do
        case $p in '' | *[!0-9]*) die "bad port '$p'" ;; esac
        port_in_use "$p" && die "port $p is already in use"
    done

    # --- certificate: self-signed, CN=localhost, SANs localhost/127.0.0.1/::1
    if [ ! -s "$etc/cert.pem" ] || [ ! -s "$etc/key.pem" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
            -subj /CN=localhost \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -keyout "$etc/key.pem" -out "$etc/cert.pem" >/dev/null 2>&1 ||
            die "openssl could not make the certificate"
    fi
    chown root:postfix "$etc/key.pem" && chmod 640 "$etc/key.pem"
    chmod 644 "$etc/cert.pem"

    # --- SASL: Cyrus sasldb with a plaintext secret (so CRAM-MD5 works)
    local sasldb=$etc/sasldb2
    rm -f "$sasldb"
    printf '%s' "$SASL_PASS" | saslpasswd2 -p -c -f "$sasldb" -u "$SASL_REALM" "$SASL_NAME" ||
        die "saslpasswd2 failed"
    chown root:postfix "$sasldb" && chmod 640 "$sasldb"
    cat >"$etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $sasldb
mech_list: PLAIN LOGIN CRAM-MD5
EOF
    chmod 644 "$etc/sasl/smtpd.conf"

    # --- virtual mailboxes
    : >"$etc/vmailbox"
    local u
    for u in $MAILBOXES; do
        echo "$u@$DOMAIN $u/" >>"$etc/vmailbox"
        mkdir -p "$mail/$u"
    done
    chmod 644 "$etc/vmailbox"
    chown -R "$NOBODY_UID:$NOBODY_GID" "$mail"
    chmod 755 "$mail"

    # --- main.cf
    cat >"$etc/main.cf" <<EOF
# Generated by tests/lab/postfix-lab.sh -- a private test instance.
compatibility_level = 3.6
config_directory = $etc
queue_directory = $dir/spool
data_directory = $dir/data
maillog_file = $dir/log/postfix.log
maillog_file_prefixes = /var, /dev/stdout, $dir/log
syslog_name = postfix-lab

myhostname = lab.$DOMAIN
mydomain = $DOMAIN
myorigin = \$myhostname
inet_interfaces = loopback-only
inet_protocols = $protocols
mynetworks = 127.0.0.0/8 [::1]/128
smtpd_peername_lookup = no

# No local(8) delivery, no aliases.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
local_transport = error:local delivery disabled in the test lab

# Only virtual(8) Maildir delivery for $DOMAIN.
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_base = $mail
virtual_mailbox_maps = texthash:$etc/vmailbox
virtual_uid_maps = static:$NOBODY_UID
virtual_gid_maps = static:$NOBODY_GID
virtual_minimum_uid = 100
virtual_mailbox_limit = 0
message_size_limit = ${MESSAGE_SIZE_LIMIT:-10240000}

# Never deliver anywhere else.
default_transport = error:outbound mail disabled in the test lab
relay_transport = error:relaying disabled in the test lab
relay_domains =
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =

# Do not rewrite headers of mail from loopback clients.
local_header_rewrite_clients =

# TLS material (off by default; enabled per listener in master.cf).
smtpd_tls_cert_file = $etc/cert.pem
smtpd_tls_key_file = $etc/key.pem
smtpd_tls_security_level = none
smtpd_tls_loglevel = 1
smtpd_tls_received_header = no

# SASL (Cyrus, sasldb); enabled per listener in master.cf.
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $etc/sasl
smtpd_sasl_local_domain = $SASL_REALM
smtpd_sasl_auth_enable = no
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
broken_sasl_auth_clients = no

# Quick and quiet.
biff = no
smtpd_banner = \$myhostname ESMTP smtpsh test lab
queue_run_delay = 10s
minimal_backoff_time = 10s
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
smtpd_client_connection_rate_limit = 0
anvil_rate_time_unit = 60s
delay_warning_time = 0
EOF

    # --- master.cf: only what the lab needs, nothing chrooted
    cat >"$etc/master.cf" <<EOF
# Generated by tests/lab/postfix-lab.sh
# service type  private unpriv  chroot  wakeup  maxproc command + args
$plain      inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix-lab/plain
  -o smtpd_tls_security_level=none
  -o smtpd_sasl_auth_enable=no
$sub      inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix-lab/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
$smtps      inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix-lab/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
$xclient      inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix-lab/xclient
  -o smtpd_tls_security_level=none
  -o smtpd_sasl_auth_enable=no
  -o smtpd_authorized_xclient_hosts=127.0.0.0/8,[::1]/128
  -o smtpd_authorized_xforward_hosts=127.0.0.0/8,[::1]/128
$proxy      inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix-lab/proxy
  -o smtpd_tls_security_level=none
  -o smtpd_sasl_auth_enable=no
  -o smtpd_upstream_proxy_protocol=haproxy
  -o smtpd_upstream_proxy_timeout=5s
$( [ -n "$small" ] && printf '%s      inet  n       -       n       -       -       smtpd\n  -o syslog_name=postfix-lab/small\n  -o smtpd_tls_security_level=none\n  -o smtpd_sasl_auth_enable=no\n  -o message_size_limit=%s\n' "$small" "$small_limit")
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    chmod 644 "$etc/main.cf" "$etc/master.cf"

    # --- start
    if ! postfix -c "$etc" check >/dev/null 2>&1; then
        say "postfix check failed"
        explain_failure "$dir"
        exit 1
    fi
    if ! postfix -c "$etc" start >/dev/null 2>&1; then
        say "postfix start failed"
        explain_failure "$dir"
        do_stop "$dir" >/dev/null 2>&1
        exit 1
    fi
    local hosts=127.0.0.1
    [ "$ipv6" = 1 ] && hosts="127.0.0.1 ::1"
    local h
    for h in $hosts; do
        for p in $ports; do
            if ! wait_port "$h" "$p"; then
                say "port $h $p does not accept connections"
                explain_failure "$dir"
                do_stop "$dir" >/dev/null 2>&1
                exit 1
            fi
        done
    done

    cat >"$dir/env" <<EOF
LAB_DIR='$dir'
PLAIN_PORT='$plain'
SUBMISSION_PORT='$sub'
SMTPS_PORT='$smtps'
XCLIENT_PORT='$xclient'
PROXY_PORT='$proxy'
CAFILE='$etc/cert.pem'
MAILDIR_BASE='$mail'
DOMAIN='$DOMAIN'
MAILBOXES='$MAILBOXES'
SASL_USER='$SASL_NAME@$SASL_REALM'
SASL_SHORT_USER='$SASL_NAME'
SASL_PASS='$SASL_PASS'
IPV6='$ipv6'
POSTFIX_CONFIG='$etc'
POSTFIX_LOG='$dir/log/postfix.log'
EOF
    if [ -n "$small" ]; then
        echo "SMALL_PORT='$small'" >>"$dir/env"
        echo "SMALL_LIMIT='$small_limit'" >>"$dir/env"
    fi
    cat "$dir/env"
}

do_stop() {
    local dir=$1 pid
    [ -f "$dir/etc/main.cf" ] || die "no lab in $dir"
    pid=$(master_pid "$dir") || { say "not running"; return 0; }
    postfix -c "$dir/etc" stop >/dev/null 2>&1 || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { say "stopped"; return 0; }
        sleep 0.1
    done
    say "master $pid did not stop; aborting"
    postfix -c "$dir/etc" abort >/dev/null 2>&1 || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    return 1
}

do_destroy() {
    local dir=$1
    if [ -f "$dir/etc/main.cf" ]; then
        grep -q '^# Generated by tests/lab/postfix-lab.sh' "$dir/etc/main.cf" ||
            die "$dir does not look like a lab made by this script; not removing it"
        do_stop "$dir" || true
    fi
    rm -rf "$dir"
}

do_status() {
    local dir=$1 pid
    if pid=$(master_pid "$dir"); then
        echo "running (master pid $pid)"
        [ -f "$dir/env" ] && cat "$dir/env"
        return 0
    fi
    echo "not running"
    return 1
}

[ $# -eq 2 ] || usage
DIR=$2
case $DIR in
/*) ;;
*) die "DIR must be an absolute path" ;;
esac
DIR=${DIR%/}
case $1 in
start) do_start "$DIR" ;;
stop) do_stop "$DIR" ;;
destroy) do_destroy "$DIR" ;;
status) do_status "$DIR" ;;
*) usage ;;
esac

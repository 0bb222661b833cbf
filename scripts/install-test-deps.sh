#!/bin/sh
# Install everything needed to build smtpsh and run its whole test suite
# (Debian 12). Idempotent: does nothing (no apt at all) when every package
# is already installed. Must run as root; re-executes itself with sudo if
# available.
set -eu

PKGS="meson ninja-build gcc pkg-config libreadline-dev libssl-dev
postfix sasl2-bin libsasl2-modules python3-pexpect python3-aiosmtpd
swaks openssl clang libfuzzer-14-dev valgrind ca-certificates time
man-db groff-base zsh bash-completion
libnet-ssleay-perl libio-socket-ssl-perl
dovecot-core dovecot-lmtpd"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    if [ "$st" != "installed" ]; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-test-deps: all packages already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo -- "$0" "$@"
    fi
    echo "install-test-deps: must run as root (missing:$missing)" >&2
    exit 1
fi

echo "install-test-deps: installing:$missing"

# Postfix without an init script and without configuration prompts.
debconf-set-selections <<'SEL'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string localhost
SEL

export DEBIAN_FRONTEND=noninteractive
# Installing a daemon (Postfix, Dovecot) must not start it: the tests run private instances.
# Without a policy-rc.d of its own, the system gets one that says no (101) for this install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# Only reached when something is missing: refresh the lists, then install.
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
echo "install-test-deps: done"

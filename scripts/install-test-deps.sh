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
libunbound-dev libevent-dev nettle-dev libcurl4-openssl-dev
knot knot-dnsutils unbound dns-root-data"

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
# Only reached when something is missing: refresh the lists, then install.
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
echo "install-test-deps: done"

#!/bin/sh
# Install everything needed to build smtpsh and run its whole test suite
# (Debian 12). Idempotent: does nothing (no apt at all) when every package
# is already installed. Must run as root; re-executes itself with sudo if
# available. Then tests/interop/install-deps: the pinned npm packages
# (`npm ci`, with the machine's Node.js >= 20) and Exim unpacked from
# Debian's packages, each only when missing or out of date.
set -eu

PKGS="meson ninja-build gcc pkg-config libreadline-dev libssl-dev
postfix sasl2-bin libsasl2-modules python3-pexpect python3-aiosmtpd
swaks openssl clang libfuzzer-14-dev valgrind ca-certificates time
man-db groff-base zsh bash-completion
libnet-ssleay-perl libio-socket-ssl-perl
curl msmtp libnss-wrapper
libunbound-dev libevent-dev nettle-dev libcurl4-openssl-dev libjson-c-dev
knot knot-dnsutils unbound dns-root-data
dovecot-core dovecot-lmtpd
libxml2-utils chromium"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    if [ "$st" != "installed" ]; then
        missing="$missing $p"
    fi
done

# (needs no root: npm ci and apt-get download + dpkg -x into the tree)
interop() {
    exec "$(dirname "$0")/../tests/interop/install-deps"
}

if [ -z "$missing" ]; then
    echo "install-test-deps: all packages already installed"
    interop
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
interop

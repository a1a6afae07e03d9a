#!/bin/sh
# Install what postwarden needs on Debian 12, then the package into ./.venv.
# Idempotent and non-interactive: safe to run again; used by the demo, the tests and CI.
set -eu
cd "$(dirname "$0")/.."

need=""
# sasl2-bin (saslpasswd2) and the Cyrus SASL plugins: the Postfix tests with SMTP AUTH;
# systemd for systemd-analyze, which checks the shipped unit (no systemd needs to run).
for pkg in postfix libmilter-dev build-essential python3-dev python3-venv redis-server \
           sasl2-bin libsasl2-modules libsasl2-modules-db systemd; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need="$need $pkg"
done
if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup: missing Debian packages:$need (run as root, or install them first)" >&2
        exit 1
    fi
    echo "setup: installing$need"
    echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
    echo "postfix postfix/mailname string example.test" | debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $need
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
echo "setup: ready ($(.venv/bin/postwarden --version))"

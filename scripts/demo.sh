#!/bin/sh
# The main job on a fresh Debian machine: install what is needed (scripts/setup.sh), then start
# a private Postfix with postwarden on loopback, send the bundled sample messages and print,
# per message, what the SMTP client saw and which X-Postwarden headers landed. Run as root.
# Everything stops and is removed at the end; the system Postfix is not touched.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"

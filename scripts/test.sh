#!/bin/sh
# The README's test command: set up, lint, then the whole suite including a real Postfix.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
    echo "test: pytest collected no tests" >&2
    exit 1
fi
exit "$rc"

#!/usr/bin/env bash
# Set up tools/venv if needed, then run the test suite. Extra arguments go to pytest.
#   e.g. tools/run_tests.sh            # everything
#        tools/run_tests.sh tests/data -k scp
# The corpora are found through ASRKIT_CORPORA (default ../shared/corpora beside the checkout);
# tests that need a missing corpus skip with a message, unless ASRKIT_REQUIRE_CORPORA=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/install.sh"
cd "$root"
exec "$root/tools/venv/bin/python" -m pytest "$@"

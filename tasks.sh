#!/usr/bin/env bash
# One entry point for a new machine (Python 3.11 + pip, nothing else):
#   bash tasks.sh sample   set up .venv and run `prepare` on the embedded sample corpus
#   bash tasks.sh test     set up .venv (with the train, test and gcp extras) and run the test suite
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
PIP="$VENV/bin/python -m pip"

setup() {
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  $PIP install -q --upgrade pip setuptools wheel numpy cython
  # pkuseg 0.0.25 ships no wheel and its setup.py imports numpy and Cython: build it in this venv.
  $VENV/bin/python -c "import pkuseg" 2>/dev/null || $PIP install -q --no-build-isolation "pkuseg==0.0.25"
  $PIP install -q -e ".$1"
}

case "${1:-}" in
  sample)
    setup ""
    "$VENV/bin/erlangshen-data" prepare --output out/sample --overwrite
    ;;
  test)
    # The CPU build of torch 2.13.0 for tests; GPU users install the build their platform needs.
    setup ""
    $VENV/bin/python -c "import torch" 2>/dev/null || $PIP install -q "torch==2.13.0"
    setup "[train,test,gcp]"  # gcp: the Dataflow graph tests build a real (dry-run) job
    "$VENV/bin/python" -m pytest -q "${@:2}"
    ;;
  *)
    echo "usage: bash tasks.sh sample|test [pytest args]" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# One entry point for a fresh machine: creates .venv, installs ecg_art exactly as documented, then runs
#   ./dev.sh paper [ARGS]   the main job: `ecg-art run paper --profile quick` (ARGS replace `--profile quick`)
#   ./dev.sh test  [ARGS]   the test suite (ARGS go to pytest, e.g. -m "not gpu" for slow + real-data tests too)
#   ./dev.sh ecg-art ARGS   any other ecg-art command, e.g. ./dev.sh ecg-art data info
#   ./dev.sh install        only the install step
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV=${ECG_ART_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

install() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "dev.sh: creating $VENV" >&2
    "$PY" -m venv "$VENV"
  fi
  local stamp="$VENV/.ecg_art-installed"
  local want
  want=$(cat setup.cfg pyproject.toml dev.sh | sha256sum | cut -c1-16)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "dev.sh: installing ecg_art and its dependencies into $VENV (about 2 minutes the first time)" >&2
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # torch first and pinned: 2.13.0 is the local CPU wheel; any other spec pulls a multi-GB CUDA build.
    "$VENV/bin/python" -m pip install -q torch==2.13.0
    "$VENV/bin/python" -m pip install -q torch==2.13.0 -e ".[test]"
    # torchattacks declares torchvision and requests~=2.25.1 but imports neither: install without them.
    "$VENV/bin/python" -m pip install -q --no-deps torchattacks==3.5.1
    echo "$want" > "$stamp"
  fi
}

# The shared MIT-BIH copy beside the checkout, when there is one and nothing else was chosen.
if [ -z "${ECG_ART_DATA:-}" ] && [ -f "$ROOT/../shared/data/mitdb/100.hea" ]; then
  export ECG_ART_DATA="$ROOT/../shared/data/mitdb"
fi

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  install) install ;;
  paper)
    install
    if [ $# -eq 0 ]; then set -- --profile quick; fi
    exec "$VENV/bin/ecg-art" run paper "$@" ;;
  test)
    install
    exec "$VENV/bin/python" -m pytest "$@" ;;
  ecg-art)
    install
    exec "$VENV/bin/ecg-art" "$@" ;;
  *)
    echo "usage: ./dev.sh {paper|test|ecg-art|install} [ARGS]" >&2
    exit 2 ;;
esac

#!/usr/bin/env bash
# Build tools/venv: torch + torchaudio, then asrkit itself (editable, with test extras).
#
# Usage: tools/install.sh [--torch "<pip requirement(s) for torch and torchaudio>"] [--python python3]
#   e.g. tools/install.sh
#        tools/install.sh --torch "torch==2.5.1 torchaudio==2.5.1 --index-url https://download.pytorch.org/whl/cu121"
#
# The default pair is the one verified on asrkit's CI machines (CPU, Python 3.11): the PyPI
# torchaudio 2.11.0 wheel needs torch 2.14.1 (it fails to import beside torch 2.13.0+cpu).
# On a GPU machine, pass the torch/torchaudio pair built for your CUDA. Re-running is cheap:
# an existing venv is kept and only asrkit is reinstalled.
set -euo pipefail

torch_spec="torch==2.14.1 torchaudio==2.11.0"
python=python3

while [ $# -gt 0 ]; do
  case "$1" in
    --torch) torch_spec="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "$0: unknown option $1" >&2; exit 1 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/tools/venv"
stamp="$venv/.torch-installed"

if [ ! -x "$venv/bin/python" ]; then
  echo "tools/install.sh: creating $venv" >&2
  "$python" -m venv "$venv"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$torch_spec" ]; then
  echo "tools/install.sh: installing $torch_spec" >&2
  # shellcheck disable=SC2086
  pip install --quiet --disable-pip-version-check $torch_spec
  echo "$torch_spec" > "$stamp"
fi

# editable_mode=compat: a .pth line with the checkout's path, not setuptools' import hook. The hook
# comes after Python's own path search, so a folder named asrkit in the current directory, as
# `git clone .../asrkit` makes beside a user's script, was imported instead as an empty namespace
# package: "cannot import name 'Transcriber' from 'asrkit' (unknown location)" (pypa/setuptools#3557).
# A pip too old for --config-settings (before 22.1) runs setup.py develop, which writes such a line.
compat=()
case $(pip install --help 2>/dev/null || true) in *--config-settings*) compat=(--config-settings editable_mode=compat) ;; esac
pip install --quiet --disable-pip-version-check -e "$root[test]" ${compat[@]+"${compat[@]}"}
python - <<'PY'
import torch, torchaudio, kaldiio, sentencepiece, soundfile, asrkit
print(f"tools/install.sh: ok: torch {torch.__version__}, torchaudio {torchaudio.__version__}, "
      f"cuda {'yes' if torch.cuda.is_available() else 'no'}, libsndfile {soundfile.__libsndfile_version__}, "
      f"asrkit {asrkit.__version__}")
PY

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

pip install --quiet --disable-pip-version-check -e "$root[test]"
python - <<'PY'
import torch, torchaudio, kaldiio, sentencepiece, soundfile, asrkit
print(f"tools/install.sh: ok: torch {torch.__version__}, torchaudio {torchaudio.__version__}, "
      f"cuda {'yes' if torch.cuda.is_available() else 'no'}, libsndfile {soundfile.__libsndfile_version__}, "
      f"asrkit {asrkit.__version__}")
PY

#!/usr/bin/env bash
# What bench/gpu_checks.sh needs on a device machine, made here once: AN4 as FLAC under .devdata/an4
# (44 MB: the WAV copy, 92 MB, would not fit the 64 MiB a device call carries) and the wheels its
# image lacks under .whl/ (kaldiio, soundfile, cffi, pycparser for CPython 3.12 on x86-64). Both
# folders are added to .git/info/exclude and travel only when a call carries them:
#   bench/gpu_checks_prepare.sh [AN4_ROOT]      (default: $ASRKIT_CORPORA/an4 or ../shared/corpora/an4)
# then, on the device machine, with carry [".devdata", ".whl"]:
#   timeout -k 5 580 bash bench/gpu_checks.sh > $OUT/log.txt 2>&1
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
an4=${1:-${ASRKIT_CORPORA:-$repo/../shared/corpora}/an4}
[ -f "$an4/etc/an4_train.transcription" ] || { echo "$0: $an4 is not an AN4 copy (no etc/an4_train.transcription)" >&2; exit 1; }
py=${ASRKIT_VENV:-$repo/tools/venv}/bin/python
cd "$repo"
for d in /.devdata/ /.whl/; do grep -qxF "$d" .git/info/exclude 2> /dev/null || echo "$d" >> .git/info/exclude; done
"$py" - "$an4" .devdata/an4 <<'PY'
import shutil, sys
from pathlib import Path
import soundfile as sf
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
shutil.copytree(src / "etc", dst / "etc", dirs_exist_ok=True)
n = 0
for w in sorted((src / "wav").rglob("*.wav")):
    out = dst / "wav" / w.relative_to(src / "wav").with_suffix(".flac")
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        x, sr = sf.read(w, dtype="int16")
        tmp = out.with_suffix(".tmp.flac")
        sf.write(tmp, x, sr, format="FLAC", subtype="PCM_16")
        tmp.rename(out)
    n += 1
print(f"{n} recordings as FLAC under {dst}")
PY
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl kaldiio soundfile cffi pycparser
du -sh .devdata .whl

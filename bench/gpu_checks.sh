#!/usr/bin/env bash
# The GPU checks of the open issues, in one run that fits a short GPU lease (~10 minutes):
#   #10 item 8: AN4's 4x320 GPU config (conf/train.yaml) trained through the recipe (stages 0-6,
#               a RESULTS.md row), epoch time, GPU utilisation; time to 6 % WER from every
#               epoch's checkpoint (bench/time_to_wer.py)
#   #9:         decoding RTF of AN4 test in-process at beam 10 + CTC 0.3 (bench/decode_speed.py),
#               and the same hypotheses on the CPU
#   #12 item 6: raw-audio training (--feats-type raw, fbank + speed perturbation in loader
#               workers): utterances/s and GPU utilisation
# Every step has a time limit taken from one deadline, in that order of priority; a failed or
# cut step is reported and the next one runs. Results go to $OUT (default /tmp/gpu_checks):
# log.txt, logs.tgz (recipe logs, RESULTS.md, hypotheses, nvidia-smi samples), and the trained
# model in 15 MB pieces (model.pt.part*; cat them back together).
#
# Options are environment variables:
#   AN4          a WAV copy of AN4 (etc/ + wav/); default: made from AN4_FLAC
#   AN4_FLAC     a FLAC copy of AN4 (the same layout, .flac files), restored to WAV under /tmp/an4
#   NGPU         1 (0 runs the same steps on the CPU: a rehearsal of this script on a small slice)
#   NJ           parallel jobs for feature extraction (default: the machine's cores)
#   MAX_UTTS     run.sh --max-utts (0: all of AN4)
#   TRAIN_MAX_TIME   the 4x320 training's budget in seconds (default 210)
#   RAW_WORKERS  loader workers of the raw-audio training (default 12)
#   DEADLINE     seconds from the start by which every step has ended (default 560)
#   SKIP_INSTALL 1: use the asrkit environment that ASRKIT_VENV names, install nothing
#
# On the device machine (its image has torch, torchaudio, sentencepiece; kaldiio, soundfile, cffi
# and pycparser travel as wheels in .whl/, AN4 as FLAC in .devdata/an4, both carried), run it
# under a hard limit below the call's, with its output in a file, not through a pipe (a pipe's
# reader waits for every process holding it; nothing would come back from a hung step):
#   timeout -k 5 580 bash bench/gpu_checks.sh > $OUT/log.txt 2>&1
#
#   bench/gpu_checks_prepare.sh makes .devdata/ and .whl/ here.
#   e.g. (device machine): OUT=$OUT AN4_FLAC=.devdata/an4 bash bench/gpu_checks.sh
#        (rehearsal here): SKIP_INSTALL=1 ASRKIT_VENV=$PWD/tools/venv NGPU=0 MAX_UTTS=60 TRAIN_MAX_TIME=40 \
#                          AN4=../shared/corpora/an4 bash bench/gpu_checks.sh
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp/gpu_checks}
ngpu=${NGPU:-1}
nj=${NJ:-$(getconf _NPROCESSORS_ONLN)}
max_utts=${MAX_UTTS:-0}
train_max_time=${TRAIN_MAX_TIME:-210}
raw_workers=${RAW_WORKERS:-12}
deadline=$(( SECONDS + ${DEADLINE:-560} ))
mkdir -p "$out"
work=${WORK:-/tmp/gpu_checks_work}  # beside $OUT, not in it: only the files below come back
rm -rf "$work" && mkdir -p "$work"

# step <name> <limit s> <command...>: run with a limit cut to the deadline; report rc and time.
step() {
  local name=$1 limit=$2 left rc t0
  shift 2
  left=$(( deadline - SECONDS - 5 ))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 10 ]; then
    echo "=== $name: skipped, $left s left before the deadline"
    return 124
  fi
  echo "=== $name: start $(date -u +%T), limit $limit s"
  t0=$SECONDS
  timeout -k 10 "$limit" "$@"
  rc=$?
  echo "=== $name: rc $rc after $(( SECONDS - t0 )) s"
  return $rc
}

# nvidia-smi samples every second while a step runs: smi_start <file>, smi_stop.
smi_pid=
smi_start() {
  command -v nvidia-smi > /dev/null || return 0
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader,nounits -lms 1000 > "$1" &
  smi_pid=$!
}
smi_stop() { [ -z "$smi_pid" ] || kill "$smi_pid" 2> /dev/null; smi_pid=; }
smi_summary() {  # mean and median GPU utilisation of the samples while busy (memory in use)
  [ -s "$1" ] || return 0
  awk -F', ' '{ print $2 }' "$1" | sort -n | awk '{ v[NR] = $1; s += $1 } END { if (NR) printf "%s: %d samples, GPU utilisation mean %.0f %%, median %d %%\n", FILENAME, NR, s / NR, v[int((NR + 1) / 2)] }' FILENAME="$(basename "$1")"
}

echo "gpu_checks.sh on $(hostname), $(date -u '+%F %T') UTC; $(getconf _NPROCESSORS_ONLN) cores"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

# ---- environment: asrkit and the packages the image lacks (carried as wheels in .whl/)
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  if ! python3 -c 'import kaldiio, soundfile' 2> /dev/null && ls "$repo"/.whl/*.whl > /dev/null 2>&1; then
    if ! python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir "$repo"/.whl/*.whl; then
      python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$repo"/.whl/*.whl
      export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
    fi
  fi
  # The console scripts as wrappers around python3, asrkit from this checkout (path.sh puts it on
  # PYTHONPATH): no build step. (pip install -e needs setuptools from the network there, where
  # setup.py develop re-runs pip with build isolation.) The folder is made afresh: writing a
  # wrapper over a link left by an earlier run would overwrite the link's target.
  env_dir=/tmp/asrkit_env
  rm -rf "$env_dir" && mkdir -p "$env_dir/bin"
  # a wrapper, not a link: a venv's python reached through a link elsewhere loses its site-packages
  printf '#!/bin/sh\nexec %s "$@"\n' "$(python3 -c 'import sys; print(sys.executable)')" > "$env_dir/bin/python"
  chmod +x "$env_dir/bin/python"
  for f in "$repo"/asrkit/cli/[a-z]*.py ""; do
    mod=$(basename "${f:-x}" .py); name=asrkit-${mod//_/-}; import=asrkit.cli.$mod
    [ -n "$f" ] || { name=asrkit; import=asrkit.cli; }
    printf '#!/bin/sh\nexec "%s" -c "import sys; from %s import main; sys.argv[0] = \\"%s\\"; sys.exit(main())" "$@"\n' \
      "$env_dir/bin/python" "$import" "$name" > "$env_dir/bin/$name"
    chmod +x "$env_dir/bin/$name"
  done
  export ASRKIT_VENV=$env_dir
fi
python3 -c 'import torch, torchaudio, kaldiio, soundfile, sentencepiece; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' \
  || "$ASRKIT_VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'
py=$ASRKIT_VENV/bin/python

# ---- AN4 as WAV (the recipe reads a WAV copy)
if [ -z "${AN4:-}" ]; then
  AN4=/tmp/an4
  step restore_an4 60 "$py" - "${AN4_FLAC:-$repo/.devdata/an4}" "$AN4" <<'EOF'
import shutil, sys
from pathlib import Path
import soundfile as sf
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
shutil.copytree(src / "etc", dst / "etc", dirs_exist_ok=True)
n = 0
for f in sorted((src / "wav").rglob("*.flac")):
    out = dst / "wav" / f.relative_to(src / "wav").with_suffix(".wav")
    out.parent.mkdir(parents=True, exist_ok=True)
    x, sr = sf.read(f, dtype="int16")
    sf.write(out, x, sr, subtype="PCM_16")
    n += 1
print(f"{n} FLAC files restored to WAV under {dst}")
EOF
fi
AN4=$(cd "$AN4" && pwd)

cd "$repo/egs/an4/asr1" || exit 1
tag=gpu_4x320
[ "$ngpu" -gt 0 ] || tag=rehearsal_4x320
common=(--an4-root "$AN4" --max-utts "$max_utts" --speed-perturb-method audio --train-config conf/train.yaml)

# ---- #10 item 8: the recipe, stages 0-2 (data, speed perturbation, fbank, BPE), 4 (training), 5-6
step prep 150 ./run.sh "${common[@]}" --nj "$nj" --stop-stage 2
smi_start "$work/smi_train.csv"
step train $(( train_max_time + 90 )) ./run.sh "${common[@]}" --stage 4 --stop-stage 4 --ngpu "$ngpu" --tag "$tag" \
  --train-max-time "$train_max_time" --train-args "--set training.keep_best=1000"
smi_stop
grep -E "epoch [0-9]+:|time budget|early stopping" "exp/$tag/log/train.log" | sed 's/^.*(train[^)]*) //' | tail -n 80
smi_summary "$work/smi_train.csv"
step decode 90 ./run.sh "${common[@]}" --nj 1 --stage 5 --stop-stage 6 --ngpu "$ngpu" --decode-ngpu "$ngpu" --tag "$tag"
grep -h "^%WER\|^%CER" "exp/$tag"/decode_*/wer.txt 2> /dev/null
tail -n 4 RESULTS.md

model=exp/$tag/model.pt
[ -f "exp/$tag/.done" ] && [ -f "exp/$tag/model.avg.pt" ] && model=exp/$tag/model.avg.pt
device=cuda
[ "$ngpu" -gt 0 ] || device=cpu
limit_opts=()
[ "$max_utts" -eq 0 ] || limit_opts=(--limit "$max_utts")

# ---- #9: RTF in-process, beam 10 + CTC 0.3, on the GPU; #10: time to 6 % WER
step rtf_gpu 60 "$py" "$repo/bench/decode_speed.py" --model "$model" --an4 "$AN4" --device "$device" \
  --batch-sizes 130,32 --hyps-out "$work/hyps_$device.txt" "${limit_opts[@]}"
step time_to_wer 75 "$py" "$repo/bench/time_to_wer.py" --exp "exp/$tag" --feats scp:dump/test/feats.scp \
  --text data/test/text --device "$device" --first 3 --every 3 --stop-at-target --max-seconds 50

# ---- #12 item 6: raw audio, fbank and speed perturbation in the loader workers
smi_start "$work/smi_raw.csv"
step raw 120 ./run.sh --an4-root "$AN4" --max-utts "$max_utts" --nj "$nj" --stage 1 --stop-stage 4 --feats-type raw \
  --dumpdir dump_raw --train-config conf/train.yaml --ngpu "$ngpu" --tag "${tag}_raw" --train-max-time 45 \
  --train-args "--set batching.num_workers=$raw_workers"
smi_stop
grep -E "epoch [0-9]+:|time budget" "exp/${tag}_raw/log/train.log" 2> /dev/null | sed 's/^.*(train[^)]*) //'
smi_summary "$work/smi_raw.csv"

# ---- the same hypotheses on the CPU (all cores), last: it can also be checked afterwards
if [ "$ngpu" -gt 0 ]; then
  step rtf_cpu 90 env OMP_NUM_THREADS="$nj" "$py" "$repo/bench/decode_speed.py" --model "$model" --an4 "$AN4" \
    --device cpu --threads "$nj" --batch-sizes 130 --hyps-out "$work/hyps_cpu.txt" "${limit_opts[@]}"
  if [ -s "$work/hyps_cpu.txt" ] && [ -s "$work/hyps_cuda.txt" ]; then
    if cmp -s "$work/hyps_cpu.txt" "$work/hyps_cuda.txt"; then
      echo "GPU and CPU hypotheses: identical ($(wc -l < "$work/hyps_cpu.txt") utterances)"
    else
      echo "GPU and CPU hypotheses differ in $(diff "$work/hyps_cpu.txt" "$work/hyps_cuda.txt" | grep -c '^<') utterances:"
      diff "$work/hyps_cpu.txt" "$work/hyps_cuda.txt" | sed -n 1,20p || true
    fi
  fi
fi

# ---- what comes back
cp RESULTS.md "$work/RESULTS.md"
tar czf "$out/logs.tgz" -C "$repo/egs/an4/asr1" --exclude='*.pt' --exclude='*.ark' --exclude='*.png' \
  RESULTS.md $(ls -d "exp/$tag" "exp/${tag}_raw" 2> /dev/null) -C "$(dirname "$work")" "$(basename "$work")"
if [ -f "$model" ]; then
  split -b 15M -d "$model" "$out/model.pt.part"
  sha256sum "$model" | awk '{ print $1 }' > "$out/model.pt.sha256"
fi
echo "gpu_checks.sh: done at $(date -u +%T), $SECONDS s"

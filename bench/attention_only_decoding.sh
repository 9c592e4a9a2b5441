#!/usr/bin/env bash
# Attention-only decoding against joint CTC decoding on one dev set, with and without the guards
# against stopping early (eos_threshold) and looping (max_backtrack): docs/decoding.md,
# "Attention-only decoding". Prints one row per decoding: name, WER, CER (asrkit-score).
#
#   e.g.: OMP_NUM_THREADS=1 bench/attention_only_decoding.sh exp/las/model.avg.pt dump/train_dev /tmp/att
# Arguments: a packed model, a dump dir with feats.scp and text, a scratch folder for the decodings.
set -euo pipefail
[ $# -eq 3 ] || { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 1; }
model=$1 dump=$2 out=$3
bin=$(cd "$(dirname "$0")/.." && pwd)/tools/venv/bin
off="--eos-threshold 0 --max-backtrack 0"
rows=(
  "joint_beam10|--mode beam --beam 10 --ctc-weight 0.3 $off"
  "joint_beam10_guards|--mode beam --beam 10 --ctc-weight 0.3"
  "att_greedy|--mode greedy --ctc-weight 0 $off"
  "att_greedy_guards|--mode greedy --ctc-weight 0"
  "att_beam10|--mode beam --beam 10 --ctc-weight 0 $off"
  "att_beam10_guards|--mode beam --beam 10 --ctc-weight 0"
)
mkdir -p "$out"
for row in "${rows[@]}"; do
  name=${row%%|*} opts=${row#*|}
  # shellcheck disable=SC2086  # opts are words
  "$bin/asrkit-decode" --model "$model" --feats "scp:$dump/feats.scp" --output-dir "$out/$name" $opts 2> "$out/$name.log" \
    || { echo "$name: asrkit-decode failed, see $out/$name.log" >&2; exit 1; }
  score=$("$bin/asrkit-score" "$dump/text" "$out/$name/text" 2>/dev/null | grep -E '^%(WER|CER)' | awk '{print $2}' | tr '\n' ' ')
  echo "$name $score ($opts)"
done

#!/usr/bin/env bash
# yesno: asrkit's quick start. Kaldi's waves_yesno (60 recordings of one speaker
# saying eight "yes"/"no" words each, 8 kHz, CC BY 4.0) is shipped in corpus/, so
# this runs offline:
#   stage 0: local/data.sh -> data/{train_nodev,train_dev,test} (30 train, 30
#            test: alternate sorted files, not Kaldi's halves)
#   stages 1-6: ../../TEMPLATE/asr1/asr.sh (features, char tokenizer, LAS
#               training, decoding, scoring)
# Result: exp/<tag>/decode_test_decode/wer.txt and a row in RESULTS.md.
#
#   e.g. ./run.sh                      # everything, ~3 minutes on 2 CPU cores
#        ./run.sh --stage 4 --stop-stage 6 --tag again
#        ./run.sh --yesno-root /data/yesno   # a folder holding waves_yesno/
# Options of this script: --yesno-root, --stage, --stop-stage, --print-config
# (true: print the options a run would run with, resolved, as a --config file,
# and run nothing); every other option goes to asr.sh (./asr.sh --help lists
# them, with asr.sh's own defaults).
# This script gives asr.sh
#   --train-set train_nodev --valid-set train_dev --test-sets test --nj 2
#   --token-type char --fbank-config conf/fbank.yaml
#   --train-config conf/train.yaml --decode-config conf/decode.yaml
# and the same option given here replaces one.
[ -n "${BASH_VERSION:-}" ] || { echo "$0: run me with bash (./run.sh, or bash run.sh), not sh" >&2; exit 1; }  # sh (dash) said "set: Illegal option -o pipefail"
set -euo pipefail
# ---- configuration section (every name is an option) ----
yesno_root=corpus   # folder holding waves_yesno/ (default: the copy shipped with this recipe)
stage=0             # 0: data prep; 1-6: asr.sh's stages
stop_stage=100
# true: print the options a run would run with, resolved (run.sh's, then asr.sh's as run.sh gives
# them: name=value lines, a --config file), and run nothing
print_config=false
parse_options_passthrough=true
# ---- end of configuration section ----
# Every path below (data/, conf/, local/, ./asr.sh) is the recipe directory's: bash's own
# "./path.sh: No such file or directory" was all that said so when started from elsewhere.
if [ ! -f ./path.sh ]; then
  _dir=$(dirname "$0") _me=$(basename "$0")
  # Started through a link elsewhere (~/bin/yesno.sh): the recipe directory is the target's ("cd ." led nowhere).
  if [ ! -f "$_dir/path.sh" ]; then _me=$(readlink -f -- "$0"); _dir=$(dirname "$_me") _me=$(basename "$_me"); fi
  echo "$0: run me from my recipe directory: cd $_dir && ./$_me (no ./path.sh in $(pwd))" >&2
  exit 1
fi
. ./path.sh
. utils/stage0_options.sh
# Stage 0's options this run gives (checked against data/stage0_options from --stage 1 on).
given0=$(stage0_given "yesno-root" "$@")
. utils/parse_options.sh
. utils/config_lines.sh
. utils/data_lock.sh
# local/data.sh's own settings (--num-dev, which README.md names) are not run.sh's: they reached
# asr.sh, whose "unknown option --num-dev (see ./asr.sh --help)" pointed at the wrong script.
data_settings=$(sed -n '/parse_options\.sh/q; s/^\([a-z][a-z0-9_]*\)=.*/\1/p' local/data.sh)
for arg in "${passthrough_args[@]}" "$@"; do
  case $arg in --*) name=${arg#--}; name=${name%%=*}; name=${name//-/_} ;; *) continue ;; esac
  if grep -qxF -e "$name" <<< "$data_settings"; then
    echo "$0: ERROR: --${name//_/-} is a setting of stage 0's local/data.sh, not of run.sh: run local/data.sh --${name//_/-} <value> (with --yesno-root if you give one), then ./run.sh --stage 1" >&2
    exit 1
  fi
done
[ "$stage" -le "$stop_stage" ] || { echo "$0: ERROR: --stage $stage is after --stop-stage $stop_stage: nothing to run" >&2; exit 1; }

asr_args=(--train-set train_nodev --valid-set train_dev --test-sets test
  --nj 2 --token-type char
  --fbank-config conf/fbank.yaml --train-config conf/train.yaml --decode-config conf/decode.yaml
  "${passthrough_args[@]}" "$@")
[ "$print_config" != true ] || { config_print_run "${asr_args[@]}"; exit 0; }
# (asr.sh prints a key of the options it checked: the call for the stages, given it, skips the
# checks that passed, unless an option or a file they name changed meanwhile)
checked_key=$(ASR_SH_OPTIONS_CHECKED= ./asr.sh --stage 1 --stop-stage 0 "${asr_args[@]}")   # checks the options before stage 0 starts

# (an empty one was realpath's "'': No such file or directory", naming no option)
[ -n "$yesno_root" ] || { echo "$0: ERROR: --yesno-root is empty: give the folder holding waves_yesno/ (default: corpus, the copy shipped here)" >&2; exit 1; }
# What stage 0 makes data/ with: recorded by it, checked against from --stage 1 on.
stage0_now=("yesno-root=$(realpath -m -- "$yesno_root")")
if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  echo "$(date '+%Y-%m-%d %H:%M:%S') (run.sh) stage 0: data prep from $yesno_root" >&2
  take_data_lock "stage 0"   # one run at a time writes data/ (utils/data_lock.sh)
  rm -f data/stage0_options   # a stage 0 that fails part-way leaves data/ unrecorded
  # ... and marked until it ends: one that failed before it changed data/ (a --yesno-root with no
  # waves_yesno/) left the last run's data/ unrecorded, and --stage 1 with that --yesno-root
  # took it without a word
  stage0_mark_unfinished
  local/data.sh --yesno-root "$yesno_root"
  stage0_record "${stage0_now[@]}"
  rm -f data/stage0_unfinished
  release_data_lock
elif stage0_refuse_unfinished; then   # (options given in a --config file are checked too)
  # From --stage 1 on it changes nothing (data/ is not made again): said, not ignored.
  stage0_check "$given0" "${stage0_now[@]}"
fi
[ "$stop_stage" -ge 1 ] || exit 0
ASR_SH_OPTIONS_CHECKED=$checked_key ./asr.sh --stage "$(( stage < 1 ? 1 : stage ))" --stop-stage "$stop_stage" "${asr_args[@]}"

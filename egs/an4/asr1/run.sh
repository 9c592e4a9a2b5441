#!/usr/bin/env bash
# AN4 (CMU census database: spelled letters, digits, commands; 948 train + 130
# test utterances, 16 kHz, 0.8 h) with ESPnet's split, LAS with joint CTC and
# SpecAugment, no language model.
#   stage 0: local/data.sh -> data/{train_nodev,train_dev,test} (--an4-root, or
#            download)
#   stages 1-6: ../../TEMPLATE/asr1/asr.sh
# Result: exp/<tag>/decode_test_decode/wer.txt and a row in RESULTS.md.
#
# The defaults are the measured configuration of RESULTS.md: 3-way speed
# perturbation (FLAC copies written in-process, no sox needed;
# --speed-perturb-method sox makes Kaldi's sox pipes instead) and
# conf/train_cpu_sp_const.yaml (test WER 6.86 %, ~63 min of training on one CPU
# core).
#   e.g. ./run.sh --an4-root /work/shared/corpora/an4          # CPU
#        ./run.sh --an4-root /work/shared/corpora/an4 --ngpu 1 # training on a GPU
#        ./run.sh --an4-root ... --speed-perturb-factors ""  # no speed perturbing
#        ./run.sh --an4-root ... --ngpu 1 \
#          --train-config conf/train.yaml        # the larger 4x320 model
#        ./run.sh                                # downloads AN4 from CMU first
# Options of this script: --an4-root, --stage, --stop-stage, --max-utts,
# --num-dev, --print-config (true: print the options a run would run with,
# resolved, as a --config file, and run nothing); every other option goes to
# asr.sh (./asr.sh --help lists them).
[ -n "${BASH_VERSION:-}" ] || { echo "$0: run me with bash (./run.sh, or bash run.sh), not sh" >&2; exit 1; }  # sh (dash) said "set: Illegal option -o pipefail"
set -euo pipefail
# ---- configuration section (every name is an option) ----
an4_root=           # a copy of AN4 (16 kHz WAV + etc/*.transcription); empty: download CMU's tarball
max_utts=0          # stage 0: keep the first N utterances of train and test (a quick slice; 0: all)
num_dev=            # stage 0: training utterances held out as train_dev (empty: ESPnet's 100; --max-utts N: N/4)
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
given0=$(stage0_given "an4-root max-utts num-dev" "$@")
. utils/parse_options.sh
. utils/config_lines.sh
. utils/data_lock.sh
[ "$stage" -le "$stop_stage" ] || { echo "$0: ERROR: --stage $stage is after --stop-stage $stop_stage: nothing to run" >&2; exit 1; }

# A negative --max-utts took all the utterances with a held-out count of N/4 < 0, and the error
# named --num-dev, an option not given; under 4, the N/4 of 0 did too.
[ "$max_utts" -ge 0 ] || { echo "$0: ERROR: --max-utts must be 0 (all utterances) or more, got $max_utts" >&2; exit 1; }
# --num-dev likewise, whose empty default (worked out below) parse_options.sh cannot take for an
# integer's: abc, 0 or -1 failed only in stage 0's local/data.sh, after data/ had been marked
# unfinished, and the next --stage 1 asked for stage 0 again. (Read in decimal, as the integer
# options are: 09 is 9.)
if [ -n "$num_dev" ]; then
  [[ $num_dev =~ ^[0-9]{1,18}$ ]] && [ "$(( 10#$num_dev ))" -ge 1 ] \
    || { echo "$0: ERROR: --num-dev takes an integer of 1 or more (the training utterances held out as train_dev), got '$num_dev'" >&2; exit 1; }
  num_dev=$(( 10#$num_dev ))
fi
if [ -z "$num_dev" ]; then
  # (--print-config true prints it as worked out, a comment line: read back as given, a printed file
  # with another --max-utts over it kept the held-out count of the other)
  config_worked_out num_dev --max-utts
  num_dev=100
  [ "$max_utts" -eq 0 ] || num_dev=$(( max_utts / 4 > 0 ? max_utts / 4 : 1 ))
fi
asr_args=(--train-set train_nodev --valid-set train_dev --test-sets "train_dev test"
  --nj 4 --token-type bpe --nbpe 30 --num-avg 5 --avg-on-budget true
  --fbank-config conf/fbank.yaml --train-config conf/train_cpu_sp_const.yaml --decode-config conf/decode.yaml
  --speed-perturb-factors "0.9 1.0 1.1" --speed-perturb-method audio
  "${passthrough_args[@]}" "$@")
[ "$print_config" != true ] || { config_print_run "${asr_args[@]}"; exit 0; }
# (asr.sh prints a key of the options it checked: the call for the stages, given it, skips the
# checks that passed, unless an option or a file they name changed meanwhile)
checked_key=$(ASR_SH_OPTIONS_CHECKED= ./asr.sh --stage 1 --stop-stage 0 "${asr_args[@]}")   # checks the options before stage 0 starts

# What stage 0 makes data/ with: recorded by it, checked against from --stage 1 on.
stage0_now=("an4-root=${an4_root:+$(realpath -m -- "$an4_root")}" "max-utts=$max_utts" "num-dev=$num_dev")
if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  echo "$(date '+%Y-%m-%d %H:%M:%S') (run.sh) stage 0: data prep" >&2
  take_data_lock "stage 0"   # one run at a time writes data/ (utils/data_lock.sh)
  rm -f data/stage0_options   # a stage 0 that fails part-way leaves data/ unrecorded
  # ... and marked until it ends: one that failed before it changed data/ (a bad --num-dev, a
  # download that failed) left the last run's data/ unrecorded, and --stage 1 with another
  # corpus root took it without a word
  stage0_mark_unfinished
  local/data.sh --an4-root "$an4_root" --max-utts "$max_utts" --num-dev "$num_dev"
  stage0_record "${stage0_now[@]}"
  rm -f data/stage0_unfinished
  release_data_lock
elif stage0_refuse_unfinished; then   # (options given in a --config file are checked too)
  # From --stage 1 on these change nothing (data/ is not made again): --max-utts 40 on a
  # 20-utterance data/ ran on the 20 with exit 0, reported as the run of the 40.
  stage0_check "$given0" "${stage0_now[@]}"
fi
[ "$stop_stage" -ge 1 ] || exit 0
ASR_SH_OPTIONS_CHECKED=$checked_key ./asr.sh --stage "$(( stage < 1 ? 1 : stage ))" --stop-stage "$stop_stage" "${asr_args[@]}"

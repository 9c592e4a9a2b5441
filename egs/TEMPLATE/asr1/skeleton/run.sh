#!/usr/bin/env bash
# @CORPUS@: <one line: language, speakers, hours, sample rate, licence>. Made by
# egs/TEMPLATE/asr1/setup.sh: check local/data.sh's settings against the corpus
# and fill in README.md.
#   stage 0: local/data.sh -> data/{train,dev,test} (--corpus-root: where the
#            corpus is; read in place)
#   stages 1-6: ../../TEMPLATE/asr1/asr.sh (fbank, char tokenizer, LAS training,
#               decoding, scoring)
# Result: exp/<tag>/decode_test_decode/wer.txt and a row in RESULTS.md.
#
#   e.g. ./run.sh --corpus-root /data/@CORPUS@            # everything, on the CPU
#        ./run.sh --corpus-root /data/@CORPUS@ \
#          --train-max-time 1800                    # at most 30 min of training
#        ./run.sh --stage 4 --train-max-time 3600   # continue it to 1 h
#        ./run.sh --stage 1 --ngpu 1 \
#          --train-config conf/train_gpu.yaml       # train on a GPU
# Options of this script: --corpus-root, --stage, --stop-stage, --print-config
# (true: print the options a run would run with, resolved, as a --config file,
# and run nothing); every other option goes to asr.sh (./asr.sh --help lists
# them, with asr.sh's own defaults).
# This script gives asr.sh
#   --train-set train --valid-set dev --test-sets "dev test" --nj 4
#   --token-type char --num-avg 5 --fbank-config conf/fbank.yaml
#   --train-config conf/train.yaml --decode-config conf/decode.yaml
# (--test-sets dev when stage 0 made no test set); the same option given here
# replaces one. local/data.sh's own settings (transcript layout, speakers,
# held-out fractions) are at its top: edit them there, or run
# local/data.sh --help.
[ -n "${BASH_VERSION:-}" ] || { echo "$0: run me with bash (./run.sh, or bash run.sh), not sh" >&2; exit 1; }  # sh (dash) said "set: Illegal option -o pipefail"
set -euo pipefail
# ---- configuration section (every name is an option) ----
corpus_root=        # the corpus folder for stage 0 (local/data.sh --corpus-root)
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
given0=$(stage0_given "corpus-root" "$@")   # checked against data/stage0_options from --stage 1 on
. utils/parse_options.sh
. utils/config_lines.sh
. utils/data_lock.sh
# local/data.sh's settings (--audio-ext, --transcripts, ...) are not run.sh's: asr.sh's "unknown
# option --audio-ext" left the user who followed asrkit-make-data-dir's own hint wondering.
for arg in "${passthrough_args[@]}" "$@"; do
  case $arg in --*) name=${arg#--}; name=${name%%=*}; name=${name//-/_} ;; *) continue ;; esac
  if grep -q "^${name}=" local/data.sh && ! grep -q "^${name}=" asr.sh; then
    echo "$0: ERROR: --${name//_/-} is a setting of stage 0's local/data.sh, not of run.sh: set ${name}= at the top of local/data.sh (then ./run.sh as before), or run local/data.sh --corpus-root <dir> --${name//_/-} <value> and then ./run.sh --stage 1" >&2
    exit 1
  fi
done
[ "$stage" -le "$stop_stage" ] || { echo "$0: ERROR: --stage $stage is after --stop-stage $stop_stage: nothing to run" >&2; exit 1; }

# The template's defaults: char tokens (a new corpus's vocabulary is open; BPE learned on a few
# hundred sentences splits words badly), the 5 best epochs averaged, dev and test both scored
# (dev alone when stage 0 made no test set: test_fraction=0 in local/data.sh).
default_test_sets="dev test"
set_asr_args() {
  asr_args=(--train-set train --valid-set dev --test-sets "$default_test_sets"
    --nj 4 --token-type char --num-avg 5
    --fbank-config conf/fbank.yaml --train-config conf/train.yaml --decode-config conf/decode.yaml
    "${passthrough_args[@]}" "$@")
}
set_asr_args "$@"
[ "$print_config" != true ] || { config_print_run "${asr_args[@]}"; exit 0; }
# (asr.sh prints a key of the options it checked: the call for the stages, given it, skips the
# checks that passed, unless an option or a file they name changed meanwhile)
checked_key=$(ASR_SH_OPTIONS_CHECKED= ./asr.sh --stage 1 --stop-stage 0 "${asr_args[@]}")   # checks the options before stage 0 starts

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  [ -n "$corpus_root" ] || { echo "$0: ERROR: stage 0 needs --corpus-root <the corpus folder>" >&2; exit 1; }
  echo "$(date '+%Y-%m-%d %H:%M:%S') (run.sh) stage 0: data prep from $corpus_root" >&2
  take_data_lock "stage 0"   # one run at a time writes data/ (utils/data_lock.sh)
  local/data.sh --corpus-root "$corpus_root"
  release_data_lock
elif [ "$stop_stage" -ge 1 ]; then
  # From --stage 1 on, --corpus-root changes nothing (data/ is not made again): another one went
  # on with exit 0 on the old corpus's data under the new command line.
  take_data_lock "stage $stage"   # a stage 0 another run has under way ends first (its marker with it)
  stage0_refuse_unfinished
  release_data_lock
  # (left out, as from --stage 1 on it usually is: realpath's "'': No such file or directory" on every such run)
  stage0_check "$given0" "corpus-root=${corpus_root:+$(realpath -m -- "$corpus_root")}"
fi
[ "$stop_stage" -ge 1 ] || exit 0
# A finished stage 0 that made no test set (test_fraction=0): the default "dev test" stopped
# stage 1 with "no data/test ...: run stage 0 first", just after stage 0 had run. (A --test-sets
# given on the command line is taken as it is.)
if [ -f data/stage0_options ] && [ -d data/dev ] && [ ! -e data/test ] \
    && [ -z "$(stage0_given test-sets "${passthrough_args[@]}" "$@")" ]; then
  default_test_sets=dev
  set_asr_args "$@"
  echo "$0: stage 0 made no test set (test_fraction=0 in local/data.sh): dev is decoded and scored" >&2
fi
ASR_SH_OPTIONS_CHECKED=$checked_key ./asr.sh --stage "$(( stage < 1 ? 1 : stage ))" --stop-stage "$stop_stage" "${asr_args[@]}"

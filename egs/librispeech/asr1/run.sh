#!/usr/bin/env bash
# LibriSpeech (OpenSLR 12; 960 h of read English, 16 kHz FLAC) with a LAS after
# Park et al. 2019 (SpecAugment paper: LAS with SpecAugment, 2.8 / 6.8 % WER on
# test-clean / test-other without an LM), BPE 5000, or a smaller LAS on
# train-clean-100 (--hours 100).
#   stage -1: local/download.sh (resumable, md5-checked; ~60 GB for 960 h, ~7 GB
#             for 100 h; none with --librispeech-root)
#   stage 0:  local/data.sh -> data/<set> for the sets train_960 (or
#             train_clean_100), dev, dev_clean, dev_other, test_clean, test_other
#   stages 1-6: ../../TEMPLATE/asr1/asr.sh
# This recipe needs GPUs for training (days for 960 h); it has not been run to the
# end by asrkit's developers (see README.md).
#
#   e.g. ./run.sh --download-dir /data/librispeech --hours 100 --ngpu 1
#        ./run.sh --librispeech-root /corpora/LibriSpeech --stage 0 --ngpu 4
#        ./run.sh --stage 4 --num-nodes 2 --ngpu 4  # 2 nodes x 4 GPUs (Slurm)
# Options of this script: --librispeech-root, --download-dir, --hours, --stage,
# --stop-stage, --print-config (true: print the options a run would run with,
# resolved, as a --config file, and run nothing); every other option goes to
# asr.sh (./asr.sh --help lists them).
[ -n "${BASH_VERSION:-}" ] || { echo "$0: run me with bash (./run.sh, or bash run.sh), not sh" >&2; exit 1; }  # sh (dash) said "set: Illegal option -o pipefail"
set -euo pipefail
# ---- configuration section (every name is an option) ----
librispeech_root=        # an unpacked LibriSpeech/ (parts as subfolders); empty: <download-dir>/LibriSpeech
download_dir=downloads   # stage -1 downloads here
hours=960                # 960 or 100 (train-clean-100 alone, with conf/train_100h.yaml)
stage=-1                 # -1: download; 0: data prep; 1-6: asr.sh's stages
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
given0=$(stage0_given "librispeech-root download-dir" "$@")
. utils/parse_options.sh
. utils/config_lines.sh
. utils/data_lock.sh
[ "$stage" -le "$stop_stage" ] || { echo "$0: ERROR: --stage $stage is after --stop-stage $stop_stage: nothing to run" >&2; exit 1; }

case $hours in
  960) train_set=train_960; train_config=conf/train.yaml ;;
  100) train_set=train_clean_100; train_config=conf/train_100h.yaml ;;
  *) echo "$0: --hours must be 960 or 100" >&2; exit 1 ;;
esac
# (an empty one was the folder '' for stage -1, mkdir's "cannot create directory ''", and
# /LibriSpeech for stage 0, named as --librispeech-root, an option not given)
[ -n "$download_dir" ] || { echo "$0: ERROR: --download-dir is empty (the folder stage -1 downloads into; default: downloads)" >&2; exit 1; }
root_given=$librispeech_root
[ -n "$librispeech_root" ] || { librispeech_root=$download_dir/LibriSpeech; config_worked_out librispeech_root --download-dir; }
# (--print-config true prints the values worked out as comment lines, to be worked out again from
# the options read back: given, another --hours over a printed file kept the other part's set and
# config, and a root read back was taken as given, and stage -1's download skipped)
config_worked_out train_set --hours
config_worked_out train_config --hours
asr_args=(--train-set "$train_set" --valid-set dev --test-sets "test_clean test_other dev_clean dev_other"
  --nj 16 --token-type bpe --nbpe 5000 --num-avg 10
  --fbank-config conf/fbank.yaml --train-config "$train_config" --decode-config conf/decode.yaml
  "${passthrough_args[@]}" "$@")
[ "$print_config" != true ] || { config_print_run "${asr_args[@]}"; exit 0; }
# (asr.sh prints a key of the options it checked: the call for the stages, given it, skips the
# checks that passed, unless an option or a file they name changed meanwhile)
checked_key=$(ASR_SH_OPTIONS_CHECKED= ./asr.sh --stage 1 --stop-stage 0 "${asr_args[@]}")   # checks the options before the long stages

# An unpacked copy given with --librispeech-root is what stage 0 reads: stage -1 (the default
# first stage) downloaded the parts into downloads/ all the same (~60 GB, or a network error on a
# machine without one, before a copy that was there all along was read).
if [ "$stage" -le -1 ] && [ "$stop_stage" -ge -1 ] && [ -n "$root_given" ]; then
  echo "$(date '+%Y-%m-%d %H:%M:%S') (run.sh) stage -1: --librispeech-root $librispeech_root given: nothing to download" >&2
elif [ "$stage" -le -1 ] && [ "$stop_stage" -ge -1 ]; then
  parts="dev-clean dev-other test-clean test-other train-clean-100"
  [ "$hours" = 100 ] || parts="$parts train-clean-360 train-other-500"
  local/download.sh --parts "$parts" "$download_dir"
fi
# What stage 0 makes data/ with: recorded by it, checked against from --stage 1 on (another
# --librispeech-root there changed nothing: the stages ran on the data/ of the last stage 0).
stage0_now=("librispeech-root=$(realpath -m -- "$librispeech_root")" "download-dir=$(realpath -m -- "$download_dir")")
if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  take_data_lock "stage 0"   # one run at a time writes data/ (utils/data_lock.sh)
  rm -f data/stage0_options   # a stage 0 that fails part-way leaves data/ unrecorded
  # ... and marked until it ends: its sets are then part new, part the last run's (data/dev_clean
  # from the new copy beside data/train_960 from the old), which a run from --stage 1 took.
  stage0_mark_unfinished
  local/data.sh --librispeech-root "$librispeech_root" --hours "$hours"
  stage0_record "${stage0_now[@]}"
  rm -f data/stage0_unfinished
  release_data_lock
elif [ "$stage" -ge 1 ]; then
  stage0_refuse_unfinished
  stage0_check "$given0" "${stage0_now[@]}"   # (and the options of a --config file: stage0_options.sh)
fi
[ "$stop_stage" -ge 1 ] || exit 0
ASR_SH_OPTIONS_CHECKED=$checked_key ./asr.sh --stage "$(( stage < 1 ? 1 : stage ))" --stop-stage "$stop_stage" "${asr_args[@]}"

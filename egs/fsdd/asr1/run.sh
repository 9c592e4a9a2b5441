#!/usr/bin/env bash
# FSDD connected digits: utterances of 1-7 digits made from the Free Spoken Digit
# Dataset (8 kHz, 4 training speakers, test speaker theo never seen in training),
# char LAS + CTC; AN4's digit-string utterances (84 more voices, read at 8 kHz)
# and speed-perturbed FSDD audio are added to training by default, and the
# listener starts from a model pretrained on all of AN4 (--init-listener an4).
# local/loso.sh evaluates it leaving each FSDD speaker out.
#   stage 0: local/data.sh -> data/{train,dev,test} (deterministic for a given
#            --seed)
#   stages 1-6: ../../TEMPLATE/asr1/asr.sh
# Result: exp/<tag>/decode_test_decode_adapt/wer.txt (the speaker-adapted second
# pass; the first pass in decode_test_decode) and a row in RESULTS.md; the same
# for test_takes, the test speakers' takes as FSDD holds them (one digit per file,
# no quiet around it: a user's one-word recording).
#
#   e.g. ./run.sh --fsdd-root /work/shared/corpora/fsdd
#        ./run.sh --fsdd-root /work/shared/corpora/fsdd --num-train 3000 --ngpu 1
# Options of this script: --fsdd-root, --seed, --test-speakers, --dev-takes,
# --num-train, --num-dev, --num-test, --background-prob, --background-where,
# --long-edge-prob, --tight-edge-prob, --single-take-prob, --stage, --stop-stage,
# --an4-words, --an4-digit-words, --an4-aligner, --an4-root, --an4-resample,
# --init-listener, --pretrain-max-utts, --train-config, --train-args,
# --adapt-speakers, --nj, --print-config; every other option goes to asr.sh
# (./asr.sh --help lists them). --print-config true prints the options a run
# would run with, resolved, as name=value lines (a --config file), and runs
# nothing. A quick trial: --pretrain-max-utts 200 pretrains on AN4's first 200
# utterances, not all of them, in pretrain_an4_first200/ (all: pretrain_an4/).
[ -n "${BASH_VERSION:-}" ] || { echo "$0: run me with bash (./run.sh, or bash run.sh), not sh" >&2; exit 1; }  # sh (dash) said "set: Illegal option -o pipefail"
set -euo pipefail
# ---- configuration section (every name is an option: --num-train 3000 sets num_train) ----
fsdd_root=          # a copy of FSDD (recordings/<digit>_<speaker>_<take>.wav); required for stage 0
seed=1              # stage 0: the utterances made (and the training seed)
test_speakers=theo  # stage 0: held out of train and dev (comma-separated); local/loso.sh sets it per fold
dev_takes=5         # stage 0: the last N takes of each digit of a training speaker go to dev only
num_train=1500      # stage 0: utterances per set
num_dev=150
num_test=300
speed_factors=0.9,1.0,1.1  # stage 0: each FSDD training utterance at one of these speeds (in-process; "": none)
# stage 0, training set only (multi-condition training; local/make_connected_digits.py): the share
# of utterances with a background noise (white, pink or brown, -75 to -45 dBFS) before their first
# digit and after their last (--background-where edges; all: under the digits too), and of their
# edges drawn log-uniformly up to 10 s long. FSDD's takes hold a fraction of a second of room noise
# at most, and a model that never heard more read a second of it as digits. Chosen on held-out
# speakers' folds and their dev sets' noise presentations (RESULTS.md, "Noise around the speech").
background_prob=0.5
background_where=edges
long_edge_prob=0.2
# stage 0, training set only: the share of edges cut away, so that an utterance starts or ends
# with its take, as FSDD's takes as recorded do (within milliseconds of the word). Chosen on the
# held-out speakers' folds (RESULTS.md, "Tight edges"); 0: every edge 0.1-0.3 s of quiet or longer.
tight_edge_prob=0.25
# stage 0, training set only: the share of one-digit utterances with both edges cut, a take as
# recorded (RESULTS.md, "Tight edges")
single_take_prob=0.0
an4_words=digits    # stage 0: AN4's voices in training: none | digits (digit-string utterances) | all
# stage 0: this many more connected-digit utterances made of AN4's voices, FSDD's way: every digit
# word AN4's speakers say, cut from their utterances at the times a forced alignment gives
# (asrkit-align with --an4-aligner; local/an4_digit_words.py), joined by pauses as FSDD's digits
# are (make_connected_digits.py --all-train); 0: none
an4_digit_words=0
# The model that aligns AN4 for --an4-digit-words: "" (the default) trains one with
# conf/align_an4.yaml (local/pretrain_an4.sh --tag an4_align, made once in pretrain_an4/), or a
# model file (one made once for all of local/loso.sh's folds).
an4_aligner=
an4_root=           # stage 0: a copy of AN4 (etc/, wav/); empty: download CMU's tarball into downloads/
# How AN4's 16 kHz audio becomes 8 kHz: "sox" (a pipe per wav.scp entry) or "none" (the files as
# they are, resampled by asrkit-compute-fbank --resample in stage 1: no external program).
an4_resample=none
# Stage 4 starts the listener from another model (asrkit-train --init M --init-modules listener):
# "an4" (the default): local/pretrain_an4.sh trains one on all of AN4 first, with this run's
# --train-config and --train-args, in pretrain_an4/ (made once, resumed like any stage; other
# training options later are an error naming it: delete pretrain_an4/exp/an4_8k to pretrain
# again); a model file; or "" (none: the listener starts from random weights).
# Chosen on the leave-one-speaker-out folds: better on 4 of 5 held-out speakers (RESULTS.md).
init_listener=an4
# Every AN4 pretraining of this run (--init-listener an4's, and the aligner's for --an4-digit-words)
# on AN4's first N utterances only (local/pretrain_an4.sh --max-utts): a quick trial; 0: all of AN4.
# A trial's pretraining is a directory of its own, pretrain_an4_first<N>, beside all of AN4's.
pretrain_max_utts=0
train_config=conf/train_umn.yaml
# Stage 5 decodes the test speaker twice, the second pass through a feature transform adapted to
# their voice on the first pass's hypotheses (asr.sh --adapt-speakers; docs/decoding.md). Chosen on
# the leave-one-speaker-out folds: better on 9 of 10 held-out voices of two model sets (RESULTS.md).
adapt_speakers=true
train_args=         # asrkit-train options (asr.sh's --train-args; --init-listener adds its own)
nj=4                # jobs of asr.sh's stages 1 and 5, and of the AN4 pretrainings' features (local/pretrain_an4.sh --nj)
stage=0             # 0: data prep; 1-6: asr.sh's stages
stop_stage=100
# true: print the options this run would run with, resolved (name=value lines, a --config file:
# run.sh's own, then asr.sh's as run.sh gives them; asr.sh --print-config true), and run nothing
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
. utils/parse_options.sh
. utils/data_lock.sh
. utils/same_options.sh
. utils/stage0_options.sh
. utils/config_lines.sh
[ "$stage" -le "$stop_stage" ] || { echo "$0: ERROR: --stage $stage is after --stop-stage $stop_stage: nothing to run" >&2; exit 1; }

case $an4_words in
  none) train_set=train ;;
  digits|all) train_set=train_an4_$an4_words ;;   # data/train + data/an4_8k_$an4_words
  *) echo "$0: ERROR: --an4-words must be none, digits or all, got '$an4_words'" >&2; exit 1 ;;
esac
# The stages after 0 train on data/train, validate on data/dev and test on data/test: a count of 0
# (local/data.sh's "no such set") removed that set in stage 0, and stage 1 then stopped at
# "no data/test: run stage 0 first". (A negative count is local/make_connected_digits.py's error.)
for _set in train dev test; do
  _n=num_$_set
  [ "${!_n}" -ne 0 ] || { echo "$0: ERROR: --num-$_set 0: run.sh's stages need data/$_set: give 1 or more (local/data.sh --num-$_set 0 makes no such set)" >&2; exit 1; }
done
# (a negative count made no digit words, with exit 0, and a training set named train_cut-3)
[ "$an4_digit_words" -ge 0 ] || { echo "$0: ERROR: --an4-digit-words must be 0 (none) or more, got $an4_digit_words" >&2; exit 1; }
[ "$an4_digit_words" -eq 0 ] || train_set=${train_set}_cut$an4_digit_words
# (--print-config true prints it as worked out, a comment line: read back as given, a printed file
# with another --an4-words over it gave asr.sh the other set's name, a stale set or none)
config_worked_out train_set "--an4-words, --an4-digit-words"
# (local/pretrain_an4.sh refuses it too, but only when it runs: before stage 4, hours on)
[ "$pretrain_max_utts" -ge 0 ] || { echo "$0: ERROR: --pretrain-max-utts must be 0 (all of AN4) or more, got $pretrain_max_utts" >&2; exit 1; }
# Each N its own directory, so the pretrained model's path (in stage 4's --init, which stage 4
# records) names N: with one pretrain_an4/ for every N, a fold fine-tuned from a 200-utterance trial
# was "done already" after pretrain_an4/ was made again on all of AN4, and reported as that.
pretrain_dir=pretrain_an4
[ "$pretrain_max_utts" -eq 0 ] || pretrain_dir=pretrain_an4_first$pretrain_max_utts
# (local/an4_data.sh checks it too, but only once FSDD's audio is made, and never with --an4-words none.)
case $an4_resample in
  none|sox) ;;
  *) echo "$0: ERROR: --an4-resample must be none or sox, got '$an4_resample'" >&2; exit 1 ;;
esac
if [ -n "$an4_aligner" ]; then
  [ -f "$an4_aligner" ] || { echo "$0: ERROR: --an4-aligner $an4_aligner: no such file (a model trained on AN4, or \"\")" >&2; exit 1; }
  an4_aligner=$(cd "$(dirname "$an4_aligner")" && pwd)/$(basename "$an4_aligner")
fi
fbank_args=()
[ "$an4_resample" != none ] || fbank_args=(--fbank-args --resample)
init_model=
case $init_listener in
  "") ;;
  an4) init_model=$(pwd)/$pretrain_dir/exp/an4_8k/pretrained.pt ;;   # made before stage 4, below
  *) [ -f "$init_listener" ] || { echo "$0: ERROR: --init-listener $init_listener: no such file (a model, or an4)" >&2; exit 1; }
     init_model=$(cd "$(dirname "$init_listener")" && pwd)/$(basename "$init_listener") ;;
esac
# The model reaches asrkit-train through --train-args, which asr.sh splits at spaces: under a folder
# with a space in its name the absolute path fell apart at stage 4 ('Got unexpected extra argument').
# AN4's own is the same file relative to this directory, where asr.sh runs, and so is a model given
# by a relative path without a space (local/loso.sh's ../pretrain_an4/..., from a fold); any other
# is named through a link in exp/, named by a hash of the model's path, so that another model is
# another --init (stage 4 would otherwise find its options unchanged and skip as done).
if [[ $init_model == *[[:space:]]* ]]; then
  if [ "$init_listener" = an4 ]; then
    init_model=$pretrain_dir/exp/an4_8k/pretrained.pt
  elif [[ $init_listener != /* && $init_listener != *[[:space:]]* ]]; then
    init_model=$init_listener
  else
    link=exp/init_listener.$(printf '%s' "$init_model" | md5sum | cut -c1-12).pt
    # (not for --print-config true, which runs nothing: it made exp/ and the link)
    if [ "$print_config" != true ]; then
      mkdir -p exp && ln -sfn "$init_model" "$link"
      echo "$(date '+%Y-%m-%d %H:%M:%S') (run.sh) --init-listener $init_listener: a path with a space in it, named $link (a link to it) for --train-args, which is split at spaces" >&2
    fi
    init_model=$link
  fi
fi
if [ -n "$init_model" ] && [[ " $train_args " =~ \ --init(=|\ ) ]]; then
  echo "$0: ERROR: --train-args has --init, and --init-listener ${init_listener} gives the listener too; give one: --init-listener \"\" to start from --train-args' --init" >&2
  exit 1
fi
# What stage 0 made data/ with, recorded there (data/stage0_options) when it ends. A later run
# from --stage 1 or on whose stage-0 options differ (one given differently, or a default of this
# script changed since) would train and score on data they do not describe, and local/loso.sh,
# which re-uses a fold's data/, recorded only the options given to it: an error instead. Not
# recorded: the corpus paths (a moved copy is the same data), and the seed, which is also the
# training seed (another training seed on the same data is a normal run).
as_number() { if [[ $1 =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]]; then awk -v x="$1" 'BEGIN { printf "%g", x }'; else echo "$1"; fi; }
# (the test speakers are a set to stage 0: "theo,george" makes george,theo's data)
# (test_takes=yes: data/test_takes is made too; a data/ from before it has none for stage 1 to dump)
stage0_options="test_speakers=$(tr ',' '\n' <<< "$test_speakers" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//; /^$/d' | sort -u | paste -sd, -) dev_takes=$dev_takes num_train=$num_train num_dev=$num_dev num_test=$num_test"
stage0_options+=" speed_factors=$speed_factors background_prob=$(as_number "$background_prob") background_where=$background_where"
stage0_options+=" long_edge_prob=$(as_number "$long_edge_prob") tight_edge_prob=$(as_number "$tight_edge_prob") single_take_prob=$(as_number "$single_take_prob") an4_words=$an4_words an4_digit_words=$an4_digit_words an4_resample=$an4_resample test_takes=yes"
# The aligner that cut AN4's digit words: another one cuts them elsewhere. A model given by its
# content (a moved copy is the same aligner), the one stage 0 trains by its directory, which names
# --pretrain-max-utts (its size). With neither recorded, data/ cut by a 200-utterance trial's
# aligner went on as the data of one trained on all of AN4.
if [ "$an4_digit_words" -gt 0 ] && [ -n "$an4_aligner" ]; then
  stage0_options+=" an4_aligner=sha1:$(sha1sum < "$an4_aligner" | cut -c1-12)"
elif [ "$an4_digit_words" -gt 0 ]; then
  stage0_options+=" an4_aligner=$pretrain_dir/exp/an4_align"
fi
positional=("$@")
set_asr_args() {
  asr_args=(--train-set "$train_set" --valid-set dev --test-sets "test test_takes" --seed "$seed"
    --nj "$nj" --token-type char --num-avg 3
    --fbank-config conf/fbank.yaml "${fbank_args[@]}" --train-config "$train_config"
    --train-args "$train_args${init_model:+ --init $init_model --init-modules listener}"
    --decode-config conf/decode.yaml --adapt-speakers "$adapt_speakers" "${passthrough_args[@]}" "${positional[@]}")
}
set_asr_args
# (an option of both, --nj, --seed, --train-config..., as run.sh has it: its --train-args without
# --init-listener's model)
[ "$print_config" != true ] || { config_print_run "${asr_args[@]}"; exit 0; }
# (asr.sh prints a key of the options it checked: the call for the stages, given it, skips the
# checks that passed, unless an option or a file they name changed meanwhile)
checked_key=$(ASR_SH_OPTIONS_CHECKED= ./asr.sh --stage 1 --stop-stage 0 "${asr_args[@]}")   # checks the options before stage 0 starts

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  echo "$(date '+%Y-%m-%d %H:%M:%S') (run.sh) stage 0: connected digits from $fsdd_root" >&2
  take_data_lock "stage 0"   # one run at a time writes data/ (utils/data_lock.sh)
  rm -f data/stage0_options   # a stage 0 that fails part-way leaves data/ unrecorded, not described by the last one
  # ... and marked, until it ends: its sets are part new, part the last run's (a failure after
  # local/data.sh, in AN4's part, left the last run's data/train_an4_* over the new data/train's
  # audio), and a run from --stage 1 took them with a note that an older run.sh made them.
  stage0_mark_unfinished
  local/data.sh --fsdd-root "$fsdd_root" --seed "$seed" --test-speakers "$test_speakers" --speed-factors "$speed_factors" \
    --background-prob "$background_prob" --background-where "$background_where" --long-edge-prob "$long_edge_prob" --tight-edge-prob "$tight_edge_prob" --single-take-prob "$single_take_prob" --dev-takes "$dev_takes" --num-train "$num_train" --num-dev "$num_dev" --num-test "$num_test"
  if [ "$an4_words" != none ]; then
    local/an4_data.sh --an4-root "$an4_root" --words "$an4_words" --resample "$an4_resample" \
      "data/an4_8k_$an4_words" || { [ -n "$an4_root" ] || echo "$0: ERROR: stage 0: AN4 (for --an4-words $an4_words)" \
      "could not be downloaded (above): give --an4-root DIR (a copy of AN4), or --an4-words none --init-listener \"\"" \
      "to train on FSDD alone" >&2; exit 1; }
  fi
  extra=()
  [ "$an4_words" = none ] || extra=("data/an4_8k_$an4_words")
  if [ "$an4_digit_words" -gt 0 ]; then
    if [ -z "$an4_aligner" ]; then
      echo "$(date '+%Y-%m-%d %H:%M:%S') (run.sh) stage 0: an aligner for AN4's digit words (local/pretrain_an4.sh --tag an4_align)" >&2
      local/pretrain_an4.sh --an4-root "$an4_root" --dir "$pretrain_dir" --tag an4_align --train-config conf/align_an4.yaml \
        --seed "$seed" --max-utts "$pretrain_max_utts" --nj "$nj" \
        --instead "give run.sh --an4-aligner a model of your own (e.g. one local/pretrain_an4.sh made with --dir and --tag)"
      an4_aligner=$(pwd)/$pretrain_dir/exp/an4_align/pretrained.pt
      # (it aligns all of AN4 all the same, with none failed: a weak aligner's words are left out as
      # doubtful by local/an4_digit_words.py, counted, not lost to asrkit-align's 5 % rule)
      [ "$pretrain_max_utts" -eq 0 ] || echo "$(date '+%Y-%m-%d %H:%M:%S') (run.sh) stage 0: note: the aligner is a" \
        "trial's, trained on AN4's first $pretrain_max_utts utterances (--pretrain-max-utts): it aligns most of AN4's" \
        "digit words too doubtfully to cut them (one of 200 utterances left 1672 of 1961 out)" >&2
    fi
    local/an4_data.sh --an4-root "$an4_root" --words all --resample none data/an4_8k_all_words
    mkdir -p data/an4_digit_words
    asrkit-align --model "$an4_aligner" --max-bad-percent 5 data/an4_8k_all_words/wav.scp data/an4_8k_all_words/text \
      data/an4_digit_words/align.ctm
    rm -rf data/an4_digit_words/recordings
    local/an4_digit_words.py data/an4_8k_all_words data/an4_digit_words/align.ctm data/an4_digit_words
    local/make_connected_digits.py --all-train --seed "$seed" --speed-factors "$speed_factors" \
      --num-train "$an4_digit_words" data/an4_digit_words data/an4_digit_words data/wav_an4_digit_words
    extra+=(data/an4_digit_words/train)
  fi
  if [ "$train_set" != train ]; then
    rm -rf "data/$train_set"
    utils/combine_data.sh "data/$train_set" data/train "${extra[@]}"
  fi
  echo "$stage0_options" > data/stage0_options.tmp && mv data/stage0_options.tmp data/stage0_options
  rm -f data/stage0_unfinished
  release_data_lock
fi
[ "$stop_stage" -ge 1 ] || exit 0
stage0_refuse_unfinished
if [ -f data/stage0_options ]; then   # (the options that differ are named: utils/same_options.sh)
  stage0_checked=$stage0_options
  # A digit words' data/ recorded by a run.sh before the aligner was: its other options checked, its
  # aligner not (nothing to check against), as for a data/ with no record; refused as "made with
  # ''", every such fold of local/loso.sh stopped at its stages 1-6 after the upgrade.
  if [[ $stage0_options == *" an4_aligner="* ]] && ! grep -q " an4_aligner=" data/stage0_options; then
    stage0_checked=${stage0_options% an4_aligner=*}
    echo "$(date '+%Y-%m-%d %H:%M:%S') (run.sh) note: data/stage0_options holds no record of the aligner that cut AN4's digit words (made by an older run.sh): the aligner is not checked" >&2
  fi
  same_options data/stage0_options data/ "$stage0_checked" "run from --stage 0 to make it again, or use another directory"
elif [ -d data/train ]; then
  echo "$(date '+%Y-%m-%d %H:%M:%S') (run.sh) note: data/ holds no record of stage 0's options (made by an older run.sh): not checked against these" >&2
fi
if [ "$init_listener" = an4 ] && [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  echo "$(date '+%Y-%m-%d %H:%M:%S') (run.sh) before stage 4: the listener pretrained on AN4 (local/pretrain_an4.sh) -> $init_model" >&2
  local/pretrain_an4.sh --an4-root "$an4_root" --dir "$pretrain_dir" --train-config "$train_config" --train-args "$train_args" \
    --seed "$seed" --max-utts "$pretrain_max_utts" --nj "$nj" \
    --instead "give run.sh --init-listener \"\" (no pretraining) or a model of your own (e.g. one local/pretrain_an4.sh made with --dir and --tag)"
fi
ASR_SH_OPTIONS_CHECKED=$checked_key ./asr.sh --stage "$(( stage < 1 ? 1 : stage ))" --stop-stage "$stop_stage" "${asr_args[@]}"

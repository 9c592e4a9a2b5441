#!/usr/bin/env bash
# The generic stages every asrkit recipe shares. Run from a recipe directory
# (egs/<corpus>/asr1), after its run.sh has prepared data/<set>/ (stage 0,
# local/data.sh). Each stage is one or a few asrkit-* commands run through the job
# launcher of cmd.sh; this script only orchestrates.
#
#   1  features: fbank of every set into dump/<set>/ (--nj jobs), global CMVN on
#      the train set; with --speed-perturb-factors the train set is first copied
#      at each speed (data/<train>_sp)
#   2  tokenizer: sentencepiece (char|bpe|unigram) on the train text ->
#      data/lang_<type>/
#   3  language model on the train text (only with --use-lm true)
#   4  LAS training -> exp/<tag>/model.pt (averaged checkpoints with --num-avg N);
#      with --num-nodes N (Slurm) one task per GPU on each of N nodes, started by
#      srun; exp/<tag>/train_seconds adds up every run of the training (killed,
#      resumed); --train-max-time S stops it at an epoch boundary within S
#      seconds, and running stage 4 again with a larger S continues it
#   5  exp/<tag>/final.pt: the model decoded, with its decoding options packed in
#      (--decode-config, --decode-args, --lm-weight; written out in
#      exp/<tag>/final_decode.yaml; asrkit-pack-model; what an end user decodes
#      with: asrkit-decode --model exp/<tag>/final.pt a.wav); decoding of each
#      test set in --nj pieces, merged ->
#      exp/<tag>/decode_<set>_<name>/{text,nbest.jsonl}, <name> the decoding's
#      options (decode for conf/decode.yaml; decode_beam20 with --decode-args
#      "--beam 20"; _lm with --use-lm true, _lm0.5 with --lm-weight 0.5; _adapt
#      with --adapt-speakers true, _adapt_keep0.5 with --adapt-args "--keep 0.5")
#   6  scoring (WER, CER) ->
#      exp/<tag>/decode_<set>_<name>/{wer.txt,result.txt}; a row added to
#      RESULTS.md
#
# A stage that finished leaves a .done marker and is skipped when run again
# (delete the marker, or the output, to redo it); a failed stage stops the run and
# names its log. The marker records what the output was made from: features and
# tokenizer whose data changed since (stage 0 run again on a changed corpus or
# split) are made again, stage 4 refuses to go on with a model trained on other
# data, and stages 4-5 features whose data dir changed since stage 1 made them.
set -euo pipefail

# ---- configuration section (every name is an option: --stop-stage 4 sets stop_stage) ----
stage=1                 # first stage to run
stop_stage=100          # last stage to run
nj=4                    # parallel jobs for feature extraction and decoding
ngpu=0                  # GPUs for training (0: CPU), per node; decoding uses --decode-ngpu
num_nodes=1             # nodes for training; >1 needs cuda_cmd with --backend slurm (cmd.sh)
decode_ngpu=0           # GPUs per decoding job
seed=1                  # training seed
train_set=train         # data/<train_set>/ (CMVN, tokenizer and LM are trained on it)
valid_set=dev           # data/<valid_set>/: validation during training
speed_perturb_factors=  # e.g. "0.9 1.0 1.1": train on data/<train_set>_sp, speed copies (raw: drawn on the fly)
speed_perturb_method=sox  # sox: 'sox ... speed F |' pipes (Kaldi's); audio: FLAC copies written in-process, no sox
feats_type=fbank        # fbank: dump the training set's fbank; raw: keep its audio, fbank computed while training
test_sets="test"        # data dirs to decode and score (space-separated)
fbank_config=conf/fbank.yaml   # feature options (asrkit-compute-fbank --config)
fbank_args=             # more asrkit-compute-fbank options (asrkit-compute-fbank --help)
token_type=char         # char|bpe|unigram
nbpe=30                 # vocabulary size for bpe/unigram
train_config=conf/train.yaml   # model + training options (asrkit-train --config)
train_args=             # more asrkit-train options, e.g. "--set training.max_epochs=10"
train_max_time=         # training budget in seconds over all runs (training.max_time; empty: the config's)
decode_config=conf/decode.yaml # beam search options (asrkit-decode --config)
decode_args=            # more asrkit-decode options, e.g. "--beam 20"
num_avg=0               # average the N best checkpoints into model.avg.pt (0, or a budget-stopped training: decode model.pt)
avg_on_budget=false     # true: a budget-stopped training averages too (a constant-rate training near its end; AN4's default)
use_lm=false            # train an LM (stage 3) and fuse it in decoding
lm_config=conf/lm.yaml  # LM options (asrkit-train-lm --config)
lm_train_text=          # LM training text (Kaldi text); default data/<train_set>/text
lm_weight=0.3           # shallow fusion weight of the LM with --use-lm true (asrkit-decode --lm-weight)
adapt_speakers=false    # stage 5: a second pass adapted to each test speaker (asrkit-adapt-speakers on the first pass's text)
adapt_args=             # more asrkit-adapt-speakers options, e.g. "--keep 0.3"
tag=                    # experiment name under exp/; default: <train config name>_<tokens>, e.g. train_char
dumpdir=dump            # features
expdir=exp              # experiments
results=RESULTS.md      # stage 6 appends one row per test set here
print_config=false      # true: print these options as this run resolves them (name=value lines, a --config file), run nothing

help_message=$(sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0")"

Options (default):
$(awk '/^# ---- configuration section/ { on = 1; next } /^help_message=/ { on = 0 }
  on && /^[a-z_]+=/ { name = $0; sub(/=.*/, "", name); gsub(/_/, "-", name)
    value = $0; sub(/^[^=]*=/, "", value); sub(/ *#.*/, "", value)
    doc = $0; if (!sub(/^[^#]*# */, "", doc)) doc = ""
    n++; names[n] = name; values[n] = "(" value ")"; docs[n] = doc
    if (length(name) > wn) wn = length(name); if (length(values[n]) > wv) wv = length(values[n]) }
  # Columns as wide as the longest name and default, so no option pushes its line out of step;
  # the text wrapped within 80 columns (it ran to 145), its lines under its column.
  END { pad = sprintf("%" (4 + wn + 1 + wv + 1) "s", ""); room = 80 - length(pad)
    for (i = 1; i <= n; i++) {
      line = sprintf("  --%-" wn "s %-" wv "s ", names[i], values[i]); used = 0
      k = split(docs[i], w, " ")
      for (j = 1; j <= k; j++) {
        if (used > 0 && used + 1 + length(w[j]) > room) { print line; line = pad; used = 0 }
        if (used > 0) { line = line " "; used++ }
        line = line w[j]; used += length(w[j])
      }
      print line } }' "$0")

e.g.: ./asr.sh --stage 4 --stop-stage 6 --ngpu 1 \\
        --train-config conf/train.yaml --tag las"
# ---- end of configuration section ----

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') ($(basename "$0"):${BASH_LINENO[0]}) $*" >&2; }
die() { echo "$(basename "$0"): ERROR: $*" >&2; exit 1; }

[ -f ./path.sh ] || die "run me from a recipe directory (egs/<corpus>/asr1): no ./path.sh in $(pwd)"
. ./path.sh
. ./cmd.sh
# ESPnet's asr.sh names for these options (its recipes' run.sh lines are what users bring), and
# Kaldi's --cmd: "unknown option" alone left them to search --help.
declare -A parse_options_hints=(
  [asr_config]="ESPnet's --asr_config is --train-config here"
  [asr_args]="ESPnet's --asr_args is --train-args here"
  [asr_tag]="ESPnet's --asr_tag is --tag here"
  [asr_exp]="ESPnet's --asr_exp is --expdir/--tag here (exp/<tag>)"
  [inference_config]="ESPnet's --inference_config is --decode-config here"
  [inference_args]="ESPnet's --inference_args is --decode-args here"
  [inference_nj]="ESPnet's --inference_nj is --nj here (one --nj for features and decoding)"
  [gpu_inference]="ESPnet's --gpu_inference true is --decode-ngpu 1 here"
  [inference_asr_model]="ESPnet's --inference_asr_model is --num-avg here (N: model.avg.pt of the N best checkpoints; 0: model.pt)"
  [inference_lm]="ESPnet's --inference_lm is --use-lm true here (stage 3's LM)"
  [bpemode]="ESPnet's --bpemode is --token-type here (char, bpe or unigram)"
  [skip_data_prep]="ESPnet's --skip_* options are --stage/--stop-stage here (stages 1-6: see --help)"
  [skip_train]="ESPnet's --skip_* options are --stage/--stop-stage here (stages 1-6: see --help)"
  [skip_eval]="ESPnet's --skip_* options are --stage/--stop-stage here (stages 1-6: see --help)"
  [cmd]="the launchers are cmd.sh's train_cmd, decode_cmd and cuda_cmd here, as in Kaldi's recipes"
)
. "$ASRKIT_ROOT/bin/parse_options.sh"
# --decode-args and --adapt-args on one line: their lines, each without the blanks at its ends,
# joined by one space (an empty one left out). The commands split them on a line break as on a
# space, but the .done record and stage 6's RESULTS.md row held it: the row went over two lines
# (no table row), and --print-config true refused the value. (As a space everywhere, then: the
# directory's name, which drops blanks, and the resolved options are those of the one-line spelling.)
for _v in decode_args adapt_args; do
  [[ ${!_v} == *$'\n'* ]] || continue
  _joined=
  while IFS= read -r _l || [ -n "$_l" ]; do
    _l=${_l#"${_l%%[![:space:]]*}"}; _l=${_l%"${_l##*[![:space:]]}"}
    [ -z "$_l" ] || _joined+=${_joined:+ }$_l
  done <<< "${!_v}"
  printf -v "$_v" '%s' "$_joined"
done
unset _v _l _joined
. "$ASRKIT_ROOT/bin/config_lines.sh"
. "$ASRKIT_ROOT/bin/decode_dir_name.sh"
# (an argument left over is parse_options.sh's error, with what it was probably meant as: this
# script has stages)
# cmd.sh's launchers, before any stage: one edited to a command this machine lacks (Kaldi's
# queue.pl, a typo) let run.sh's stage 0 remake data/, then stage 1 failed with bash's
# "queue.pl: command not found" and named a log no job had written.
for _v in train_cmd cuda_cmd decode_cmd; do
  read -ra _c <<< "${!_v:-}"
  [ ${#_c[@]} -gt 0 ] || die "cmd.sh sets no $_v: give it a launcher, e.g. export $_v=\"asrkit-launch --backend local\""
  command -v -- "${_c[0]}" > /dev/null || die "cmd.sh: $_v=\"${!_v}\": no command '${_c[0]}' on this machine: asrkit's launcher is asrkit-launch --backend local or slurm (see the lines in cmd.sh)"
done
unset _v _c
# A recipe directory this user cannot write (a shared checkout) stopped stage 0 at mkdir's bare
# "cannot create directory 'data': Permission denied". What the stages make must be there (a link
# to a disk of yours, as Kaldi users make data/ and exp/) or be makeable.
# (mkdir -p makes the folders above --dumpdir/--expdir too: the nearest one there is what counts)
for _d in data "$dumpdir" "$expdir"; do
  _p=$_d; while [ ! -e "$_p" ] && [ ! -L "$_p" ]; do _p=$(dirname -- "$_p"); done
  [ "$_p" = "$_d" ] || [ ! -d "$_p" ] || [ -w "$_p" ] || die "cannot make $_d/ in $(cd "$_p" && pwd): $(id -un) cannot write there; run the recipe in a copy of asrkit you can write (git clone), or make $_d a link to a folder of yours"
  # A file in the way (a file named data, --dumpdir or --expdir naming one, or a folder under one)
  # went on to mkdir's bare "cannot create directory 'x': File exists", for --expdir at stage 4,
  # after the features.
  # A link to no folder (exp -> a scratch disk not mounted, or purged) was taken as no folder there
  # yet, and mkdir then said "File exists" likewise: named in the words of errors.md.
  if [ -L "$_p" ] && [ ! -e "$_p" ]; then
    _p="$_p: a broken symbolic link (to $(readlink -- "$_p"), which does not exist)"
    case $_d in
      data) die "$_p: the stages write data/ there; make that folder, or remove the link" ;;
      "$dumpdir") die "--dumpdir '$dumpdir': $_p: make that folder, or give --dumpdir another folder" ;;
      *) die "--expdir '$expdir': $_p: make that folder, or give --expdir another folder" ;;
    esac
  elif [ ! -d "$_p" ]; then
    case $_d in
      data) die "data is a file, not a folder: the stages write data/ there; move it away" ;;
      "$dumpdir") die "--dumpdir '$dumpdir': $_p is a file, not a folder: move it away, or give --dumpdir another folder" ;;
      *) die "--expdir '$expdir': $_p is a file, not a folder: move it away, or give --expdir another folder" ;;
    esac
  fi
done
unset _d _p
[[ $num_nodes =~ ^[1-9][0-9]*$ ]] || die "--num-nodes must be a positive integer, got '$num_nodes'"
# (parse_options.sh has made every integer option an integer; these are their ranges.)
[ "$nj" -ge 1 ] || die "--nj must be at least 1, got $nj"
[ "$ngpu" -ge 0 ] && [ "$decode_ngpu" -ge 0 ] || die "--ngpu and --decode-ngpu must be 0 (CPU) or more, got $ngpu and $decode_ngpu"
[ "$num_avg" -ge 0 ] || die "--num-avg must be 0 or more, got $num_avg"
[ "$nbpe" -ge 2 ] || die "--nbpe must be at least 2, got $nbpe"
# Checked here, not when stage 4 starts hours later: only srun starts tasks on several nodes.
if [ "$num_nodes" -gt 1 ] && [[ $cuda_cmd != *slurm* ]]; then
  die "--num-nodes $num_nodes needs cuda_cmd=\"asrkit-launch --backend slurm ...\" in cmd.sh (it is: $cuda_cmd)"
fi
# Checked before stage 1, not when stage 3 starts after the features.
# (a directory named as a config was "no such file", which sent users looking for a missing file)
config_not_a_file() {
  if [ -d "$2" ]; then die "--$1 $2: a directory, not a config file"; fi
}
if [ "$use_lm" = true ] && [ ! -f "$lm_config" ]; then
  config_not_a_file lm-config "$lm_config"
  die "--use-lm true needs the LM config $lm_config (--lm-config): no such file in $(pwd)"
fi
# A missing --lm-train-text failed at stage 3, after the features.
if [ "$use_lm" = true ] && [ -n "$lm_train_text" ] && [ ! -f "$lm_train_text" ]; then
  die "--lm-train-text $lm_train_text: no such file in $(pwd)"
fi
# Likewise the other configs: a missing --decode-config otherwise failed in stage 5, after the
# features and the whole training; a missing --train-config after the features. (Checked
# whatever the stages, as the LM config: run.sh checks the options with an empty range.)
# (quoted: a config path with a space in it, as an absolute one under "/home/me/my asr" is, was
# split into words, and the check named as missing a piece of the path)
for _opt in "fbank-config:$fbank_config" "train-config:$train_config" "decode-config:$decode_config"; do
  [ -f "${_opt#*:}" ] || { config_not_a_file "${_opt%%:*}" "${_opt#*:}"; die "--${_opt%%:*} ${_opt#*:}: no such file in $(pwd)"; }
done
# And what they hold, with the options the stages add: a misspelt key or a bad value in the
# training or decoding config (or in --train-args/--decode-args) failed only at its stage, after
# the features and, for decoding, the whole training. --print-config reads the config alone
# (no torch, a tenth of a second) and fails with the error those stages would give.
# The checks give the command the arguments its stage gives (placeholders here, before the *_args,
# whose last option would take one for its value), so that a stray word in the *_args ("--beam
# 20 0.3") is refused now, not taken for an argument at its stage.
# stop_if_interrupted <exit status>: a command stopped by Ctrl-C (status 130: asrkit's commands and
# asrkit-launch say "interrupted" and end by SIGINT, a command of the user's may exit 130) ends this
# script by SIGINT too. An exit status instead (with "stage N failed: ... -- see <log>" for a Ctrl-C)
# told the shell that started run.sh that the run had ended on its own: a loop (for c in a b; do
# ./run.sh --train-config conf/$c.yaml; done) went on to its next run, Ctrl-C stopped only the
# current one. (Where this script had the SIGINT too and the command died by it, bash ends the
# script at once, before this runs.)
stop_if_interrupted() {
  [ "$1" -eq 130 ] || return 0
  trap - INT
  kill -INT $$
  exit 130
}
# config_error [--keep <file>] <what> <command...>: the command's own one-line error, if it fails;
# with --keep, what it printed (the resolved options) goes to <file>, for a check of its values.
config_error() {
  local err out=/dev/null
  [ "$1" != --keep ] || { out=$2; shift 2; }
  # (--print-config true prints this script's options, not what the configs hold, which each
  # command's own --print-config prints: a second or more of Python starts, each time, for nothing)
  [ "$print_config" != true ] || return 0
  [ "$options_checked" != true ] || return 0   # (the same checks passed already: options_key)
  # (--print-config first: after "--train-args '--set'" it was taken as the value of --set, and
  # the error quoted an option the user never typed)
  local rc=0
  err=$("$2" --print-config "${@:3}" 2>&1 > "$out") || rc=$?
  [ "$rc" -ne 0 ] || return 0
  stop_if_interrupted "$rc"
  err=${err##*$'\n'}; err=${err#ERROR (*): }
  case $err in
    # (click's words, or asrkit-decode's for an audio file beside --feats: both named a placeholder)
    *"unexpected extra argument"* | *"give exactly one input"*)
      err="a word in it is neither an option nor an option's value (the command's own arguments are asr.sh's to give)" ;;
  esac
  die "$1: ${err#Error: }"
}
# options_key: a checksum of what the checks of the options below read: every option's value (but
# --stage's and --stop-stage's, which none reads), this script, and each file a word of the values
# names (also after an '=': --set finetune.init=x.pt) as it is now (size, modification time, inode).
# run.sh calls this script twice, with --stage 1 --stop-stage 0 to check the options before its stage
# 0 (a download, or hours of data prep), then for the stages, whose checks started the same 4-5
# Python commands (a second of CPU) again. Asked (ASR_SH_OPTIONS_CHECKED set and empty), the first
# prints its key once every check passed; the second, given it back in ASR_SH_OPTIONS_CHECKED, skips
# the commands' checks when its own key is the same. An option given otherwise, a config edited, a
# file named made, changed or removed meanwhile: another key, and every check runs again.
options_key() {
  local _n _w _names
  _names=$(config_names "$0")
  {
    for _n in $_names; do
      case $_n in stage|stop_stage) ;; *) printf '%s=%q\n' "$_n" "${!_n}" ;; esac
    done
    for _n in $_names; do
      # shellcheck disable=SC2086  # split and globbed, as the checks' *_args are
      for _w in ${!_n}; do printf '%s\0' "$_w" "${_w#*=}"; done
    done | sort -zu | { xargs -0 -r stat -L -c '%s %.9Y %i %n' -- 2> /dev/null || true; }
    stat -L -c '%s %.9Y %i %n' -- "$0"
  } | cksum | awk '{ print $1 "-" $2 }'
}
options_checked=false _options_key=
if [ -n "${ASR_SH_OPTIONS_CHECKED+x}" ] && [ "$print_config" != true ]; then
  _options_key=$(options_key)
  [ "$ASR_SH_OPTIONS_CHECKED" != "$_options_key" ] || options_checked=true
fi
unset ASR_SH_OPTIONS_CHECKED   # (this script's: not the commands')
# With the values stage 4 and 5 add too: a --train-max-time abc (or -5) failed only at stage 4,
# after the features; a --lm-weight abc only at stage 5, after the whole training.
_budget=()
[ -z "$train_max_time" ] || _budget=(--set "training.max_time=$train_max_time")
_lm_weight=()
[ "$use_lm" != true ] || _lm_weight=(--lm-weight "$lm_weight")
# Checked without --use-lm too (where it is not used; with it, asrkit-decode checks it below):
# --lm-weight abc passed silently.
[ "$use_lm" = true ] || [[ $lm_weight =~ ^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$ ]] \
  || die "--lm-weight '$lm_weight': not a number (e.g. 0.3)"
# shellcheck disable=SC2086  # the *_args are word-split, as the stages use them
config_error "--train-config${train_args:+ with --train-args '$train_args'}${train_max_time:+ and --train-max-time '$train_max_time'}" \
  asrkit-train --config "$train_config" --seed "$seed" EXP_DIR $train_args "${_budget[@]}"
# The fbank and LM options too: a misspelt key in --fbank-config failed in stage 1's jobs, one in
# --lm-config at stage 3, after the features.
# shellcheck disable=SC2086
config_error "--fbank-config${fbank_args:+ with --fbank-args '$fbank_args'}" \
  asrkit-compute-fbank --config "$fbank_config" WAV_SCP FEATS $fbank_args
if [ "$use_lm" = true ]; then
  config_error "--lm-config" asrkit-train-lm --config "$lm_config" TEXT LM_EXP_DIR
fi
# The options asr.sh gives asrkit-decode and asrkit-adapt-speakers itself, given again in --decode-args
# or --adapt-args, came after its own, and the last one counts: --decode-args '--model other.pt'
# decoded another model, which stage 6 reported as exp/<tag>'s; '--config' another config than the
# decode dir is named after; '--lm x.pt' an LM in a dir without _lm; with --use-lm true,
# '--lm-weight 0.5' decoded with 0.5 while final.pt packed --lm-weight's 0.3.
_lmw_in_args=false
for _o in "decode-args:$decode_args" "adapt-args:$adapt_args"; do
  # (not a bare $var: a "*" would glob; a line break as a space: the stages split on it, read
  # stopped there, and --decode-args $'--beam 3\n--model x' decoded x)
  _v=${_o#*:}
  read -ra _ws <<< "${_v//$'\n'/ }"
  for _w in ${_ws[@]+"${_ws[@]}"}; do
    case ${_o%%:*}:${_w%%=*} in
      *:--model) _h="the model is exp/<tag>'s, chosen by --tag and --num-avg" ;;
      *:--config) _h="give --decode-config" ;;
      *:--device) _h="give --decode-ngpu" ;;
      *:--feats|*:--wav-scp|*:--segments|*:--channel|*:--utt2spk|*:--print-config|decode-args:--utt-ids|\
      decode-args:--spk-transforms|decode-args:--output-dir)
        _h="the stage gives it for each of --test-sets" ;;
      decode-args:--lm) _h="--use-lm true decodes with stage 3's LM" ;;
      # (without --use-lm: refused below, with what the decoding resolves it to)
      decode-args:--lm-weight) [ "$use_lm" = true ] || { _lmw_in_args=true; continue; }; _h="give --lm-weight" ;;
      decode-args:--nj|decode-args:--job) _h="give --nj" ;;
      # One file for the whole set: every one of the --nj jobs wrote its own pieces' lines over it.
      decode-args:--ctm|decode-args:--segments-out)
        die "--decode-args '${_o#*:}': ${_w%%=*} writes one file, and stage 5 decodes each set in --nj jobs, which would all write it: decode the set with asrkit-decode --model $expdir/<tag>/final.pt --feats scp:$dumpdir/<set>/feats.scp ${_w%%=*} <file> (docs/decoding.md)" ;;
      # Not asrkit-adapt-speakers' options: "give --lm-weight" and "give --nj" sent the user to
      # asr.sh options that do not reach it.
      adapt-args:--lm|adapt-args:--lm-weight)
        die "--adapt-args '${_o#*:}': asrkit-adapt-speakers has no ${_w%%=*} (it uses no LM: it adapts to the first pass's text); with --use-lm true both decoding passes fuse stage 3's LM at --lm-weight" ;;
      adapt-args:--nj|adapt-args:--job)
        die "--adapt-args '${_o#*:}': asrkit-adapt-speakers has no ${_w%%=*} (one job per test set: each speaker's utterances go together); --nj splits the decoding passes around it" ;;
      *) continue ;;
    esac
    die "--${_o%%:*} '${_o#*:}': ${_w%%=*} is one of the options asr.sh gives itself: $_h"
  done
done
# The options stage 5 decodes with, as asrkit-decode resolves them: checked here, and at stage 5
# printed (--print-config) into the options packed in final.pt; one command, so the two agree.
# shellcheck disable=SC2086  # word-split, as decode_pass uses it
decode_options() { asrkit-decode "$@" --config "$decode_config" $decode_args "${_lm_weight[@]}"; }
# print_decode_options <file>: the resolved decoding options (decode_options --print-config) into
# <file>, whole or not at all. A temp file of this run's own: two stage 5 runs at once (unguarded,
# without the exp lock) shared one, and one of them failed with mv's "cannot stat". A run killed
# outright (SIGKILL: the OOM killer, a Slurm job's time limit) while it wrote its own left it for
# good, under a pid no later run uses. While this run holds the exp lock, any other is such a dead
# run's (a live one, or its --print-config still writing, holds the lock): they go. Without the
# lock, one may be a live run's on another host sharing exp/ (NFS), whose pid says nothing here:
# they are left.
print_decode_options() {
  if have_exp_lock; then rm -f -- "$1".*.tmp; fi
  decode_options --print-config > "$1.$$.tmp" \
    || { rm -f "$1.$$.tmp"; die "stage 5: asrkit-decode --print-config failed for $decode_config${decode_args:+ with --decode-args '$decode_args'}"; }
  mv -f "$1.$$.tmp" "$1"
}
_resolved=$(mktemp "${TMPDIR:-/tmp}/asr.sh.decode.XXXXXX")
trap 'rm -f -- "$_resolved"' EXIT   # (config_error dies on a bad option)
config_error --keep "$_resolved" \
  "--decode-config${decode_args:+ with --decode-args '$decode_args'}${_lm_weight[*]:+ and --lm-weight '$lm_weight'}" \
  decode_options --feats scp:FEATS
# An LM weight without --use-lm (in --decode-args, or the config's lm_weight) passed every check,
# packed final.pt, then failed in every decoding job: "lm_weight is 0.2 but no LM was given".
_w=$(sed -n 's/^lm_weight: *\([^ #]*\).*/\1/p' "$_resolved")
rm -f -- "$_resolved"
trap - EXIT
if [ "$use_lm" != true ] && [ -n "$_w" ] && awk -v w="$_w" 'BEGIN { exit !(w + 0 > 0) }'; then
  # (which one, from the words the loop above split --decode-args into: a tab between them too)
  _h="--decode-config $decode_config has lm_weight $_w"
  [ "$_lmw_in_args" != true ] || _h="--decode-args '$decode_args' gives lm_weight $_w"
  die "$_h, and --use-lm is false: there is no LM to fuse (each decoding job would fail): give --use-lm true --lm-weight $_w (stage 3 trains the LM), or decode with lm_weight 0"
fi
device_opts=()
[ "$decode_ngpu" -gt 0 ] && device_opts=(--device cuda)
if [ "$adapt_speakers" = true ]; then
  # shellcheck disable=SC2086
  config_error "--adapt-args '$adapt_args'" asrkit-adapt-speakers HYP_TEXT ark:TRANSFORMS $adapt_args
  # Its decoding options need no check of their own: stage 5 gives it <dir>/decode_options.yaml,
  # the options checked above as the decoding passes resolve them (it sets their lm_weight aside).
fi
# Speed factors are positive numbers: "abc" or "-1" otherwise failed only where they are used
# (stage 1, or with --feats-type raw in asrkit-train at stage 4, after the features).
read -ra _fs <<< "$speed_perturb_factors"   # (not a bare $var: a "*" would glob)
for _f in "${_fs[@]}"; do
  [[ $_f =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] && awk -v f="$_f" 'BEGIN { exit !(f > 0) }' \
    || die "--speed-perturb-factors '$speed_perturb_factors': '$_f' is not a positive number (e.g. \"0.9 1.0 1.1\")"
  # asrkit's range (asrkit.data.perturb, training's augment.speed_factors): 100 failed at stage 1
  awk -v f="$_f" 'BEGIN { exit !(f >= 0.5 && f <= 2) }' \
    || die "--speed-perturb-factors '$speed_perturb_factors': '$_f' is outside [0.5, 2] (Kaldi's recipes use \"0.9 1.0 1.1\")"
done
# One set each: --train-set '' trained the tokenizer on data//text (an error only then, naming
# data//text), and a name with a space was taken as two sets.
for _o in train_set valid_set; do
  [[ ${!_o} =~ ^[^[:space:]]+$ ]] || die "--${_o//_/-} '${!_o}': give one data set name (data/<name>)"
done
# --expdir '' trained into /<tag> (exp=$expdir/$tag), at the file system's root; --dumpdir ''
# failed in stage 1 with mkdir's "cannot create directory ''".
for _o in dumpdir expdir; do
  [ -n "${!_o}" ] || die "--$_o '': give a directory (default: ${_o%dir})"
done
# The experiment is a directory under $expdir: --tag ../x (or an absolute path) trained and decoded
# outside it (exp/../x is the recipe directory's x, beside data/ and conf/), with exit 0.
# (Empty: the default, made below from the config's name.)
[ -z "$tag" ] || case "/$tag/" in
  //*|*/../*|*/./*) die "--tag '$tag': give a name for a directory under $expdir/ (no '..' or '.' parts, not an absolute path)" ;;
esac
# asrkit-launch hands a word without white space to the job's bash as it is (run.pl's habit, which
# keeps a '|' or '>' among a command's words the shell's), so a quote, '$' or ';' in the recipe's
# path or in an option that becomes part of a path was the shell's too: with an apostrophe in
# the checkout's path the features went to another tree, --tag 'x$HOME' trained into exp/x/root.
_shell_special='[]['"'"'"$`\\;&|<>(){}*?!]'
for _o in "the recipe's directory:$PWD" "--tag:$tag" "--dumpdir:$dumpdir" "--expdir:$expdir" \
    "--train-set:$train_set" "--valid-set:$valid_set" "--test-sets:$test_sets" "--fbank-config:$fbank_config" \
    "--train-config:$train_config" "--decode-config:$decode_config" "--lm-config:$lm_config" \
    "--lm-train-text:$lm_train_text"; do
  if [[ ${_o#*:} =~ $_shell_special ]]; then
    die "${_o%%:*} '${_o#*:}' holds '${BASH_REMATCH[0]}', which the jobs' shell would interpret (asrkit-launch, as Kaldi's run.pl, passes such a word as it is): rename it"
  fi
done
# Stage 1 writes ark,scp:<dump>/feats.JOB.ark,<dump>/feats.JOB.scp with the absolute path (the scp
# names its ark): a comma in it (a checkout under exp/lr0.1,bs32/) cannot be told from the one
# between the two names, and stage 1's jobs failed only after stage 0 had run.
_dump=$dumpdir; [[ $_dump == /* ]] || _dump=$PWD/$dumpdir
if [ "$stage" -le 1 ] && [[ $_dump == *,* ]]; then
  die "--dumpdir '$dumpdir' is $_dump, whose comma stage 1's 'ark,scp:<ark>,<scp>' output cannot hold (Kaldi's wspecifier splits at the first comma): give --dumpdir a folder whose path has no comma"
fi
unset _dump
# Stage 6 appends to --results: '' or a path in no folder failed with bash's "No such file or
# directory" after the scoring.
if [ -z "$results" ] || [ -d "$results" ] || [ ! -d "$(dirname -- "$results")" ]; then
  die "--results '$results': give a file to append the rows to, in a folder that exists (default: RESULTS.md)"
fi
# (and a link, which the append follows: a RESULTS.md link to a file in a folder since removed)
_results_file=$results
[ ! -L "$results" ] || _results_file=$(readlink -m -- "$results")
[ -d "$(dirname -- "$_results_file")" ] || die "--results '$results' is a link to $_results_file, in no folder that exists: give a file to append the rows to, in a folder that exists (default: RESULTS.md)"
# ... and one this user cannot write (a shared checkout's RESULTS.md, read-only) failed there too,
# after the training (hours): checked with the directories above when stage 6 is in the range.
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  if [ -e "$results" ]; then
    [ -w "$results" ] || die "cannot write $results ($(stat -L -c %A -- "$results")): $(id -un) may not write it, and stage 6 adds its rows there; make it writable (chmod u+w $results), or give --results a file of yours"
  else
    [ -w "$(dirname -- "$_results_file")" ] || die "cannot make $results in $(cd "$(dirname -- "$_results_file")" && pwd): $(id -un) cannot write there, and stage 6 adds its rows to it; give --results a file in a folder of yours"
  fi
fi
# A set named twice was decoded once and scored twice: two identical rows in RESULTS.md.
read -ra _ts <<< "$test_sets"
_dup=$(printf '%s\n' ${_ts[@]+"${_ts[@]}"} | sort | uniq -d | sed -n 1p)
[ -z "$_dup" ] || die "--test-sets '$test_sets': '$_dup' is named twice"
# The choices, here too: checked after run.sh's empty range below (exit 0), a misspelt
# --token-type, --feats-type or --speed-perturb-method let stage 0 run to its end (AN4's
# download, FSDD's audio) and failed only then.
case $token_type in
  char) lang=data/lang_char ;;
  bpe|unigram) lang=data/lang_${token_type}${nbpe} ;;
  *) die "--token-type must be char, bpe or unigram, got '$token_type'" ;;
esac
case $feats_type in fbank|raw) ;; *) die "--feats-type must be fbank or raw, got '$feats_type'" ;; esac
case $speed_perturb_method in sox|audio) ;; *) die "--speed-perturb-method must be sox or audio, got '$speed_perturb_method'" ;; esac
raw_suffix=
[ "$feats_type" = fbank ] || raw_suffix=_raw
# (--print-config true prints these two as worked out, comment lines: read back as given, another
# --train-config or --train-set over the printed file kept the old tag, or the old set's text)
if [ -z "$tag" ]; then
  tag=$(basename "$train_config" .yaml)_${lang#data/lang_}${speed_perturb_factors:+_sp}$raw_suffix
  config_worked_out tag "--train-config, --token-type, --nbpe, --speed-perturb-factors, --feats-type"
fi
if [ -z "$lm_train_text" ]; then
  lm_train_text=data/$train_set/text
  config_worked_out lm_train_text --train-set
fi
# Named by the options that change the decoding (bin/decode_dir_name.sh): a --decode-args or
# --lm-weight sweep decoded every run into one directory, over the run before.
# --adapt-speakers true: stage 5 decodes into decode_<set>_<name> (the first pass) and, adapted to
# each speaker, into decode_<set>_<name>_adapt[<adapt args>], which stage 6 scores.
first_name=$(decode_dir_name "$decode_config" "$decode_args" "$use_lm" "$lm_weight")
decode_name=$first_name
[ "$adapt_speakers" = false ] || decode_name=$(decode_dir_name "$decode_config" "$decode_args" "$use_lm" "$lm_weight" "$adapt_args")
# Each one is a file name, of at most 255 bytes (NAME_MAX): decode_dir_name keeps the options' part
# within 200, but a --decode-config or test set of a long name made one that stage 5's mkdir
# refused after the training (checked here, before run.sh's stage 0 too).
for _s in $test_sets; do
  _n=$(printf 'decode_%s_%s' "$_s" "$decode_name" | LC_ALL=C wc -c)
  [ "$_n" -le 255 ] || die "--decode-config $decode_config and --test-sets' $_s: the decode directory, decode_${_s}_$decode_name, would be a file name of $_n bytes, more than the 255 a file name can have: give the config or the set a shorter name"
done
# (after every check of the options, with the defaults above worked out; before the data are looked for)
if [ "$print_config" = true ]; then
  config_lines $(config_names "$0")
  exit 0
fi
if [ "$stage" -gt "$stop_stage" ]; then
  # run.sh checks the options with --stage 1 --stop-stage 0 (and asks for their key: options_key);
  # any other empty range is a typo (--stage 5 --stop-stage 3), which exited 0 having done nothing.
  { [ "$stage" -eq 1 ] && [ "$stop_stage" -eq 0 ]; } && { [ -z "$_options_key" ] || echo "$_options_key"; exit 0; }
  die "--stage $stage is after --stop-stage $stop_stage: nothing to run"
fi
# Likewise a stage after the last one (--stage 7, or 60 for 6) ran nothing and said "done", and
# so did asr.sh's stage 0 (run.sh's data prep) and stage 3 alone without an LM to train.
[ "$stage" -le 6 ] || die "--stage $stage: the last stage is 6 (scoring): nothing to run"
[ "$stop_stage" -ge 1 ] || die "--stop-stage $stop_stage: asr.sh's stages are 1-6 (stage 0, data prep, is run.sh's): nothing to run"
if [ "$stage" -eq 3 ] && [ "$stop_stage" -eq 3 ] && [ "$use_lm" != true ]; then
  die "--stage 3 --stop-stage 3: stage 3 trains the LM, which runs with --use-lm true: nothing to run"
fi
in_range() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }
# The sets, before any work: a misspelt --test-sets failed after the training set's features (stage 1),
# or in stage 5 with bash's "integer expression expected" first.
for set in $(printf '%s\n' $train_set $valid_set $test_sets | awk '!seen[$0]++'); do
  if in_range 1; then
    # (data dirs made elsewhere, put at data/ as README says, often come as train and test alone)
    [ -d "data/$set" ] || [ "$set" != "$valid_set" ] || [ ! -d "data/$train_set" ] || die "no data/$set (--train-set, --valid-set, --test-sets): run stage 0 first, or check the set names; data dirs made elsewhere without a validation set: hold one out of data/$train_set (asrkit-holdout-lists, then utils/subset_data_dir.sh: docs/recipes.md, 'Data dirs made elsewhere')"
    [ -d "data/$set" ] || die "no data/$set (--train-set, --valid-set, --test-sets): run stage 0 first, or check the set names"
  elif in_range 5 && [[ " $test_sets " == *" $set "* ]] && [ ! -f "$dumpdir/$set/feats.scp" ]; then
    die "no $dumpdir/$set/feats.scp (--test-sets $test_sets): run stage 1 first, or check the set names"
  fi
done
# --test-sets '' (or only spaces) with stage 5 or 6 in the range decoded and scored nothing, exit 0.
# (_ts: the sets as read for the duplicate check above)
if [ ${#_ts[@]} -eq 0 ] && { in_range 5 || in_range 6; }; then
  die "--test-sets '$test_sets': no set to decode and score (stages 5 and 6); name one, or stop at --stop-stage 4"
fi

# run <log> <command...>: run a step, and when it fails stop the whole run naming the log to read.
run() {
  local logfile=$1 rc=0; shift
  "$@" || rc=$?
  [ "$rc" -ne 0 ] || return 0
  stop_if_interrupted "$rc"
  stop_if_stopped_on_request "$logfile"
  die "stage $current_stage failed: $* -- see $logfile$(resume_note "${resumes:-}" "$logfile")"
}
# resume_note <exp dir> <log>: for a training that failed (killed: the OOM killer, a job's time limit)
# with checkpoints to resume from, which the message did not say: the same command run again
# resumes it (on the same inputs: trained_on_other_inputs). Given as 'resumes=<exp dir> run ...'.
# Only for a job ended by a signal (the launcher's footer says code 128+n): a training that stopped
# with its own error (a config it cannot resume with, bad data) stops again at the same place when
# run again, and the note sent the user round.
resume_note() {
  local code
  [ -n "$1" ] && { has_epoch_checkpoint "$1" || [ -e "$1/checkpoints/interrupted.pt" ]; } || return 0
  code=$(sed -n 's/^# Ended (code \([0-9]*\)).*/\1/p' "$2" 2>/dev/null | tail -n 1) || true
  [ -n "$code" ] && [ "$code" -gt 128 ] || return 0
  echo "; its checkpoints are kept in $1/checkpoints: the same command run again resumes from the last one"
}
# stop_if_stopped_on_request <log>: asrkit-train and asrkit-train-lm stopped by SIGUSR1 (sbatch
# --signal=B:USR1@300) save where they stand and exit 75, which the launcher reports as a failed
# job (its own status 1): "stage 4 failed", as if something were to fix. Their last line in the
# log says where they stopped; this script exits 75 too (EX_TEMPFAIL), for a requeue to tell.
# (Only when the job ended so, by the launcher's footer, as run.pl's: a log left by an earlier
# stopped run is not this run's.)
stop_if_stopped_on_request() {
  local said
  [ -f "$1" ] && [ "$(sed -n 's/^# Ended (code \([0-9]*\)).*/\1/p' "$1" | tail -n 1)" = 75 ] || return 0
  said=$(sed -n 's/.*\(stopped by SIG[A-Z0-9]* .*\); the same command run again \(continues from there\|starts it\)$/\1/p' \
    "$1" | tail -n 1)
  [ -n "$said" ] || return 0
  echo "$(basename "$0"): stage $current_stage: training $said; rerun the same command to continue" >&2
  exit 75
}

# The set the model trains on (and CMVN is estimated on): the speed-perturbed copy if asked.
# The tokenizer and the LM keep the original text: perturbation repeats it, it adds no words.
# With --feats-type raw the training set stays audio and speed perturbation is drawn per
# utterance and epoch in asrkit-train (augment.speed_factors): no copies, no features on disk.
feats_train_set=$train_set
[ -z "$speed_perturb_factors" ] || [ "$feats_type" = raw ] || feats_train_set=${train_set}_sp
raw_opts=()
if [ "$feats_type" = raw ] && [ -n "$speed_perturb_factors" ]; then
  raw_opts=(--set "augment.speed_factors=[$(echo $speed_perturb_factors | tr ' ' ,)]")
fi
# --fbank-args --resample: the raw training set is resampled as it is read, as the dumped sets are.
case " $fbank_args " in
  *" --resample "*) [ "$feats_type" != raw ] || raw_opts+=(--set augment.resample=true) ;;
esac
exp=$expdir/$tag
lmexp=$expdir/lm_$(basename "$lang")
# The LM weight checked (asrkit-decode's bounds, above) and spelt one way from here on, as the
# directory's name spells it: its .done fingerprint, final.pt and RESULTS.md row had it as typed,
# so --lm-weight .5 after 0.50 decoded decode_<set>_<config>_lm0.5 again and added a second row.
if [ "$use_lm" = true ]; then
  lm_weight=$(decode_dir_weight "$lm_weight")
  _lm_weight=(--lm-weight "$lm_weight")
fi

# missing_input: the first input of a stage in the range that an earlier stage makes, when that
# stage is not in the range (the earliest such stage named first), said as the sets above are:
# --stage 4 in a copy without dump/ launched the training, which failed in its job
# ("dump/train_nodev/fbank.yaml: no such file") and left exp/<tag>/log behind; --stage 3 (an LM)
# and 2 likewise, without a tokenizer or data/.
missing_input() {
  local f
  if in_range 2 || { [ "$use_lm" = true ] && in_range 3; }; then
    # (an --lm-train-text given is checked above, whatever the stages: this is its default)
    f=data/$train_set/text; in_range 2 || f=$lm_train_text
    [ -f "$f" ] || { echo "no $f (--train-set $train_set): run stage 0 first, or check the set names"; return; }
  fi
  if ! in_range 1 && in_range 4; then
    for f in "$dumpdir/$feats_train_set/$([ "$feats_type" = raw ] && echo wav.scp || echo feats.scp)" \
        "$dumpdir/$feats_train_set/fbank.yaml" "$dumpdir/$feats_train_set/cmvn.ark" "$dumpdir/$valid_set/feats.scp"; do
      [ -f "$f" ] || { echo "no $f (--train-set $train_set${speed_perturb_factors:+ --speed-perturb-factors '$speed_perturb_factors'}, --valid-set $valid_set): run stage 1 first, or check the set names"; return; }
    done
  fi
  if ! in_range 2 && { in_range 4 || { [ "$use_lm" = true ] && in_range 3; }; }; then
    # (either file: a lang dir made by hand may hold one, and asrkit's commands name what they miss)
    [ -f "$lang/tokens.model" ] || [ -f "$lang/tokens.txt" ] \
      || { echo "no tokenizer in $lang (tokens.model, tokens.txt; --token-type $token_type): run stage 2 first"; return; }
  fi
  # --use-lm true without stage 3's LM: --stage 5 packed final.pt and failed in every decoding job
  # ("no such LM file"), --stage 4 only after the whole training.
  if [ "$use_lm" = true ] && ! in_range 3 && in_range 5; then
    [ -f "$lmexp/lm.pt" ] || { echo "no $lmexp/lm.pt (--use-lm true, --token-type $token_type): run stage 3 first (it trains the LM), or decode without --use-lm"; return; }
  fi
}
. "$ASRKIT_ROOT/bin/data_lock.sh"
_missing=$(missing_input)
# (Another run holding data/.lock may be making them: looked at again once it is done.)
if [ -n "$_missing" ] && [ -e data/.lock ]; then
  take_data_lock "stage $stage"; release_data_lock
  _missing=$(missing_input)
fi
[ -z "$_missing" ] || die "$_missing"
unset _missing
# (made for stage 1 alone: made whatever the stages, a --stage 6 that stopped at its missing
# decoding, "run stage 5 first", left an empty dump/ in a fresh copy)
dump_abs=
! in_range 1 || dump_abs=$(mkdir -p "$dumpdir" && cd "$dumpdir" && pwd)

lm_opts=()
# The weight goes with the LM: decode.yaml's lm_weight is 0 (no LM), which would load it and ignore it.
[ "$use_lm" = true ] && lm_opts=(--lm "$lmexp/lm.pt" --lm-weight "$lm_weight")

# rate <WER|CER> <wer.txt>: the number of asrkit-score's "%WER 12.34 [ 33 / 434, ... ]" line. A
# set without reference words has no rate (asrkit-score prints "%WER inf [ 6 / 0, ..." for
# insertions, "0.00 [ 0 / 0" otherwise): an error here, never an "inf" or a 0 in RESULTS.md.
# (die in $(rate ...) ends only the subshell; set -e then stops the script at the assignment.)
rate() {
  local line value total
  line=$(grep -m1 "^%$1 " "$2") || die "no %$1 line in $2"
  value=$(echo "$line" | awk '{ print $2 }')
  total=$(echo "$line" | awk '{ sub(/,$/, "", $6); print $6 }')
  case $value in
    "" | *[!0-9.]* | *.*.*) total=0 ;;
  esac
  [ "$total" != 0 ] \
    || die "$2: '$line': the $1 is undefined: the references of this set have no words at all (check its text)"
  echo "$value"
}

# fingerprint <file>...: a checksum of those of the files that exist, names and contents: what a
# .done marker records of the inputs its output was made from.
fingerprint() {
  local f
  for f in "$@"; do if [ -f "$f" ]; then printf '%s\n' "$f"; cat "$f"; fi; done | cksum | awk '{ print $1 "-" $2 }'
}
# warnings <log glob>: say on the console how many warnings the jobs logged and the first one (a
# skipped recording, digital silence): said only in the job logs, they went unseen.
warnings() {
  local n first dir=. logs
  [[ $1 != */* ]] || dir=${1%/*}
  # Only the file name is a pattern: the folder is quoted, since an unquoted '$1' split a --dumpdir
  # with a space in it, and the count and first warning were lost without a word.
  # shellcheck disable=SC2206  # the glob is meant to expand
  logs=("$dir"/${1##*/})
  # One pass that reads to the end (grep -m1 exited at its first match while cat still wrote the
  # next log: cat died of SIGPIPE, and pipefail + set -e ended stage 1 in silence, now and then).
  read -r n first < <(cat "${logs[@]}" 2>/dev/null \
    | awk '/ WARNING / { if (!n++) { sub(/^.* WARNING /, ""); f = $0 } } END { print n + 0, f }')
  [ "$n" -gt 0 ] || return 0
  log "stage $current_stage: $n warning(s) in $1, the first: $first"
}
# audio_stamp <wav.scp>: a checksum of the size and modification time of each audio file the
# table names by path ('cmd |' entries count by their text, in fingerprint): a recording repaired
# in place after stage 1 skipped it, or written again under its name (FSDD's stage 0 makes
# data/wav/ anew), changes it, so features of the old audio are not kept as done.
audio_stamp() {
  [ -f "$1" ] || { echo none; return 0; }
  awk '{ sub(/^[^ \t]+[ \t]+/, ""); sub(/[ \t\r]+$/, ""); if ($0 !~ /\|$/ && $0 != "-") print }' "$1" \
    | tr '\n' '\0' | { xargs -0 -r stat -L -c '%s %.9Y %n' 2>&1 || true; } | cksum | awk '{ print $1 "-" $2 }'
}
# up_to_date <marker> <inputs>: the marker is there and was written for these inputs (an empty
# one, from before markers recorded their inputs, is trusted as before).
up_to_date() { [ -f "$1" ] && { [ ! -s "$1" ] || [ "$(cat "$1")" = "$2" ]; }; }
# mark_done <marker> <inputs>: written whole or not at all. 'echo > .done' on a disk that filled at
# that moment left an empty marker, which up_to_date takes for an old asr.sh's (no inputs
# recorded): the stage was then never redone for other inputs.
mark_done() { printf '%s\n' "$2" > "$1.tmp" && mv -f "$1.tmp" "$1"; }
# data_tables <dump set>: the tables of the data dir its features were made from (the speed-perturbed
# copy's: those of the train set it copies), recorded by stage 1 in <dump set>/.data_tables.
# Two lines: the tables the features come from, then the transcripts.
data_tables() {
  local src=data/$1
  [ "$1" != "$feats_train_set" ] || [ "$feats_train_set" = "$train_set" ] || src=data/$train_set
  fingerprint "$src"/{wav.scp,segments,utt2spk}
  fingerprint "$src/text"
}
# check_dump <dump set> [features]: its data dir is still what its features (and, without
# "features", its transcripts) were made from. Stage 0 run again (another split, a transcript
# fixed) and then "--stage 4" trained on the old features, with the old transcripts, and
# "--stage 5" decoded an old test set, scored against the new one. A test set's transcripts are
# scored from data/<set> itself: fixing one needs no new features.
# (A dump from before the record, or without its data dir, is not checked.)
check_dump() {
  local rec=$dumpdir/$1/.data_tables src=data/$1 now was
  [ "$1" != "$feats_train_set" ] || [ "$feats_train_set" = "$train_set" ] || src=data/$train_set
  { [ -s "$rec" ] && [ -f "$src/utt2spk" ] && [ "$(wc -l < "$rec")" -eq 2 ]; } || return 0
  now=$(data_tables "$1"); was=$(cat "$rec")
  [ "${2:-}" != features ] || { now=${now%%$'\n'*}; was=${was%%$'\n'*}; }
  [ "$was" = "$now" ] \
    || die "stage $current_stage: $src changed since $dumpdir/$1 was made from it (stage 0 run again?): run stage 1 again (--stage 1) to make its features anew"
}

# check_first_rates <set>...: the first utterance of each data/<set> through one asrkit-compute-fbank
# --check-rates with the run's feature options (read as the features read it, without torch's 2-3 s
# start-up): a sample rate they do not take (no --resample) stops the run with compute-fbank's own
# message, naming the set and its utterance. Any other failure of those utterances is the
# features' to skip and count, as for the rest.
check_first_rates() {
  local tmp k=0 set err first where rest rc=0
  local sets=("$@")
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/asr.sh.rate.XXXXXX")
  # Set k's first utterance as utterance k of recording k (ids may recur across sets).
  for set in "${sets[@]}"; do
    k=$((k + 1))
    if [ -f "data/$set/segments" ]; then
      awk -v k="$k" 'NR == 1 { print k, k, $3, $4; exit }' "data/$set/segments" >> "$tmp/segments"
      awk -v k="$k" -v r="$(awk '{ print $2; exit }' "data/$set/segments")" \
        '$1 == r { sub(/^[^ \t]+/, k); print; exit }' "data/$set/wav.scp" >> "$tmp/wav.scp"
    else
      printf '%s %s 0 -1\n' "$k" "$k" >> "$tmp/segments"
      awk -v k="$k" 'NR == 1 { sub(/^[^ \t]+/, k); print; exit }' "data/$set/wav.scp" >> "$tmp/wav.scp"
    fi
  done
  # shellcheck disable=SC2086  # $fbank_args: options, split as for the features
  asrkit-compute-fbank --config "$fbank_config" $fbank_args --max-bad-percent 100 --segments "$tmp/segments" \
    --check-rates "scp:$tmp/wav.scp" 2> "$tmp/log" || rc=$?
  err=$(sed -n "/^ERROR (asrkit-compute-fbank): utterance '[0-9]*': .*does not match the fbank config's sample_frequency/{
    s/^ERROR (asrkit-compute-fbank): //p; q; }" "$tmp/log")
  rm -rf "$tmp"  # (before a Ctrl-C's exit too: it was left in $TMPDIR)
  stop_if_interrupted "$rc"
  [ -n "$err" ] || return 0
  k=${err#utterance \'}; k=${k%%\'*}; set=${sets[k - 1]}
  first=$(awk '{ print $1; exit }' "data/$set/$([ -f "data/$set/segments" ] && echo segments || echo wav.scp)")
  rest=${err#utterance \'$k\': }; where="[$tmp/wav.scp:$k: "
  die "stage 1: data/$set (checked before any set's features): utterance '$first': ${rest//"$where"/[data/$set/wav.scp: }"
}
# arks_missing <dump set>: the first file its feats.scp names that is not there, or nothing: an ark
# deleted under dump/ passed the set as done, and was found only when training or decoding read
# it. Each ark is looked at once (a stat per file, not per line). A raw set (wav.scp) has none, and
# a command's output ('copy-feats ... ark:- |', as Kaldi's scp may hold) is no file to look for.
arks_missing() {
  local ark
  if [ ! -f "$1/feats.scp" ]; then [ -f "$1/wav.scp" ] || echo "$1/feats.scp"; return 0; fi
  while IFS= read -r ark; do
    [ -f "$ark" ] || { echo "$ark"; return 0; }
  done < <(awk '{ sub(/^[^ \t]+[ \t]+/, ""); sub(/[ \t\r]+$/, ""); if ($0 ~ /\|$/) next
                  sub(/:[0-9]+(\[[^]]*\])?$/, ""); if (!seen[$0]++) print }' "$1/feats.scp")
}
# Number of pieces for a data dir: never more than its utterances.
pieces() { local n; n=$(wc -l < "$1/utt2spk"); [ "$n" -lt "$nj" ] && echo "$n" || echo "$nj"; }
# How the training's last run ended (done, budget, killed, ...; empty before any), from asrkit-train's record.
last_run_status() {
  [ -s "$exp/log/train_runs.tsv" ] && awk -F'\t' '!/^#/ { s = $6 } END { print s }' "$exp/log/train_runs.tsv"
}
# Whether the training's model is the average of its --num-avg best checkpoints (model.avg.pt):
# stage 4 makes it and stages 5-6 decode it. A training stopped by its time budget is still
# learning fast: an average of its last epochs lags behind its best one (AN4, template defaults,
# 30 min: test CER 23.4 % averaged, 17.7 % best epoch, train_dev alike; egs/an4/asr1/RESULTS.md),
# so it decodes model.pt, unless --avg-on-budget true: AN4's constant-rate default at 40 minutes,
# 5 best averaged 9.93 % train_dev WER against its best epoch's 12.01 % (three seeds, same file).
averages() {
  [ "$num_avg" -gt 0 ] && { [ "$avg_on_budget" = true ] || [ "$(last_run_status)" != budget ]; }
}

# Stages 1-3 write what every run in this directory shares: one run at a time (bin/data_lock.sh,
# sourced above).
[ "$stage" -gt 3 ] || take_data_lock "stage $stage"

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  current_stage=1
  if [ -n "$speed_perturb_factors" ] && [ "$feats_type" = fbank ]; then
    sp_inputs="$(fingerprint "data/$train_set"/{wav.scp,segments,text,utt2spk,spk2utt,utt2dur,reco2dur}) $(audio_stamp "data/$train_set/wav.scp") $speed_perturb_factors $speed_perturb_method"
    # (The copy's own record: a train set changed since is copied again, and so its features redone.)
    if [ ! -s "data/$feats_train_set/.made_from" ] || [ "$(cat "data/$feats_train_set/.made_from")" != "$sp_inputs" ]; then
      log "stage 1: speed perturbation ($speed_perturb_factors) of data/$train_set -> data/$feats_train_set"
      run "(above)" asrkit-perturb-data-dir-speed --factors "$speed_perturb_factors" --method "$speed_perturb_method" \
        "data/$train_set" "data/$feats_train_set"
      echo "$sp_inputs" > "data/$feats_train_set/.made_from"
    fi
  fi
  # Each set once, even when the validation set is also decoded.
  stage1_sets=$(printf '%s\n' $feats_train_set $valid_set $test_sets | awk '!seen[$0]++')
  declare -A set_inputs=() gone=()
  to_make=()
  for set in $stage1_sets; do
    kind=fbank
    [ "$feats_type" = raw ] && [ "$set" = "$feats_train_set" ] && kind=raw
    # (.made_from: a speed-perturbed copy's own inputs, its source audio's stamp included, which
    # its 'sox ... |' entries do not show)
    set_inputs[$set]="$(fingerprint "data/$set"/{wav.scp,segments,text,utt2spk,spk2utt,.made_from} "$fbank_config") $(audio_stamp "data/$set/wav.scp") $kind $fbank_args"
    if up_to_date "$dumpdir/$set/.done" "${set_inputs[$set]}"; then
      gone[$set]=$(arks_missing "$dumpdir/$set")
      # (and the training set's CMVN stats, which stage 4 reads)
      [ -n "${gone[$set]}" ] || [ "$set" != "$feats_train_set" ] || [ -f "$dumpdir/$set/cmvn.ark" ] \
        || gone[$set]=$dumpdir/$set/cmvn.ark
      [ -n "${gone[$set]}" ] || continue
    fi
    # Every set to make is checked before any set's features: its tables, and its first
    # utterance's sample rate against the fbank options. One set at a time, a test set at another
    # rate than the config's failed only after the training set's features were made (hours).
    run "(above)" asrkit-validate-data-dir --no-feats "data/$set"
    to_make+=("$set")
  done
  [ ${#to_make[@]} -eq 0 ] || check_first_rates "${to_make[@]}"
  for set in $stage1_sets; do
    out=$dumpdir/$set
    inputs=${set_inputs[$set]}
    if [ -n "${gone[$set]-}" ]; then
      log "stage 1: ${gone[$set]} is not there (deleted?): making $out again"
      rm -rf "$out"
    elif up_to_date "$out/.done" "$inputs"; then
      log "stage 1: $out done already"; continue
    elif [ -f "$out/.done" ]; then
      # e.g. stage 0 run again on a changed corpus: the old features would train or test on the
      # old sets (an utterance now in test still in train).
      log "stage 1: data/$set (its tables or audio) or the feature options changed since $out was made: making it again"
      rm -rf "$out"
    fi
    if [ "$feats_type" = raw ] && [ "$set" = "$feats_train_set" ]; then
      # The audio's tables as they are, the fbank options, and global CMVN of its fbank computed
      # here and streamed to asrkit-compute-cmvn (never written); utt2num_frames (lengths for
      # batching) and utt2sample_rate (asrkit-train records the rates resampled up in the model)
      # come with it. Utterances whose audio fails are dropped as in the fbank case.
      log "stage 1: raw audio for data/$set -> $out (fbank computed while training; CMVN from a pass over it)"
      mkdir -p "$out/log"
      for f in wav.scp segments text utt2spk spk2utt; do [ ! -f "data/$set/$f" ] || cp "data/$set/$f" "$out/$f"; done
      # The options the workers compute fbank with, --fbank-args included (asrkit-train packs
      # them): a copy of the file alone trained on other features than CMVN and dev were made with.
      asrkit-compute-fbank --config "$fbank_config" $fbank_args --print-config > "$out/fbank.yaml.tmp" \
        && mv "$out/fbank.yaml.tmp" "$out/fbank.yaml" || die "stage 1 failed: asrkit-compute-fbank --print-config"
      segments=()
      [ -f "data/$set/segments" ] && segments=(--segments "data/$set/segments")
      run "$out/log/cmvn.log" $train_cmd "$out/log/cmvn.log" bash -c "set -o pipefail; asrkit-compute-fbank \
        --config '$fbank_config' $fbank_args ${segments[*]} --max-bad-percent 5 --write-utt2num-frames '$out/utt2num_frames' \
        --write-utt2sample-rate '$out/utt2sample_rate' 'scp:data/$set/wav.scp' ark:- | asrkit-compute-cmvn ark:- '$out/cmvn.ark'"
      warnings "$out/log/cmvn.log"
      run "(above)" asrkit-fix-data-dir "$out"
      mark_done "$out/.data_tables" "$(data_tables "$set")"
      mark_done "$out/.done" "$inputs"
      continue
    fi
    log "stage 1: features for data/$set -> $out"
    n=$(pieces "data/$set")
    run "(above)" asrkit-split-data-dir --per-utt "data/$set" "$n"
    split=data/$set/split$n
    mkdir -p "$out/data" "$out/log"
    segments=()
    [ -f "data/$set/segments" ] && segments=(--segments "$split/JOB/segments")
    # As Kaldi's make_fbank.sh: a job fails only when none of its utterances worked, and the
    # 95 % rule (docs/errors.md) is applied to the whole set once the pieces are merged.
    run "$out/log/fbank.*.log" $train_cmd JOB=1:"$n" "$out/log/fbank.JOB.log" \
      asrkit-compute-fbank --config "$fbank_config" $fbank_args "${segments[@]}" --max-bad-percent 100 \
        --write-utt2num-frames "$out/data/utt2num_frames.JOB" --write-utt2sample-rate "$out/data/utt2sample_rate.JOB" \
        "scp:$split/JOB/wav.scp" "ark,scp:$dump_abs/$set/data/feats.JOB.ark,$dump_abs/$set/data/feats.JOB.scp"
    for i in $(seq "$n"); do cat "$out/data/feats.$i.scp"; done > "$out/feats.scp"
    warnings "$out/log/fbank.*.log"
    nu=$(wc -l < "data/$set/utt2spk"); nf=$(wc -l < "$out/feats.scp")
    [ "$nf" -ge $(( nu - nu / 20 )) ] || die "stage 1 failed: features for only $nf of the $nu utterances" \
      "of data/$set, more than 5 % failed (Kaldi's rule) -- see $out/log/fbank.*.log"
    for i in $(seq "$n"); do cat "$out/data/utt2num_frames.$i"; done > "$out/utt2num_frames"
    # (each utterance's audio rate before any --resample: asrkit-train records those it resampled up)
    for i in $(seq "$n"); do cat "$out/data/utt2sample_rate.$i"; done > "$out/utt2sample_rate"
    for f in text utt2spk spk2utt; do cp "data/$set/$f" "$out/$f"; done
    cp "$out/data/fbank.yaml" "$out/fbank.yaml"   # the resolved feature config: asrkit-train packs it
    # compute-fbank skips (and logs) unreadable audio: drop those utterances from every table,
    # as Kaldi's fix_data_dir.sh does after make_fbank.sh. Scoring still counts them as errors.
    run "(above)" asrkit-fix-data-dir "$out"
    if [ "$set" = "$feats_train_set" ]; then
      run "$out/log/cmvn.log" $train_cmd "$out/log/cmvn.log" \
        asrkit-compute-cmvn "scp:$out/feats.scp" "$out/cmvn.ark"
    fi
    run "(above)" asrkit-validate-data-dir --no-wav "$out"
    mark_done "$out/.data_tables" "$(data_tables "$set")"
    mark_done "$out/.done" "$inputs"
  done
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  current_stage=2
  # One lang dir per token type, whatever the train set: a tokenizer trained on another set's
  # text (say, one without the letters of a corpus added since) must not pass as done.
  # (A lang dir from before this record was kept is trusted.)
  if [ -f "$lang/.done" ] && [ -f "$lang/train_text" ] && [ "$(cat "$lang/train_text")" != "data/$train_set/text" ]; then
    die "stage 2: $lang was trained on $(cat "$lang/train_text"), not data/$train_set/text: delete $lang to train it again"
  fi
  lang_inputs=$(fingerprint "data/$train_set/text")
  if [ -f "$lang/.done" ] && ! up_to_date "$lang/.done" "$lang_inputs"; then
    log "stage 2: data/$train_set/text changed since $lang was trained: training it again"
    rm -f "$lang/.done"
  fi
  if [ -f "$lang/.done" ]; then log "stage 2: $lang done already"; else
    log "stage 2: $token_type tokenizer on data/$train_set/text -> $lang"
    mkdir -p "$lang/log"
    vocab=()
    [ "$token_type" = char ] || vocab=(--vocab-size "$nbpe")
    rc=0
    $train_cmd "$lang/log/tokenizer.log" \
      asrkit-train-tokenizer --model-type "$token_type" "${vocab[@]}" "data/$train_set/text" "$lang" || rc=$?
    if [ "$rc" -ne 0 ]; then
      stop_if_interrupted "$rc"
      # (its advice, 'use a smaller --vocab-size', named an option the recipe's user does not give)
      max_bpe=$(sed -n '/Vocabulary size too high/{s/.* <= \([0-9]*\).*/\1/p;q;}' "$lang/log/tokenizer.log" 2>/dev/null || true)
      [ -z "$max_bpe" ] || die "stage 2 failed: --nbpe $nbpe: data/$train_set/text makes at most $max_bpe tokens:" \
        "give --nbpe $max_bpe or less, or --token-type char -- see $lang/log/tokenizer.log"
      die "stage 2 failed: asrkit-train-tokenizer on data/$train_set/text -- see $lang/log/tokenizer.log"
    fi
    echo "data/$train_set/text" > "$lang/train_text"
    mark_done "$lang/.done" "$lang_inputs"
  fi
fi

# lm_inputs: what the LM is trained from, recorded in its .done (stage 3 trains it again for others,
# stage 5 refuses to decode with it).
lm_inputs() { fingerprint "$lm_train_text" "$lang/tokens.txt" "$lm_config"; }

# has_epoch_checkpoint <exp dir>: whether it holds an epoch checkpoint by asrkit's own rule for
# their names (asrkit/training/checkpoint.py's _NAME: epoch<N>.pt, N without a leading zero, ASCII
# digits): epoch*.pt also took epoch021.pt or epochX.pt, which asrkit-train passes over, so the two
# disagreed on whether a training had anything to resume. (The digits spelled out: a locale's
# [0-9] range may hold other digits.)
has_epoch_checkpoint() {
  local f name='^epoch(0|[123456789][0123456789]*)\.pt$'
  for f in "$1"/checkpoints/epoch*.pt; do
    [[ ${f##*/} =~ $name ]] && return 0
  done
  return 1
}

# trained_on_other_inputs <exp dir> <inputs>: whether the training there (finished, or stopped or
# killed with checkpoints to resume from) started on other inputs, by <exp dir>/train_inputs,
# which record_train_inputs writes as it starts: stages 3 and 4 neither resume it nor take it as
# done on these. A start that failed before its first checkpoint (no tokenizer yet) trained
# nothing: its record is dropped (it kept the tag refused as trained on other data). A run stopped
# by SIGUSR1 within its first epoch has only checkpoints/interrupted.pt: trained on its inputs
# too, and resumed from (a dangling link there is no checkpoint: asrkit-train starts afresh).
# The runs of such a start on other inputs leave log/train_runs.tsv, whose rows asrkit-train keeps
# and counts as this training's time when they finished no epoch: moved aside, as not this one's.
trained_on_other_inputs() {
  if ! { [ -f "$1/.done" ] || has_epoch_checkpoint "$1" || [ -e "$1/checkpoints/interrupted.pt" ]; }; then
    # (a run that failed before training, a tokenizer missing, leaves the table's header alone)
    if grep -qv '^#' "$1/log/train_runs.tsv" 2> /dev/null && [ -s "$1/train_inputs" ] \
      && [ "$(cat "$1/train_inputs")" != "$2" ]; then
      log "stage $current_stage: $1/log/train_runs.tsv: runs on other inputs that left nothing to resume, moved to $1/log/train_runs.tsv.old (not counted in this training's time)"
      mv -f "$1/log/train_runs.tsv" "$1/log/train_runs.tsv.old"
    fi
    rm -f "$1/train_inputs"
  fi
  [ -s "$1/train_inputs" ] && [ "$(cat "$1/train_inputs")" != "$2" ]
}
record_train_inputs() { [ -s "$1/train_inputs" ] || echo "$2" > "$1/train_inputs"; }

# ---------------------------------------------------------------------------------------------
if [ "$use_lm" = true ] && [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  current_stage=3
  # An LM of another text, tokenizer or config is trained again, as stage 2's tokenizer is.
  lm_inputs=$(lm_inputs)
  # (one stopped or killed before it was done too: resumed on the new text, it became an LM of
  # both texts in silence)
  if { [ -f "$lmexp/.done" ] && ! up_to_date "$lmexp/.done" "$lm_inputs"; } || trained_on_other_inputs "$lmexp" "$lm_inputs"; then
    # asrkit-train-lm resumes from the checkpoints in its exp dir: they go aside, not into the new LM.
    log "stage 3: $lm_train_text, $lang/tokens.txt or $lm_config changed since $lmexp was trained: training it again (the old one moved to $lmexp.old)"
    rm -rf "$lmexp.old" && mv "$lmexp" "$lmexp.old"
  fi
  if [ -f "$lmexp/.done" ]; then log "stage 3: $lmexp done already"; else
    log "stage 3: LM on $lm_train_text -> $lmexp"
    mkdir -p "$lmexp/log"
    record_train_inputs "$lmexp" "$lm_inputs"
    resumes=$lmexp run "$lmexp/log/train_lm.log" $cuda_cmd --gpu "$ngpu" "$lmexp/log/train_lm.log" \
      asrkit-train-lm --config "$lm_config" --lang-dir "$lang" "$lm_train_text" "$lmexp"
    warnings "$lmexp/log/train_lm.log"
    mark_done "$lmexp/.done" "$lm_inputs"
  fi
fi
release_data_lock  # (training's jobs must not inherit it: it would keep the next run waiting)

# refuse_training_elsewhere: stop when another run is training $exp (asrkit-train's flock on
# $exp/.lock): stage 4 would write over its log, stage 5 decode a model about to be replaced.
refuse_training_elsewhere() {
  if [ -f "$exp/.lock" ] && command -v flock > /dev/null && ! flock -n "$exp/.lock" true; then
    die "stage $current_stage: $exp is being trained by another run (it holds $exp/.lock): wait for it to end, or give another --tag"
  fi
}

# train_desc: how this command line trains, for the RESULTS.md rows: the config, --train-args and
# the training data's options (two rows differing only in them must not read the same). Stage 4
# records it in exp/<tag>/train_desc when it trains; stage 6 reports the record, not its own
# command line: "./run.sh --stage 6" (or --stage 5) without the --train-args of the training
# wrote "conf/train.yaml" alone into the row of a model trained with them.
train_desc() {
  local data_desc=
  [ -z "$speed_perturb_factors" ] || data_desc=", speed perturbation $speed_perturb_factors"
  [ "$feats_type" = fbank ] || data_desc="$data_desc${data_desc:+ (on the fly)}, --feats-type raw"
  echo "$train_config${train_args:+ $train_args}$data_desc"
}

# average_model: model.avg.pt from the --num-avg best checkpoints, and that N recorded beside it
# (model.avg.num: stage 4 averages again for another N, stages 5-6 alone refuse it).
average_model() {
  run "$exp/log/average.log" $train_cmd "$exp/log/average.log" asrkit-average --num "$num_avg" "$exp"
  warnings "$exp/log/average.log"
  mark_done "$exp/model.avg.num" "$num_avg"
  # How many it did average: fewer when fewer checkpoints were kept (2 epochs, a budget stop with
  # --avg-on-budget), and the RESULTS.md row said "5 best averaged" of a 2-checkpoint average.
  mark_done "$exp/model.avg.count" \
    "$(sed -n 's/.*Done averaging \([0-9][0-9]*\) checkpoint(s).*/\1/p' "$exp/log/average.log" | tail -n 1)"
}

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  current_stage=4
  # Finished inputs only: started while another run's stages 0-3 were still writing them, stage 4
  # trained on half a dump. It waits for their lock (a dump made by hand, without .done markers,
  # is still taken).
  take_data_lock "stage 4"
  release_data_lock
  check_dump "$feats_train_set"
  check_dump "$valid_set"
  # What the model is trained on; recorded when its training starts. A model of other data is
  # never taken as done, nor resumed on this data: that is for the user to decide.
  # (the dump dirs' .done: what their features were made from, the audio's stamp included)
  train_inputs=$(fingerprint "$dumpdir/$feats_train_set"/{feats.scp,wav.scp,segments,text,cmvn.ark,.done} \
    "$dumpdir/$valid_set"/{feats.scp,text,.done} "$lang/tokens.txt")
  # ...and how: the config's contents, --train-args and --seed (recorded in .done). Another of
  # them was "done already", and stage 6 wrote the new options into the row of the old model.
  train_options="$(fingerprint "$train_config") $train_args --seed $seed"
  if trained_on_other_inputs "$exp" "$train_inputs"; then
    die "stage 4: $exp was trained on other data: $dumpdir/$feats_train_set, $dumpdir/$valid_set or $lang changed since (stage 0 or 1 run again?); delete $exp to train on the new data, or give another --tag"
  fi
  if [ -f "$exp/.done" ] && ! up_to_date "$exp/.done" "$train_options"; then
    die "stage 4: $exp was trained with other options: $train_config's contents, --train-args or --seed changed since ($(cat "$exp/.done")); delete $exp/.done to train on from its last checkpoint, $exp to train anew, or give another --tag"
  fi
  if [ -f "$exp/.done" ]; then
    log "stage 4: $exp done already"
    # The averaging is cheap: done again for another --num-avg (the old one was decoded and
    # reported as "N best averaged" under the new N).
    if averages && [ "$(cat "$exp/model.avg.num" 2> /dev/null)" != "$num_avg" ]; then
      log "stage 4: averaging the $num_avg best checkpoints again (--num-avg changed) -> $exp/model.avg.pt"
      average_model
    fi
  elif [ -z "$train_max_time" ] && [ "$(last_run_status)" = budget ] && up_to_date "$exp/.budget_stop" "$train_options"; then
    # A budget-stopped training passed again with the same options and no --train-max-time
    # (./run.sh --stage 3 --use-lm true, to add an LM) resumed under the config's budget, none: the
    # minutes the user had set became a training to the last epoch, hours on a CPU, before the
    # decoding asked for. (Another train config or --train-args still resumes, as before.)
    log "stage 4: $exp stopped at its time budget after $(cat "$exp/train_seconds") s of training; decoding it as it is (--train-max-time with more seconds continues it)"
  else
    # asrkit-train refuses a second training of one exp dir (an flock on $exp/.lock), but only once
    # started: its launcher had written the log over, and the running training's log lost its head.
    refuse_training_elsewhere
    log "stage 4: LAS training ($train_config, ngpu=$ngpu, num_nodes=$num_nodes${train_max_time:+, budget $train_max_time s}) -> $exp"
    mkdir -p "$exp/log"
    record_train_inputs "$exp" "$train_inputs"
    # Several nodes: asrkit-launch runs one task per GPU of each node (one per node on CPU) under
    # srun, and each asrkit-train finds its rank and master in Slurm's variables. One node:
    # one task, and asrkit-train --ngpu N starts its N processes itself.
    nodes_opts=()
    [ "$num_nodes" -gt 1 ] && nodes_opts=(--num-nodes "$num_nodes")
    budget=()
    [ -z "$train_max_time" ] || budget=(--set "training.max_time=$train_max_time")
    resumes=$exp run "$exp/log/train.log" $cuda_cmd --gpu "$ngpu" "${nodes_opts[@]}" "$exp/log/train.log" \
      asrkit-train --config "$train_config" --train-dir "$dumpdir/$feats_train_set" \
        --valid-dir "$dumpdir/$valid_set" --lang-dir "$lang" --cmvn "$dumpdir/$feats_train_set/cmvn.ark" \
        --fbank-config "$dumpdir/$feats_train_set/fbank.yaml" --ngpu "$ngpu" --seed "$seed" "${budget[@]}" "${raw_opts[@]}" \
        $train_args "$exp"
    # Once it ran: a run that asrkit-train refused (another model config given to continue a
    # budget-stopped training) wrote its own options over those of the model left there.
    mark_done "$exp/train_desc" "$(train_desc)"
    # (training utterances left out as longer than batching.max_frames, dev utterances that are
    # training ones: said only in the log, as the jobs' warnings of the other stages were)
    warnings "$exp/log/train.log"
    # The time of every run of this training (a killed one, a resumed one), as asrkit-train records it.
    runs=$exp/log/train_runs.tsv
    [ -s "$runs" ] || die "stage 4: asrkit-train wrote no $runs -- see $exp/log/train.log"
    awk -F'\t' '!/^#/ { s += $3 } END { printf "%d\n", s + 0.5 }' "$runs" > "$exp/train_seconds"
    if averages; then average_model; fi
    # Decodings of an earlier model of this exp dir (before a resume) are out of date.
    rm -f "$exp"/decode_*/.done
    if [ "$(last_run_status)" = budget ]; then
      # Not .done: running stage 4 again with a larger --train-max-time resumes the training.
      mark_done "$exp/.budget_stop" "$train_options"
      log "stage 4: stopped by the time budget after epoch $(awk -F'\t' '!/^#/ { e = $5 } END { print e }' "$runs") ($(cat "$exp/train_seconds") s); decoding this model; run stage 4 again with a larger --train-max-time to continue"
    else
      mark_done "$exp/.done" "$train_options"
    fi
  fi
fi
model=$exp/model.pt
averaged=false
if averages; then
  model=$exp/model.avg.pt
  averaged=true
fi

# decode_inputs <set>: what a decoding of <set> is made from, recorded in its .done marker. The
# decoding options are inputs too: another --decode-args, --lm-weight, config or LM decodes again
# rather than passing the old numbers off under the new command line.
# The model by its contents too: one averaged again (another --num-avg) is another model.
# The options twice, in two lines: as typed (the config's file and --decode-args: the line asr.sh
# recorded alone before), and as asrkit-decode resolves them (resolved: --decode-config,
# --decode-args and the weight, --print-config's checksum, decode_sum). Either one found the
# same is the same decoding: the typed one alone decoded --decode-args '--beam=3' after '--beam 3'
# (one directory, decode_<set>_decode_beam3) again, and stage 6 added a second row for it; the
# resolved one alone would decode every directory again after an asrkit whose --print-config
# prints an option more, and those made before it (the typed line alone) once more.
first_pass_inputs() {
  local options=$decode_args config=("$decode_config")
  [ "${2:-}" != resolved ] || { options="options $decode_sum"; config=(); }
  echo "$(fingerprint "$dumpdir/$1/feats.scp" "$dumpdir/$1/text" "$dumpdir/$1/.done" ${config[@]+"${config[@]}"} \
    ${lm_opts[@]:+"$lmexp/lm.pt"} "$model") $model $options ${lm_opts[*]}"
}
# check_averaged: the model.avg.pt stage 5 decodes and stage 6 reports is the average of
# --num-avg checkpoints (one of another --num-avg was reported as "N best averaged").
check_averaged() {
  if [ "$averaged" = true ] && [ -f "$exp/model.avg.num" ] && [ "$(cat "$exp/model.avg.num")" != "$num_avg" ]; then
    die "stage $current_stage: $model averages $(cat "$exp/model.avg.num") checkpoints, --num-avg is $num_avg: run stage 4 again (it only averages again)"
  fi
}
# ...and of what stage 6 scores: the adapted pass also depends on the speakers and its options.
# (Its decoding options, <dir>/decode_options.yaml, are those of the first pass's inputs.)
# Its options likewise as typed and resolved (asrkit-adapt-speakers --print-config, adapt_sum):
# --adapt-args '--keep=0.5' after '--keep 0.5' (one directory, decode_<set>_<name>_adapt_keep0.5)
# adapted and decoded it again, and stage 6 added a second row.
decode_inputs() {
  if [ "$adapt_speakers" = false ]; then first_pass_inputs "$@"; return; fi
  local options=$adapt_args
  [ "${2:-}" != resolved ] || options="options $adapt_sum"
  echo "$(first_pass_inputs "$@") adapted: $(fingerprint "$dumpdir/$1/utt2spk") $options"
}
# decoded <.done> <first_pass_inputs|decode_inputs> <set>: the marker holds a line of those
# inputs, typed or resolved (an empty one, from before markers recorded their inputs, is trusted
# as in up_to_date). The typed line first: a run again as before asks asrkit-decode nothing.
decoded() {
  [ -f "$1" ] || return 1
  [ -s "$1" ] || return 0
  grep -qxF -e "$("$2" "$3")" -- "$1" && return 0
  resolve_decode_sum
  [ "$2" != decode_inputs ] || resolve_adapt_sum
  grep -qxF -e "$("$2" "$3" resolved)" -- "$1"
}
# decode_record <first_pass_inputs|decode_inputs> <set>: what stage 5 records in the .done.
decode_record() { printf '%s\n%s' "$("$1" "$2")" "$("$1" "$2" resolved)"; }
# decode_sum: the checksum of the decoding options stage 5 decodes with, as asrkit-decode
# --print-config resolves them (stage 5 sets it from the file it packs; stage 6 alone asks here).
decode_sum=
resolve_decode_sum() {
  [ -z "$decode_sum" ] || return 0
  decode_sum=$(decode_options --print-config | cksum | awk '{ print $1 "-" $2 }') \
    || die "stage $current_stage: asrkit-decode --print-config failed for $decode_config${decode_args:+ with --decode-args '$decode_args'}"
}
# adapt_sum: likewise of asrkit-adapt-speakers' options (--adapt-speakers true), asked once.
adapt_sum=
resolve_adapt_sum() {
  [ "$adapt_speakers" = true ] && [ -z "$adapt_sum" ] || return 0
  # shellcheck disable=SC2086  # word-split, as stage 5 gives them
  adapt_sum=$(asrkit-adapt-speakers --print-config $adapt_args | cksum | awk '{ print $1 "-" $2 }') \
    || die "stage $current_stage: asrkit-adapt-speakers --print-config failed for --adapt-args '$adapt_args'"
}

# record_row <decode dir> <its .done and text's checksum> <results file> <row>: <decode dir>/.rows
# records <row> as that decoding's row in that results file (stage 6), written whole or not at all,
# as .done: a half-written line names no row.
record_row() {
  { awk -F'\t' -v d="$2" -v r="$3" '!($1 == d && $2 == r)' "$1/.rows" 2> /dev/null || true
    printf '%s\t%s\t%s\n' "$2" "$3" "$4"; } > "$1/.rows.tmp" && mv -f "$1/.rows.tmp" "$1/.rows"
}

# decode_pass <set> <dir> [asrkit-decode options]: decode $dumpdir/<set> in --nj pieces into <dir>.
decode_pass() {
  local set=$1 dir=$2 n i; shift 2
  n=$(pieces "$dumpdir/$set")
  run "(above)" asrkit-split-data-dir --per-utt "$dumpdir/$set" "$n"
  mkdir -p "$dir/log"
  # (the logs of an earlier decoding in more pieces would be counted below)
  rm -f "$dir"/log/decode.*.log
  # ...and its pieces' outputs, another --nj's split<M>/ beside this split<n>/: hypotheses of an
  # older decoding under the same names, which nothing merges any more; and this --nj's own, each
  # piece decoded anew: asrkit-decode keeps an earlier log/decode.log as decode.log.<N>, so every
  # run of stage 5 added one more to each piece, where Kaldi's run.pl writes a job's log anew.
  # (split<digits> only: a folder of the user's there, split_by_speaker/, is not ours to remove.)
  for i in "$dir"/split[0-9]*; do
    [[ ! ${i##*/} =~ ^split[0-9]+$ ]] || [ ! -d "$i" ] || rm -rf -- "$i"
  done
  run "$dir/log/decode.*.log" $decode_cmd --gpu "$decode_ngpu" JOB=1:"$n" "$dir/log/decode.JOB.log" \
    asrkit-decode --model "$model" --config "$decode_config" "${lm_opts[@]}" "${device_opts[@]}" $decode_args \
      --feats "scp:$dumpdir/$set/split$n/JOB/feats.scp" --output-dir "$dir/split$n/JOB" "$@"
  for i in $(seq "$n"); do cat "$dir/split$n/$i/text"; done | LC_ALL=C sort > "$dir/text"
  for i in $(seq "$n"); do cat "$dir/split$n/$i/nbest.jsonl"; done > "$dir/nbest.jsonl"
  # Said on the console, as stage 1's are: a hypothesis cut at the maximum length (a looping
  # decoder), every text empty, features normalised twice were only in the job logs.
  warnings "$dir/log/decode.*.log"
  [ "$(wc -l < "$dir/text")" -eq "$(wc -l < "$dumpdir/$set/utt2spk")" ] \
    || die "stage 5: $dir/text has $(wc -l < "$dir/text") lines for $(wc -l < "$dumpdir/$set/utt2spk") utterances -- see $dir/log/decode.*.log"
}

# One run at a time decodes and scores an exp dir (bin/data_lock.sh): two stage 5 runs of one
# model wrote their pieces into the same decode dirs at once. (Not for a missing exp: the stages
# below say what to run first.)
if { in_range 5 || in_range 6; } && [ -d "$exp" ]; then
  take_exp_lock "$exp"
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  current_stage=5
  refuse_training_elsewhere
  # The file to hand out: the model decoded below, carrying the decoding options it is decoded
  # with (a copy of a few MB, made again whenever the model or the options change: it follows them).
  # Those are --decode-config with --decode-args and --lm-weight on top, resolved by asrkit-decode
  # itself (--print-config) into exp/<tag>/final_decode.yaml: packing the file alone left out a
  # --decode-args "--beam 20" and the LM weight that stage 5 decoded with.
  log "stage 5: $exp/final.pt: $model with the decoding options of $decode_config${decode_args:+ + --decode-args '$decode_args'}${_lm_weight[*]:+ + --lm-weight $lm_weight (applied when decoding with --lm)} ($exp/final_decode.yaml)"
  # (a misspelt --tag was blamed on the decode config, whose --print-config then failed)
  [ -f "$model" ] || die "stage 5: no $model: run stage 4 for --tag ${tag:-(default)} first, or check --tag$([ "$averaged" = false ] || echo " and --num-avg")"
  check_averaged
  for set in $test_sets; do check_dump "$set" features; done
  # The LM of another --lm-config (or its contents, or another LM text) since stage 3 trained it:
  # "--stage 5" decoded with the old one, "done already" where it had, and stage 6 reported it.
  if [ "$use_lm" = true ] && [ -f "$lmexp/.done" ] && ! up_to_date "$lmexp/.done" "$(lm_inputs)"; then
    die "stage 5: $lmexp was not trained from $lm_config, $lm_train_text and $lang/tokens.txt as they are now (--lm-config, its contents or --lm-train-text changed since stage 3 trained it): run stage 3 again (--stage 3), or give the options it was trained with"
  fi
  print_decode_options "$exp/final_decode.yaml"
  decode_sum=$(cksum < "$exp/final_decode.yaml" | awk '{ print $1 "-" $2 }')
  # Packed again only when the model (by its contents: averaged again, trained again) or the
  # resolved options (decode_sum) differ from those exp/<tag>/.final.pt.done records, or final.pt
  # is gone: every run of stage 5 (each of a sweep, each run again over finished decodings) packed
  # a copy of a few MB for nothing. The record goes before the pack and is written after it
  # succeeds: a pack killed or failed part-way leaves none, and the next run packs again.
  # final.pt's own contents are in the record too: one written over since (by hand, another
  # model's, a half copy) was called up to date, where a pack on every run had made it ours again.
  packed_from="$(fingerprint "$model") $model options $decode_sum final"
  if [ -f "$exp/final.pt" ] && [ -f "$exp/.final.pt.done" ] \
      && [ "$(cat "$exp/.final.pt.done")" = "$packed_from $(fingerprint "$exp/final.pt")" ]; then
    log "stage 5: $exp/final.pt up to date"
  else
    rm -f "$exp/.final.pt.done"
    run "$exp/log/pack_model.log" $train_cmd "$exp/log/pack_model.log" \
      asrkit-pack-model --decode-config "$exp/final_decode.yaml" "$model" "$exp/final.pt"
    mark_done "$exp/.final.pt.done" "$packed_from $(fingerprint "$exp/final.pt")"
  fi
  for set in $test_sets; do
    first=$exp/decode_${set}_$first_name
    first_inputs=$(decode_record first_pass_inputs "$set")
    if decoded "$first/.done" first_pass_inputs "$set"; then
      log "stage 5: $first done already"
    else
      note=
      [ "$num_avg" -eq 0 ] || [ "$averaged" = true ] || note=", the best epoch: the training stopped at its time budget"
      log "stage 5: decoding $dumpdir/$set with $model$note ($decode_config) -> $first"
      # The old marker goes first: kept beside a text merged anew, a run killed (or failed) after
      # the merge left the new hypotheses passing for the old options' at stage 6.
      rm -f "$first/.done"
      decode_pass "$set" "$first"
      mark_done "$first/.done" "$first_inputs"
    fi
    [ "$adapt_speakers" = true ] || continue
    dir=$exp/decode_${set}_$decode_name
    if decoded "$dir/.done" decode_inputs "$set"; then log "stage 5: $dir done already"; continue; fi
    resolve_adapt_sum
    dec_inputs=$(decode_record decode_inputs "$set")
    # Kaldi's decode_fmllr.sh: one transform per speaker from the first pass's hypotheses (no
    # reference read), then the second pass through them. One job: each speaker's utterances go together.
    log "stage 5: speaker transforms from $first/text -> $dir/trans.ark, then the adapted pass -> $dir"
    rm -f "$dir/.done"
    mkdir -p "$dir/log"
    # The decoding passes' options, resolved: given --decode-config alone, it estimated the
    # transforms without --decode-args, on features normalised otherwise (another --edge-pad-s,
    # --no-level-norm) than those of the second pass they are applied to. In the directory's own
    # file: exp/<tag>/final_decode.yaml is whichever stage 5 run wrote it last (another one's, of
    # other options, where two runs share exp/ without the lock).
    # (whole or not at all: a --print-config that failed part-way left a half file there)
    print_decode_options "$dir/decode_options.yaml"
    # shellcheck disable=SC2086
    run "$dir/log/adapt.log" $decode_cmd --gpu "$decode_ngpu" "$dir/log/adapt.log" \
      asrkit-adapt-speakers --model "$model" --config "$dir/decode_options.yaml" "${device_opts[@]}" $adapt_args \
        --utt2spk "$dumpdir/$set/utt2spk" --feats "scp:$dumpdir/$set/feats.scp" "$first/text" "ark:$dir/trans.ark"
    warnings "$dir/log/adapt.log"
    decode_pass "$set" "$dir" --utt2spk "$dumpdir/$set/utt2spk" --spk-transforms "ark:$dir/trans.ark"
    mark_done "$dir/.done" "$dec_inputs"
  done
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  current_stage=6
  check_averaged
  # Every decoding finished before --results is opened (for the lock below, which makes the file):
  # a refusal left an empty RESULTS.md behind.
  for set in $test_sets; do
    dir=$exp/decode_${set}_$decode_name
    [ -f "$dir/text" ] || die "stage 6: no $dir/text: run stage 5 first"
    # Only a decoding that ran to its end for this model and these options: a stage 5 killed or
    # failed part-way left a text short of utterances (scored as deletions, within 5 %), and one
    # of the model before stage 4 was run again was scored as this model's, a row in RESULTS.md each.
    decoded "$dir/.done" decode_inputs "$set" \
      || die "stage 6: $dir/text is not a finished decoding of $model with these options (stage 5 was stopped, failed, or run with other options or another model since): run stage 5 again"
  done
  # One run at a time adds to --results (the runs of other exp dirs share it): two runs finding no
  # header both wrote one, the second over the first one's row. (An flock on the file itself:
  # opened for appending, which changes nothing in it.)
  # A file this run makes for the lock is removed if it ends (scoring failed, Ctrl-C) before a row
  # is in it: an interrupted first stage 6 left an empty RESULTS.md. A run that waited on it then
  # opens the file anew: its rows would have gone to the removed one. (A symlink, even to a file
  # not there yet, is the user's: removing it lost where their results go.)
  trap '[ -z "${made_results:-}" ] || [ -s "$results" ] || rm -f -- "$results"' EXIT
  while :; do
    made_results=
    [ -e "$results" ] || [ -L "$results" ] || made_results=yes
    exec {results_fd}>> "$results"
    if command -v flock > /dev/null && ! flock -n "$results_fd"; then
      log "stage 6: waiting for another run adding its rows to $results"
      flock "$results_fd" || true
    fi
    [ "/dev/fd/$results_fd" -ef "$results" ] && break
    exec {results_fd}>&-
  done
  for set in $test_sets; do
    dir=$exp/decode_${set}_$decode_name
    log "stage 6: scoring $dir"
    run "$dir/log/score.log" $train_cmd "$dir/log/score.log" \
      asrkit-score --utt2spk "data/$set/utt2spk" --output-dir "$dir" "data/$set/text" "$dir/text"
    # (hypotheses of utterances data/$set no longer has, ignored; references without one, scored
    # as deletions: said only in score.log)
    warnings "$dir/log/score.log"
    wer=$(rate WER "$dir/wer.txt")
    cer=$(rate CER "$dir/wer.txt")
    # getconf, not nproc: nproc obeys OMP_NUM_THREADS, which path.sh sets to 1.
    cpu=$(sed -n '/^model name/{s/^model name[^:]*: *//p;q}' /proc/cpuinfo 2> /dev/null)  # (| head -1: SIGPIPE on many cores)
    machine="$(hostname): $(getconf _NPROCESSORS_ONLN) cores${cpu:+ ($cpu)}"
    if [ "$ngpu" -gt 0 ] && command -v nvidia-smi > /dev/null; then
      machine="$machine, ${ngpu}x $(nvidia-smi --query-gpu=name --format=csv,noheader | sed -n 1p)"
    fi
    [ "$num_nodes" -gt 1 ] && machine="$machine; training on $num_nodes nodes x $ngpu GPUs (Slurm)"
    train_time=$( [ -f "$exp/train_seconds" ] && echo "$(cat "$exp/train_seconds") s" || echo "?")
    runs=$exp/log/train_runs.tsv
    if [ -s "$runs" ]; then   # how the time was made up: "1202 s (2 runs)", "1790 s (time budget, 7 epochs)"
      nruns=$(grep -vc '^#' "$runs" || true)
      last=$(awk -F'\t' '!/^#/ { s = $6; e = $5 } END { print s, e }' "$runs")
      note=
      [ "$nruns" -le 1 ] || note="$nruns runs"
      [ "${last% *}" != budget ] || note="${note:+$note, }time budget, ${last#* } epochs"
      train_time="$train_time${note:+ ($note)}"
    fi
    # The table's header, unless the file ends in that table: an empty RESULTS.md (': > RESULTS.md',
    # to start the results afresh) or one of notes alone got rows under no header, no Markdown table.
    # (and a last line without its newline had the row joined to it)
    if [ -s "$results" ] && [ -n "$(tail -c 1 "$results")" ]; then echo >> "$results"; fi
    # The rows go under the table that ends the file: a header earlier in it, followed by notes
    # or another table (FSDD's RESULTS.md), gave rows that were no table's.
    last_table=$(awk '/^\|/ { if (!inb) first = $0; inb = 1; next } { inb = 0 } END { if (inb) print first }' \
      "$results" 2> /dev/null || true)
    if [[ $last_table != "| set | CER % | WER % |"* ]]; then
      # In one write: a run killed between the header's two lines left the header without its
      # separator, which the next run took for the table's (its rows under it: no Markdown table).
      gap=
      [ ! -s "$results" ] || gap=$'\n'
      printf '%s| set | CER %% | WER %% | model config | decode config | training time | date | machine |\n|---|---|---|---|---|---|---|---|\n' \
        "$gap" >> "$results"
    fi
    # (an exp dir trained before the record was kept: this command line's)
    trained_as=$(cat "$exp/train_desc" 2> /dev/null || train_desc)
    adapt_desc=
    [ "$adapt_speakers" = false ] || adapt_desc=" + speaker adaptation${adapt_args:+ ($adapt_args)}"
    model_desc="$trained_as, $(basename "$model")"
    if [ "$averaged" = true ]; then
      n_avg=$(cat "$exp/model.avg.count" 2> /dev/null || true)
      if [ -z "$n_avg" ] || [ "$n_avg" = "$num_avg" ]; then model_desc="$model_desc ($num_avg best averaged)"
      else model_desc="$model_desc ($n_avg best averaged: no more checkpoints for --num-avg $num_avg)"; fi
    fi
    row=$(printf '| %s | %s | %s | %s | %s | %s |' "$set" "$cer" "$wer" "$model_desc (exp/$tag)" \
      "$decode_config${decode_args:+ $decode_args}${lm_opts[*]:+ + LM (weight $lm_weight)}$adapt_desc" "$train_time")
    # A run again over a finished decoding scored it again and added the same row (another date)
    # each time: a row already there, but for its date and machine, is not added twice. Nor one
    # for a decoding that has a row there already under another spelling of its options
    # ('--beam=3' after '--beam 3': one directory, one decoding): <dir>/.rows records the row
    # added for each decoding (its .done and the text scored) and results file.
    done_sum=$(fingerprint "$dir/.done" "$dir/text")
    where=$(readlink -m -- "$results")
    # (the row is all that follows the second tab: a tab in --decode-args is one of the row's, and
    # the third field alone cut it there, so that row was not found and another spelling added one)
    had=$(awk -F'\t' -v d="$done_sum" -v r="$where" '$1 == d && $2 == r { sub(/^[^\t]*\t[^\t]*\t/, ""); print }' \
      "$dir/.rows" 2> /dev/null || true)
    for r in "$row" ${had:+"$had"}; do
      grep -qxF -e "$r" <(sed 's/ [^|]* | [^|]* |$//' "$results") || continue
      # A row found by its text (one of an earlier decoding of the same inputs: the directory removed
      # and decoded again) is this decoding's row too: recorded as such, or another spelling of its
      # options then found neither and added a second one. (Not in a directory of an asr.sh before
      # .rows, whose .done has no resolved line: a run again over it writes nothing, as before.)
      [ "$r" = "$had" ] || [ -z "$(sed -n 2p "$dir/.done")" ] || record_row "$dir" "$done_sum" "$where" "$r"
      log "stage 6: $set: CER $cer %, WER $wer % ($dir/wer.txt); its row is in $results already"
      continue 2
    done
    printf '%s %s | %s |\n' "$row" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$machine" >> "$results"
    record_row "$dir" "$done_sum" "$where" "$row"
    log "stage 6: $set: CER $cer %, WER $wer % ($dir/wer.txt); row added to $results"
  done
fi
log "done: stages $stage..$(( stop_stage < 6 ? stop_stage : 6 ))"  # (the default stop stage is 100)

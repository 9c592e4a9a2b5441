#!/usr/bin/env bash
# Leave-one-speaker-out (LOSO) evaluation of the FSDD recipe: each speaker in turn
# is held out of train AND dev (run.sh --test-speakers <spk>), a model is trained
# on the others with the options given, and the held-out speaker's connected
# digits are decoded and scored. The per-fold WER and CER, their mean and the
# worst fold's WER go to RESULTS.md in a block of their own (replaced, not
# duplicated, when the same --dir/--tag is summarised again).
#
# Each fold is a recipe directory of its own, <dir>/<speaker>/, with its own
# data/, dump/, exp/ and data/lang_*/ (the recipe's scripts and conf/ are linked
# into it), so folds never share a feature, a tokenizer or a model. Re-running
# skips every finished fold (one with its exp/<tag>/decode_test_<name>/wer.txt)
# and resumes an unfinished one at its first stage without a .done marker, as
# asr.sh does. Several training configurations can share one --dir (its data and
# features) under different --tag names, and one tag's models can be decoded with
# several --decode-config files or --decode-args (each has a decode directory and
# a summary block of its own, named by them, and the models are not trained
# again). Options that change the data (anything but the training and
# decoding options listed in the code) need another --dir, and a tag's options are
# recorded so that re-running it with different ones is an error instead of a
# stale result: the options each fold's run.sh runs with, as it resolves them
# itself (./run.sh --print-config true), compared option by option.
#
#   e.g. local/loso.sh --fsdd-root /work/shared/corpora/fsdd
#        local/loso.sh --fsdd-root /work/shared/corpora/fsdd --tag specaug \
#          --train-config conf/train_specaug.yaml
#        # print the pretrainings' and the folds' commands:
#        local/loso.sh --fsdd-root /work/shared/corpora/fsdd --dry-run true
#        # while folds still run:
#        local/loso.sh --fsdd-root /work/shared/corpora/fsdd --summary-only true
#        # the same models + an LM per fold:
#        local/loso.sh --fsdd-root /work/shared/corpora/fsdd --use-lm true
# Options of this script: --fsdd-root DIR (required),
# --speakers "george jackson ..." (the folds, in order; default: every speaker in
# --fsdd-root's recordings/, sorted), --dir DIR (default loso), --tag NAME
# (default), --decode-config FILE, --results FILE, --dry-run true|false,
# --summary-only true|false; every other option goes to run.sh (and from there to
# asr.sh). --init-listener an4 (run.sh's default) pretrains on AN4 once per tag,
# in <dir>/pretrain_an4/exp/<tag> (with the tag's --train-config and
# --train-args), for every fold; --init-listener "" trains every fold from
# scratch. --an4-digit-words N without --an4-aligner trains the aligner
# (conf/align_an4.yaml) once too, in <dir>/pretrain_an4/exp/an4_align.
# --pretrain-max-utts N (run.sh's): both on AN4's first N utterances only, a
# quick trial; an option of the --dir, as the pretraining's data/ is.
# --use-lm/--lm-weight/--lm-config/--lm-train-text decode a tag's models again
# with an LM trained on each fold's training transcripts (decode directory
# <decode-config>_lm, or _lm<weight> for a --lm-weight other than 0.3); the
# models are decoded again adapted to the held-out speaker (asr.sh's second pass,
# --adapt-args; decode directory <decode-config>_adapt, or
# _adapt<adapt args>), as run.sh's default --adapt-speakers true has it;
# --adapt-speakers false summarises the first pass. The decode directory is
# asr.sh's (utils/decode_dir_name.sh), --decode-args in it too.
set -euo pipefail
fsdd_root=          # a copy of FSDD (recordings/); required
speakers=           # the folds, in this order: each one is held out once (default: every speaker of --fsdd-root)
dir=loso            # fold directories: <dir>/<speaker>/
tag=default         # each fold's experiment: <dir>/<speaker>/exp/<tag>
decode_config=conf/decode.yaml  # as run.sh's (it names the decode directory)
results=RESULTS.md  # the summary block goes here (the folds' own rows stay in <dir>/<speaker>/RESULTS.md)
dry_run=false       # true: print the AN4 pretrainings' and each fold's commands, run nothing
summary_only=false  # true: run nothing, write the summary of the folds finished so far (the others
                    # are listed as unfinished; the mean and worst are over the finished ones, and say so)
parse_options_passthrough=true
# Paths below (data/, utils/, conf/) are the recipe directory's: started from elsewhere, bash's
# "./path.sh: No such file or directory" was all it said, after the script's path as $0.
[ -f ./path.sh ] || { echo "$0: run me from my recipe directory: cd $(cd "$(dirname "$0")/.." && pwd) && local/$(basename "$0") (no ./path.sh in $(pwd))" >&2; exit 1; }
. ./path.sh
. utils/parse_options.sh
. utils/same_options.sh
. utils/decode_dir_name.sh

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') (loso.sh) $*" >&2; }
die() { echo "$0: ERROR: $*" >&2; exit 1; }
[ $# -eq 0 ] || die "unexpected arguments: $* (see --help)"
[ -n "$fsdd_root" ] || die "--fsdd-root is required (a copy of https://github.com/Jakobovski/free-spoken-digit-dataset)"
[ -d "$fsdd_root/recordings" ] || die "--fsdd-root $fsdd_root: no recordings/ folder there"
[[ "$tag" =~ ^[A-Za-z0-9._-]+$ ]] || die "--tag '$tag': use letters, digits, '.', '_' and '-' only"
# The folds are <dir>/<speaker>: an empty --dir (or /) put them at the file system's root (/theo).
[[ ! "$dir" =~ ^/*$ ]] || die "--dir '$dir': the folds would go to /<speaker>: give a folder of their own, e.g. loso"
# A relative --dir named with a leading '-' (-x, or -) is taken as ./-x: cd, mkdir, touch and
# dirname took it for their options (cd '-' for $OLDPWD), after local/recipe_dir.sh had made it.
case $dir in -*) dir=./$dir ;; esac
# The summary is written after every fold has run: a --results it cannot be written to was a
# Python traceback (a folder) or touch's error (in no folder) then, hours later.
[ -n "$results" ] && [ ! -d "$results" ] || die "--results '$results': not a file (the summary goes into a file, e.g. RESULTS.md)"
[ -d "$(dirname -- "$results")" ] || die "--results $results: no folder $(dirname -- "$results") for it"
# The speakers of the corpus, named as local/make_connected_digits.py reads them (between the first
# and the last "_" of <digit>_<speaker>_<take>.wav): FSDD's five, or a sixth (lucas), or another
# corpus's own. The folds default to all of them (a fixed list of FSDD's five left a new speaker
# out of every fold, and on another corpus stopped at "no recordings of 'george'").
all_speakers=$(ls "$fsdd_root/recordings" | sed -nE 's/^[0-9]_([A-Za-z0-9][^[:space:]/]*)_[0-9]+\.[wW][aA][vV]$/\1/p' \
  | LC_ALL=C sort -u | tr '\n' ' ')
all_speakers=${all_speakers% }
[ -n "$all_speakers" ] || die "--fsdd-root $fsdd_root: no recordings named <digit>_<speaker>_<take>.wav in recordings/"
given_speakers=$speakers
[ -n "$speakers" ] || speakers=$all_speakers
read -r -a spk_list <<< "$speakers"
[ "${#spk_list[@]}" -ge 1 ] || die "--speakers is empty"
# (a speaker named twice was one fold run once and summarised twice: the mean weighed it double)
twice=$(printf '%s\n' "${spk_list[@]}" | LC_ALL=C sort | uniq -d | sed -n 1p)
[ -z "$twice" ] || die "--speakers: '$twice' is named twice (each speaker is one fold)"
for spk in "${spk_list[@]}"; do
  [[ " $all_speakers " == *" $spk "* ]] || die "--speakers: no recordings of '$spk' in $fsdd_root/recordings (speakers there: $all_speakers)"
done

recipe=$(pwd)
# The folds run one directory further down: a path given relative to the recipe must still name
# the same file there (conf/ and local/ are linked, but --fsdd-root ../x or my.yaml are not).
abspath() { if [ -e "$1" ] && [[ "$1" != /* ]]; then echo "$recipe/$1"; else echo "$1"; fi; }
fsdd_root=$(abspath "$fsdd_root")
decode_config=$(abspath "$decode_config")
case $dir in /*) dir_abs=$dir ;; *) dir_abs=$recipe/$dir ;; esac
pretrained=$dir_abs/pretrain_an4/exp/$tag/pretrained.pt   # --init-listener an4, for every fold of the tag
# run.sh hands the model to asrkit-train in --train-args, split at spaces: under a folder with a
# space in its name, the folds (<dir>/<speaker>) name it relatively, as run.sh then passes it on.
[[ $pretrained != *[[:space:]]* ]] || pretrained=../pretrain_an4/exp/$tag/pretrained.pt
pretrain=false init_given=false nj_given=false
aligner=$dir_abs/pretrain_an4/exp/an4_align/pretrained.pt   # --an4-digit-words, for every fold
digit_words=0 aligner_given=false
an4_opt=()   # --an4-root, --max-utts, --nj and --seed, for the aligner (its training options are conf/align_an4.yaml's)
pretrain_opts=()   # the folds' --train-config, --train-args, --an4-root, --max-utts, --nj and --seed, for local/pretrain_an4.sh
args=()
data_args=()   # the options that change data/ or dump/: they must be the same for every tag of a --dir
lm_args=()     # LM fusion and speaker adaptation: a decoding of the tag's models, recorded per decode directory, not per tag
use_lm=false adapt=true   # run.sh's default: the fold's test speaker decoded a second time, adapted to them
# The options as given, for the records of the loso.sh before this one (old_form, below).
given_opts=() given_lm=() init_val=$pretrained
# Which record an option of run.sh's is in (named as the variables of run.sh --print-config true's
# lines; is_one <names> <--option> is whether the option is one of them). The --dir's: all but the
# training and decoding options (another value of any of the others needs data/ or dump/ made
# again); the tag's: all but the LM's and the speaker adaptation's, which are a decoding's
# (recorded per decode directory). Not recorded: the corpora's paths (a moved copy is the same
# data, as in run.sh's data/stage0_options), what this script sets for each fold, and
# --decode-config and --decode-args, which name the decode directory, and --decode-ngpu (where it
# decodes). (--decode-args and --decode-ngpu were the tag's: other ones, which change no model,
# were refused as "use another --tag"; a record made then still has them, not compared.)
not_recorded='fsdd_root|an4_root|test_speakers|stage|stop_stage|tag|results|test_sets|decode_config|decode_args|decode_ngpu'
lm_names='use_lm|lm_weight|lm_config|lm_train_text|adapt_speakers|adapt_args'
training_names='train_config|train_args|init_listener|num_avg|ngpu|nj'
# --decode-args and --decode-ngpu, no longer the tag's, are not the --dir's either: counted among
# the --dir's options given, a --dir of the loso.sh before the records above (loso_data_args, which
# never held them) was refused as made with other options.
decoding_names='decode_args|decode_ngpu'
is_one() { local name=${2#--}; [[ ${name//-/_} =~ ^($1)$ ]]; }

i=0
while [ "$i" -lt "${#passthrough_args[@]}" ]; do
  opt=${passthrough_args[$i]}; val=${passthrough_args[$((i + 1))]:-}
  i=$((i + 2))
  # One spelling, as run.sh reads both (--test_speakers is --test-speakers): the checks below saw
  # only the dashes, and --test_speakers theo, given after the fold's own, tested theo in every fold.
  opt=--${opt#--}; opt=${opt//_/-}
  case $opt in
    --stage|--stop-stage|--test-speakers|--tag|--results|--test-sets)
      die "$opt is set by local/loso.sh for each fold" ;;
    --decode-config) die "give --decode-config to local/loso.sh itself (it names the decode directory)" ;;
    # (passed on, it made each fold's run.sh print its options and run nothing, after the AN4
    # pretraining had run, a download first)
    --print-config)
      [ "$val" = false ] || die "--print-config $val: run.sh's option, for one run (./run.sh --print-config true); local/loso.sh --dry-run true prints the pretrainings' and folds' commands"
      continue ;;
  esac
  if is_one "$lm_names" "$opt"; then
    [ "$opt" != --use-lm ] || use_lm=$val
    [ "$opt" != --adapt-speakers ] || adapt=$val
    given_lm+=("$opt" "$val")
    lm_args+=("$opt" "$(abspath "$val")"); continue
  fi
  given=$val
  val=$(abspath "$val")
  case $opt in
    --train-config|--train-args|--an4-root) pretrain_opts+=("$opt" "$val")
      [ "$opt" != --an4-root ] || an4_opt+=(--an4-root "$val") ;;
    # (the folds' feature jobs, and their seed: run.sh hands both to its own pretraining too)
    --nj|--seed) pretrain_opts+=("$opt" "$val"); an4_opt+=("$opt" "$val")
      [ "$opt" != --nj ] || nj_given=true ;;
    # One AN4 pretraining serves every fold (AN4 holds no FSDD speaker): made below, in <dir>/pretrain_an4.
    --init-listener) init_given=true
      [ "$val" != an4 ] || { pretrain=true; val=$pretrained; } ;;
    --an4-digit-words) digit_words=$val ;;
    # (run.sh's option, local/pretrain_an4.sh's --max-utts; in data_args below: every tag of a --dir
    # pretrains on its one <dir>/pretrain_an4/data)
    --pretrain-max-utts) [[ "$val" =~ ^[0-9]+$ ]] || die "--pretrain-max-utts must be 0 (all of AN4) or more, got '$val'"
      pretrain_opts+=(--max-utts "$val"); an4_opt+=(--max-utts "$val") ;;
    --an4-aligner) aligner_given=true ;;
  esac
  args+=("$opt" "$val")
  is_one "$training_names|$decoding_names" "$opt" || data_args+=("$opt" "$val")
  # (--init-listener: its model recorded last, given or not)
  if [ "$opt" = --init-listener ]; then init_val=$val; continue; fi
  given_opts+=("$opt" "$given")
done
if [ "$init_given" = false ]; then   # run.sh's default, made here once for every fold
  pretrain=true
  args+=(--init-listener "$pretrained")
fi
# AN4's digit words are cut with one aligner for every fold (made below, as the pretraining is).
make_aligner=false
if [[ "$digit_words" =~ ^[0-9]+$ ]] && [ "$digit_words" -gt 0 ] && [ "$aligner_given" = false ]; then
  make_aligner=true
  args+=(--an4-aligner "$aligner")
  data_args+=(--an4-aligner "$aligner")
fi
# fold_options <run.sh options...>: the options a fold's run.sh runs with, as run.sh itself resolves
# them (--print-config true: its defaults and asr.sh's, the values it works out, its checks), one
# name=value line each, sorted, a number spelt one way (0.50: 0.5) and a path under the recipe
# named from it (conf/x.yaml, given so or as $recipe/conf/x.yaml). Reading run.sh's and asr.sh's
# source for their defaults missed a default worked out in code, and a renamed option silently.
# The models made here before the folds (not there yet, which run.sh refuses) are asked as none and
# put back as the folds get them. The values run.sh and asr.sh work out from other options (the
# comment lines '# train_set=train_an4_digits  # worked out from --an4-words', printed so that a
# file read back works them out again) are recorded as the others: what a fold runs with, whatever
# it was worked out from. (Leaving them out would compare only the options they come from, which
# gives the same answer only while run.sh works them out the same way; a record made before by a
# run.sh that named the training set otherwise is refused, not taken as the same data, and the
# records written before these lines were comments read the same.)
fold_options() {
  local out line name value
  out=$(./run.sh --print-config true --fsdd-root "$fsdd_root" --test-speakers "${spk_list[0]}" "$@") \
    || die "run.sh refuses the folds' options (above): nothing was run"
  while IFS= read -r line; do
    case $line in
      "# "[a-z]*=*"  # worked out from "*) line=${line#"# "}; line=${line%"  # worked out from "*} ;;
      "#"*|"") continue ;;
    esac
    name=${line%%=*} value=${line#*=}
    case $value in \"*\") value=${value:1:-1} ;; \'*\') value=${value:1:-1} ;; esac
    case $name in
      init_listener) [ "$init_val" != "$pretrained" ] || value=$init_val ;;
      an4_aligner) [ "$make_aligner" != true ] || value=$aligner ;;
    esac
    echo "$name=$(same_spelling "$value")"
  done <<< "$out" | LC_ALL=C sort
}
same_spelling() {
  local v=$1
  if [[ $v =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]]; then awk -v x="$v" 'BEGIN { printf "%.15g\n", x }'; return; fi
  v=$(abspath "$v"); echo "${v#"$recipe/"}"
}
probe=()   # the folds' options, with the models made here given as none
for ((k = 0; k < ${#args[@]}; k += 2)); do
  case ${args[k]} in
    --init-listener) [ "${args[k + 1]}" != "$pretrained" ] || { probe+=(--init-listener ""); continue; } ;;
    --an4-aligner) [ "$make_aligner" != true ] || { probe+=(--an4-aligner ""); continue; } ;;
  esac
  probe+=("${args[k]}" "${args[k + 1]}")
done
options=$(fold_options "${probe[@]}" --tag "$tag" --decode-config "$decode_config" ${lm_args[@]+"${lm_args[@]}"})
option() { sed -n "s/^$1=//p" <<< "$options"; }
# asr.sh's name for the decode directory, from the options as the folds run with them: the LM
# fused in, another LM weight or adaptation gets its own (the same models, no retraining).
decode_name=$(decode_dir_name "$decode_config" "$(option decode_args)" "$use_lm" "$(option lm_weight)")
[ "$adapt" != true ] \
  || decode_name=$(decode_dir_name "$decode_config" "$(option decode_args)" "$use_lm" "$(option lm_weight)" "$(option adapt_args)")
# --nj not given: the folds run with run.sh's default, and so do the pretrainings (they ran
# pretrain_an4.sh's own default, 2 jobs, where run.sh gives its pretraining its --nj, given or not).
if [ "$nj_given" = false ]; then
  pretrain_opts+=(--nj "$(option nj)"); an4_opt+=(--nj "$(option nj)")
fi
# What the records hold (the names above).
tag_rec=$(grep -Ev "^($not_recorded|$lm_names)=" <<< "$options")
data_rec=$(grep -Ev "^($training_names)=" <<< "$tag_rec")
lm_rec=$(grep -E "^($lm_names)=" <<< "$options")

# show <args...>: the arguments as one line a shell reads back the same (quoted only where needed).
show() {
  local a out=""
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./,:=+@%-]+$ ]]; then out+=" $a"; else out+=" \"${a//\"/\\\"}\""; fi
  done
  echo "${out# }"
}

# sed's own q, not | head -1: under pipefail a writer that outlives its reader ends the script
# (SIGPIPE), now and then.
wer_of() { sed -n "/^%$1 /{s/^%$1 *\([0-9.]*\).*/\1/p;q}" "$2"; }

# The options a fold's data/ (--dir) and its exp/<tag> were made with are recorded in the fold, so
# a re-run never mixes results of two configurations. Folds made with other options are refused
# before anything runs (the AN4 pretraining included); a --summary-only run records nothing, but
# does not summarise them either.
# same_record [--record] <record> <what> <now> <remedy>: the fold's record of <what> (name=value
# lines) against <now>, option by option (in any order); one that differs: one line naming the
# options, and exit 1. An option on one side only (a record made before run.sh had it, or run.sh
# has since lost it) is said, not compared. No record: <now> is written (with --record), or a
# record of the loso.sh before this one is checked (old_record).
same_record() {
  local record=false
  [ "$1" != --record ] || { record=true; shift; }
  local file=$1 what=$2 now=$3 remedy=$4 line k only=()
  local -A made=() is=()
  local -a was_opts=() is_opts=()
  if [ ! -f "$file" ]; then
    old_record "$file" "$what" "$remedy"
    if [ "$record" = true ]; then
      mkdir -p "$(dirname "$file")"
      printf '%s\n' "$now" > "$file.tmp" && mv -f "$file.tmp" "$file"
    fi
    return 0
  fi
  while IFS= read -r line; do
    [ -z "$line" ] || [[ ${line%%=*} =~ ^($not_recorded)$ ]] || made[${line%%=*}]=${line#*=}
  done < "$file"
  while IFS= read -r line; do [ -z "$line" ] || is[${line%%=*}]=${line#*=}; done <<< "$now"
  for k in $(printf '%s\n' "${!made[@]}" "${!is[@]}" | LC_ALL=C sort -u); do
    if [ -z "${made[$k]+x}" ] || [ -z "${is[$k]+x}" ]; then only+=("--${k//_/-}"); continue; fi
    [ "${made[$k]}" = "${is[$k]}" ] && continue
    [ "$k" != adapt_args ] || ! same_adapt_options "${made[$k]}" "${is[$k]}" || continue
    was_opts+=("--${k//_/-}" "${made[$k]}"); is_opts+=("--${k//_/-}" "${is[$k]}")
  done
  [ ${#was_opts[@]} -eq 0 ] || die "$what was made with $(show "${was_opts[@]}"), these options give $(show "${is_opts[@]}"): $remedy"
  [ ${#only[@]} -eq 0 ] || log "note: $file was made by a run.sh with other options than this one's (${only[*]}, on one side only): not compared"
}
# same_adapt_options <adapt args> <adapt args>: the two resolve to the same options of
# asrkit-adapt-speakers (its --print-config, word-split as asr.sh gives them), as asr.sh's stage 5
# takes them for one adaptation: '--keep=0.5' after '--keep 0.5' (one decode directory,
# ..._adapt_keep0.5) was refused here as that directory's other options. The new ones (<2>)
# refused by asrkit-adapt-speakers are said so: taken as other options, they sent the user to
# another --decode-config, where the fold then failed at stage 5, after its training.
same_adapt_options() {
  local a b why
  # shellcheck disable=SC2086
  if ! b=$(asrkit-adapt-speakers --print-config $2 2> /dev/null); then
    # (asked again for its message: only on the way out)
    # shellcheck disable=SC2086
    why=$(asrkit-adapt-speakers --print-config $2 2>&1 > /dev/null | sed -n '/^Error: /{s///p;q}') || true
    die "--adapt-args $(show "$2"): asrkit-adapt-speakers refuses it${why:+ ($why)}"
  fi
  # shellcheck disable=SC2086
  a=$(asrkit-adapt-speakers --print-config $1 2> /dev/null) && [ "$a" = "$b" ]
}
# old_record <record> <what> <remedy>: the record the loso.sh before this one wrote beside
# <record> (loso_data_args for loso_data_options, loso_args, loso_lm_args_<decode>): the options
# given, one line, either all of them (the first loso.sh) or each once with its last value,
# without those given run.sh's defaults, --init-listener's model last, then a made --an4-aligner.
# One of these forms of this run's options, in any order: the same (and <record> takes its
# place); another line: refused as that loso.sh refused it. None there: nothing to check.
old_record() {
  local file=${1%_options}_args what=$2 remedy=$3 made
  local -a now_given=() now_set=()
  case $1 in */loso_lm_options_*) file=${1%/*}/loso_lm_args_${1##*/loso_lm_options_} ;; esac
  [ -f "$file" ] || return 0
  case $file in
    */loso_data_args) now_given=(${data_args[@]+"${data_args[@]}"}); old_form data ;;
    */loso_args) now_given=("${args[@]}"); old_form tag ;;
    *) now_given=(${lm_args[@]+"${lm_args[@]}"}); old_form lm ;;
  esac
  now_set=(${form[@]+"${form[@]}"})
  made=$(cat "$file")
  ! same_pairs "$made" ${now_given[@]+"${now_given[@]}"} || return 0
  ! same_pairs "$made" ${now_set[@]+"${now_set[@]}"} || return 0
  same_options "$file" "$what" "${now_set[*]}" "$remedy"
}
# same_pairs <line> <option> <value>...: <line> is the options and values, one line, in some order.
same_pairs() {
  local rest=" $1 " k pair
  shift
  local -a a=("$@")
  for ((k = 0; k < ${#a[@]}; k += 2)); do
    pair=" ${a[k]} ${a[k + 1]} "
    [[ $rest == *"$pair"* ]] || return 1
    rest=${rest/"$pair"/ }
  done
  [[ $rest =~ ^[[:space:]]*$ ]]
}
# old_form data|tag|lm: this run's options as the loso.sh before this one recorded them, in the
# array form (each once, with its last value). An option is given its default where run.sh
# resolves it to the value it has given nothing (its defaults asked of it once, here, and only for
# an old record).
old_form() {
  local -a pairs=() out=()
  local -A seen=()
  local k name v
  [ -n "${defaults+x}" ] || defaults=$(fold_options --init-listener "")
  case $1 in lm) pairs=(${given_lm[@]+"${given_lm[@]}"}) ;; *) pairs=(${given_opts[@]+"${given_opts[@]}"}) ;; esac
  for ((k = 0; k < ${#pairs[@]}; k += 2)); do
    name=${pairs[k]#--}; name=${name//-/_}
    v=$(sed -n "s/^$name=//p" <<< "$defaults")
    [ "$(same_spelling "${pairs[k + 1]}")" != "$v" ] || continue
    [ "$1" != data ] || ! is_one "$training_names|$decoding_names" "$name" || continue
    out+=("${pairs[k]}" "$(abspath "${pairs[k + 1]}")")
  done
  [ "$1" = lm ] || [ "$1" = data ] || out+=(--init-listener "$init_val")
  [ "$1" = lm ] || [ "$make_aligner" != true ] || out+=(--an4-aligner "$aligner")
  form=()
  for ((k = ${#out[@]} - 2; k >= 0; k -= 2)); do   # (as parse_options.sh keeps them)
    [ -z "${seen[${out[k]}]+x}" ] || continue
    seen[${out[k]}]=1
    form=("${out[k]}" "${out[k + 1]}" ${form[@]+"${form[@]}"})
  done
}
for spk in "${spk_list[@]}"; do
  same_record "$dir/$spk/loso_data_options" "--dir $dir" "$data_rec" "use another --dir"
  same_record "$dir/$spk/exp/$tag/loso_options" "--tag $tag" "$tag_rec" "use another --tag"
done

pretrain_cmd=(local/pretrain_an4.sh --dir "$dir/pretrain_an4" --tag "$tag" ${pretrain_opts[@]+"${pretrain_opts[@]}"})
align_cmd=(local/pretrain_an4.sh --dir "$dir/pretrain_an4" --tag an4_align --train-config conf/align_an4.yaml
  ${an4_opt[@]+"${an4_opt[@]}"})
if [ "$dry_run" = true ]; then   # (printed too: what they are given is as much the run as the folds' commands)
  [ "$pretrain" != true ] || echo "pretraining: $(show "${pretrain_cmd[@]}") -> $pretrained"
  [ "$make_aligner" != true ] || echo "aligner: $(show "${align_cmd[@]}") -> $aligner"
elif [ "$summary_only" != true ]; then
  if [ "$pretrain" = true ]; then
    log "--init-listener an4: the listener pretrained on AN4 -> $dir/pretrain_an4 (local/pretrain_an4.sh)"
    "${pretrain_cmd[@]}"
  fi
  if [ "$make_aligner" = true ]; then
    log "--an4-digit-words $digit_words: the aligner of AN4's digit words -> $dir/pretrain_an4/exp/an4_align"
    "${align_cmd[@]}"
  fi
fi
for spk in "${spk_list[@]}"; do
  [ "$summary_only" != true ] || continue   # nothing is run or recorded
  d=$dir/$spk
  wer=$d/exp/$tag/decode_test_$decode_name/wer.txt
  run_args=(--fsdd-root "$fsdd_root" --test-speakers "$spk" "${args[@]}")
  asr_args=(--tag "$tag" --decode-config "$decode_config" --results RESULTS.md "${lm_args[@]}")
  if [ "$dry_run" = true ]; then
    echo "fold $spk: (cd $d && ./run.sh $(show "${run_args[@]}") --stop-stage 0) -> $d/data/{train,dev,test}"
    echo "fold $spk: (cd $d && ./run.sh $(show "${run_args[@]}" "${asr_args[@]}") --stage 1) -> $wer"
    continue
  fi
  local/recipe_dir.sh "$d"
  same_record --record "$d/loso_data_options" "--dir $dir" "$data_rec" "use another --dir"
  same_record --record "$d/exp/$tag/loso_options" "--tag $tag" "$tag_rec" "use another --tag"
  { [ "$use_lm" != true ] && [ "$adapt" != true ]; } || same_record --record "$d/exp/$tag/loso_lm_options_$decode_name" \
    "the decode directory decode_test_$decode_name of --tag $tag (with an LM or speaker adaptation)" "$lm_rec" \
    "give the options it was made with, or another --decode-config (a copy of ${decode_config#"$recipe/"} under another name decodes into a directory of its own)"
  if [ -f "$wer" ]; then log "fold $spk: done already ($wer)"; continue; fi
  if [ ! -f "$d/data/.done" ]; then
    log "fold $spk: stage 0 (held out: $spk) -> $d/data"
    (cd "$d" && ./run.sh "${run_args[@]}" --stop-stage 0) || die "fold $spk: stage 0 failed"
    touch "$d/data/.done"
  fi
  log "fold $spk: stages 1-6 -> $d/exp/$tag (log: $d/exp/$tag/log/)"
  (cd "$d" && ./run.sh "${run_args[@]}" "${asr_args[@]}" --stage 1) || die "fold $spk: stages 1-6 failed (see above)"
  [ -f "$wer" ] || die "fold $spk: run.sh finished without $wer"
done
[ "$dry_run" = true ] && exit 0

# ---- the summary block in $results ----
cpu=$(sed -n '/^model name/{s/^model name[^:]*: *//p;q}' /proc/cpuinfo 2> /dev/null)
machine="$(hostname): $(getconf _NPROCESSORS_ONLN) cores${cpu:+ ($cpu)}"
block=$(mktemp)
trap 'rm -f "$block"' EXIT
{
  echo "<!-- loso $dir/$tag/$decode_name -->"
  spk_opt=()
  [ -z "$given_speakers" ] || [ "$speakers" = "$all_speakers" ] || spk_opt=(--speakers "$speakers")
  shown=$(show --fsdd-root "$fsdd_root" "${spk_opt[@]}" --dir "$dir" --tag "$tag" --decode-config "$decode_config" \
    "${args[@]}" "${lm_args[@]}")
  echo "LOSO \`$dir\` / \`$tag\` / \`$decode_name\`: \`local/loso.sh ${shown//$recipe\//}\`"
  echo "(summarised $(date -u '+%Y-%m-%d %H:%M UTC') on $machine)"
  echo
  # takes: the held-out speaker's takes as recorded (data/test_takes), one digit per file; "-" for a
  # fold made before run.sh decoded them
  echo "| held-out speaker | WER % | CER % | errors / words | takes WER % | training time | epochs (best) |"
  echo "|---|---|---|---|---|---|---|"
  unfinished=()
  for spk in "${spk_list[@]}"; do
    e=$dir/$spk/exp/$tag
    w=$e/decode_test_$decode_name/wer.txt
    if [ ! -f "$w" ]; then unfinished+=("$spk"); continue; fi
    words=$(sed -n '/^%WER /{s/^%WER [0-9.]* \[ \([0-9]*\) \/ \([0-9]*\),.*/\1 \/ \2/p;q}' "$w")
    secs=$( [ -f "$e/train_seconds" ] && cat "$e/train_seconds" || echo "?")
    epochs=$(sed -n 's/.*Done \([0-9]*\) epochs out of.*/\1/p' "$e/log/train.log" 2> /dev/null | tail -1)
    best=$(sed -n 's/.*best epoch \([0-9]*\).*/\1/p' "$e/log/train.log" 2> /dev/null | tail -1)
    tw=$e/decode_test_takes_$decode_name/wer.txt
    takes=$( [ -f "$tw" ] && wer_of WER "$tw" || echo "-")
    printf '| %s | %s | %s | %s | %s | %s s | %s |\n' "$spk" "$(wer_of WER "$w")" "$(wer_of CER "$w")" "$words" "$takes" \
      "$secs" "${epochs:-?}${best:+ ($best)}"
  done > "$block.rows"
  cat "$block.rows"
  for spk in "${unfinished[@]}"; do echo "| $spk | unfinished | | | | | |"; done
  # Over the finished folds only: with some unfinished the rows say how many they cover.
  if [ -s "$block.rows" ]; then awk -F' [|] ' -v total="${#spk_list[@]}" '
    { w = $2 + 0; c = $3 + 0; sw += w; sc += c; n++; if (n == 1 || w > worst) { worst = w; who = $1 }
      if ($5 != "-") { st += $5 + 0; nt++ }
      t += $6 + 0 }
    END { sub(/^\| /, "", who); of = (n < total) ? sprintf(" of %d/%d folds", n, total) : ""
          # the takes mean only over folds that have them all: a part would read as the whole
          takes = (nt == n) ? sprintf("%.2f", st / n) : "-"
          printf "| **mean%s** | **%.2f** | %.2f | | %s | %d s in all | |\n| **worst%s** | **%.2f** (%s) | | | | | |\n",
                 of, sw / n, sc / n, takes, t, of, worst, who }' "$block.rows"; fi
  echo "<!-- /loso $dir/$tag/$decode_name -->"
} > "$block"
rm -f "$block.rows"
touch "$results"
# Replace this dir/tag's earlier block (if any) in place; otherwise append.
python3 - "$results" "$block" "<!-- loso $dir/$tag/$decode_name -->" "<!-- /loso $dir/$tag/$decode_name -->" <<'EOF'
import os
import sys
path, block_path, start, end = sys.argv[1:]
text = open(path).read()
block = open(block_path).read().rstrip("\n") + "\n"
i, j = text.find(start), text.find(end)
if i >= 0 and j > i:
    rest = text[j + len(end):].lstrip("\n")
    text = text[:i] + block + ("\n" + rest if rest else "")
else:
    text = text.rstrip("\n") + "\n\n" + block
with open(path + ".tmp", "w") as f:
    f.write(text)
os.replace(path + ".tmp", path)
EOF
sed -n '/^| \*\*mean/p;/^| \*\*worst/p' "$block" >&2
log "summary of $dir/$tag/$decode_name written to $results"

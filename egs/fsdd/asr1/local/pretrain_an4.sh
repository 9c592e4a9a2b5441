#!/usr/bin/env bash
# A model pretrained on AN4's voices for FSDD fine-tuning (issue #10 item 2):
# every AN4 utterance (84 speakers, spelled letters, digits, commands; 16 kHz read
# at 8 kHz) with FSDD's features (conf/fbank.yaml) and model (--train-config,
# conf/train_umn.yaml by default, as run.sh), so that its listener can start an
# FSDD training:
#   e.g. local/pretrain_an4.sh --an4-root /work/shared/corpora/an4
#        ./run.sh ... --init-listener pretrain_an4/exp/an4_8k/pretrained.pt
#        local/loso.sh ... --tag ft_an4 \
#          --init-listener pretrain_an4/exp/an4_8k/pretrained.pt
# AN4 holds no FSDD speaker, so one pretrained model serves every
# leave-one-speaker-out fold. Only the listener is taken: the pretrained tokenizer
# (AN4's characters) need not be FSDD's.
#
# Everything goes to its own recipe directory, --dir (default pretrain_an4):
# data/{all,train,dev}, dump/, data/lang_char/, exp/<tag>/ (asr.sh's stages 1, 2
# and 4); dev is 10 % of AN4's speakers, drawn whole (asrkit-holdout-lists
# --by-speaker), for early stopping and checkpoint averaging. Re-running resumes
# at the first unfinished stage, as asr.sh does. exp/<tag>/pretrained.pt names the
# model to start from: model.avg.pt, or model.pt where a time budget stopped the
# training (it averages nothing then). The options a directory and a tag were made
# with are recorded (data/.done, exp/<tag>/pretrain_options: the training config's
# content, not only its name), and re-running them with other options is an error:
# a changed model would otherwise meet the old one's weights (a shape error at
# best, a silently stale listener at worst).
# Options: --an4-root DIR (empty: download CMU's tarball), --dir DIR, --tag NAME,
# --train-config FILE, --dev-fraction F, --nj N, --seed N, --max-utts N (the
# first N of AN4's utterances only: a quick trial; 0: all), --instead TEXT (what a
# refusal advises beside deleting; run.sh names its own options there);
# --train-args "..." goes to asrkit-train.
set -euo pipefail
an4_root=           # a copy of AN4 (etc/, wav/); empty: download CMU's tarball into <dir>/downloads
dir=pretrain_an4    # the pretraining's own recipe directory
tag=an4_8k          # its experiment: <dir>/exp/<tag>/model.pt (or model.avg.pt)
train_config=conf/train_umn.yaml
train_args=
dev_fraction=0.1    # share of AN4's utterances held out for dev, drawn as whole speakers
nj=2
seed=1
max_utts=0          # keep only AN4's first N utterances (a quick trial); 0: all
# A refusal's advice beside deleting: run.sh, whose users give neither --dir nor --tag, names its own options.
instead="give another --dir or --tag"
# Paths below (data/, utils/, conf/) are the recipe directory's: started from elsewhere, bash's
# "./path.sh: No such file or directory" was all it said, after the script's path as $0.
[ -f ./path.sh ] || { echo "$0: run me from my recipe directory: cd $(cd "$(dirname "$0")/.." && pwd) && local/$(basename "$0") (no ./path.sh in $(pwd))" >&2; exit 1; }
. ./path.sh
. utils/parse_options.sh
. utils/same_options.sh

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') (pretrain_an4.sh) $*" >&2; }
die() { echo "$0: ERROR: $*" >&2; exit 1; }
[ $# -eq 0 ] || die "unexpected arguments: $* (see the comments at the top)"
[[ "$max_utts" =~ ^[0-9]+$ ]] || die "--max-utts must be a number, got '$max_utts'"
[[ "$tag" =~ ^[A-Za-z0-9._-]+$ ]] || die "--tag '$tag': use letters, digits, '.', '_' and '-' only"
# A relative --dir named with a leading '-' (-x, or -) is taken as ./-x: cd, mkdir, touch and
# dirname took it for their options (cd '-' for $OLDPWD), after local/recipe_dir.sh had made it.
case $dir in -*) dir=./$dir ;; esac
# run.sh and local/loso.sh hand a fold's --train-args to this pretraining too. What only a
# fine-tuning means belongs to the fold: --freeze and --init-modules (with their values) and
# `--set finetune.*` are left out here, so `--train-args "--freeze listener.layers.0"` pretrains
# the whole listener and keeps its lowest layer fixed in the fold (without this, the pretraining
# itself froze a random layer). --init cannot be meant here: the pretraining starts from scratch.
read -r -a words <<< "$train_args"
kept=() i=0
while [ "$i" -lt "${#words[@]}" ]; do
  w=${words[$i]} next=${words[$((i + 1))]:-}
  case $w in
    --freeze|--init-modules) i=$((i + 2)); continue ;;
    --freeze=*|--init-modules=*|--set=finetune.*) i=$((i + 1)); continue ;;
    --set) case $next in finetune.*) i=$((i + 2)); continue ;; esac ;;
    --init|--init=*) die "--train-args: $w starts a fine-tuning from a model; the AN4 pretraining trains from random weights (a fold's listener comes from --init-listener)" ;;
  esac
  kept+=("$w"); i=$((i + 1))
done
train_args="${kept[*]}"
recipe=$(pwd)
abspath() { if [ -e "$1" ] && [[ "$1" != /* ]]; then echo "$recipe/$1"; else echo "$1"; fi; }
[ -f "$train_config" ] || die "--train-config $train_config: no such file"
train_config=$(abspath "$train_config")
[ -z "$an4_root" ] || an4_root=$(abspath "$an4_root")

local/recipe_dir.sh "$dir" || die "--dir '$dir': not a folder of the pretraining's own (above)"
cd "$dir"

# The options data/ and exp/<tag> were made with (utils/same_options.sh: other ones are an error).
data_opts="dev_fraction=$dev_fraction seed=$seed max_utts=$max_utts"
train_opts="train_config=$(basename "$train_config") sha1=$(sha1sum < "$train_config" | cut -c1-12) train_args=$train_args seed=$seed"
# An old .done is empty: it was made with the defaults of its time, which cannot be checked.
[ ! -s data/.done ] || same_options data/.done "$dir/data" "$data_opts" \
  "delete $dir/data to make it again, or $instead"
same_options "exp/$tag/pretrain_options" "$dir/exp/$tag" "$train_opts" \
  "delete $dir/exp/$tag to make it again, or $instead"

if [ ! -f data/.done ]; then
  what="all utterances"; [ "$max_utts" -eq 0 ] || what="its first $max_utts utterances: --max-utts"
  log "AN4 ($what) at 8 kHz -> $dir/data/all; $dev_fraction of its speakers -> $dir/data/dev"
  local/an4_data.sh --an4-root "$an4_root" --words all --resample none data/all
  if [ "$max_utts" -gt 0 ]; then
    utils/subset_data_dir.sh --first "$max_utts" data/all data/all.first && rm -rf data/all && mv data/all.first data/all
  fi
  asrkit-holdout-lists --by-speaker --dev-fraction "$dev_fraction" --seed "$seed" data/all data/local
  rm -rf data/train data/dev
  utils/subset_data_dir.sh --utt-list data/local/train.list data/all data/train
  utils/subset_data_dir.sh --utt-list data/local/dev.list data/all data/dev
  # whole or not at all (a temporary, then a rename): an empty marker is taken as done with any options
  printf '%s\n' "$data_opts" > data/.done.tmp && mv -f data/.done.tmp data/.done
fi
mkdir -p "exp/$tag" && echo "$train_opts" > "exp/$tag/pretrain_options"
# --fbank-args --resample: the AN4 WAVs are 16 kHz, FSDD's features 8 kHz (conf/fbank.yaml).
./asr.sh --stage 1 --stop-stage 4 --train-set train --valid-set dev --test-sets dev --seed "$seed" \
  --nj "$nj" --token-type char --num-avg 3 --fbank-config conf/fbank.yaml --fbank-args --resample \
  --train-config "$train_config" --train-args "$train_args" --tag "$tag"
model=model.avg.pt
[ -f "exp/$tag/$model" ] || model=model.pt   # a budget-stopped training averages nothing
[ -f "exp/$tag/$model" ] || die "no model in $dir/exp/$tag after training"
ln -sfn "$model" "exp/$tag/pretrained.pt"
# The model to name: run.sh refuses a path with a space in it (its --train-args are split at
# spaces), so under a folder with one it is named from the recipe directory, where run.sh runs.
init=$(pwd)/exp/$tag/pretrained.pt
[[ $init != *[[:space:]]* || $dir == /* || $dir == *[[:space:]]* ]] || init=$dir/exp/$tag/pretrained.pt
log "done: $dir/exp/$tag/pretrained.pt -> $model (fine-tune with: --init-listener $init)"

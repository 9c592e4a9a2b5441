#!/usr/bin/env bash
# Make a new recipe for a corpus of your own, as ESPnet2's egs2/TEMPLATE/asr1/setup.sh does:
#   egs/TEMPLATE/asr1/setup.sh egs/<corpus>/asr1
# creates egs/<corpus>/asr1 with
#   asr.sh, path.sh -> ../../TEMPLATE/asr1/...   utils -> ../../../bin   (symlinks, as every recipe)
#   cmd.sh, conf/{fbank,train,train_gpu,decode,lm}.yaml   copies of the template's, yours to edit
#                         (copies, so that a later change of the template's defaults does not
#                         change what an existing recipe trains)
#   run.sh                --corpus-root, stage 0 (local/data.sh), then asr.sh's stages 1-6
#   local/data.sh         a working stage 0 for a folder of audio files with one transcript file,
#                         or a .txt beside each audio file: data/{train,dev,test}, validated
#   README.md, RESULTS.md to fill in
# with <corpus> written in where the skeletons (skeleton/) say @CORPUS@. It never overwrites: an
# existing directory is an error. It copies no corpus: local/data.sh reads it where it is.
# The recipe must sit two levels below this template's egs/ folder (egs/<corpus>/asr1), since
# its symlinks are relative (egs/<corpus> a real folder, not a link to another disk). docs/recipes.md ("Adding a corpus") walks through the rest.
#   e.g. egs/TEMPLATE/asr1/setup.sh egs/mycorpus/asr1 && cd egs/mycorpus/asr1 &&
#        ./run.sh --corpus-root /data/mycorpus
set -euo pipefail
help_message=$(sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0")
die() { echo "$(basename "$0"): ERROR: $*" >&2; exit 1; }
case "${1:-}" in -h|--help) printf '%s\n' "$help_message"; exit 0 ;; esac
[ $# -eq 1 ] || die "expected one argument, the new recipe's directory, e.g. egs/mycorpus/asr1 (see --help)"
# (an option reached dirname below: "dirname: unrecognized option '--force'")
case $1 in -*) die "unknown option $1: the only argument is the new recipe's directory, e.g. egs/mycorpus/asr1 (see --help)" ;; esac

# The template as reached from here (not resolved: a checkout reached through a symlink keeps its shape).
template=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
target=${1%/}
corpus_dir=$(dirname "$target")
corpus=$(basename "$corpus_dir")
egs=$(dirname "$corpus_dir")
[ ! -e "$target" ] && [ ! -L "$target" ] || die "$target already exists: setup.sh never overwrites a recipe (remove it, or choose another name)"
[ "$(basename "$target")" = asr1 ] || die "$target: the recipe directory must be called asr1 (egs/<corpus>/asr1), as every recipe's"
[[ $corpus =~ ^[A-Za-z0-9][A-Za-z0-9_.+-]*$ ]] || die "$target: the corpus name '$corpus' should be letters, digits and ._+- (it is used in ids and file names)"
[ "$corpus" != TEMPLATE ] || die "$target: TEMPLATE is the template itself"
[ -d "$egs" ] && [ "$egs/TEMPLATE/asr1" -ef "$template" ] \
  || die "$target: must be egs/<corpus>/asr1 in this checkout ($(dirname "$(dirname "$template")")/<corpus>/asr1): its symlinks ../../TEMPLATE/asr1 and ../../../bin are relative"
[ -d "$egs/../bin" ] || die "$egs/../bin: no such directory (utils/ points there)"

# Built in a temporary directory beside the target and renamed into place: nothing half-made.
made_corpus_dir=false
[ -d "$corpus_dir" ] || { mkdir "$corpus_dir"; made_corpus_dir=true; }
tmp=$(mktemp -d "$corpus_dir/.asr1.XXXXXX")
cleanup() { rm -rf "$tmp"; if [ "$made_corpus_dir" = true ]; then rmdir "$corpus_dir" 2> /dev/null || true; fi; }
trap cleanup EXIT
ln -s ../../TEMPLATE/asr1/asr.sh "$tmp/asr.sh"
ln -s ../../TEMPLATE/asr1/path.sh "$tmp/path.sh"
ln -s ../../../bin "$tmp/utils"
# The links are read from where the folder really is: under an egs/<corpus> that is a symlink
# to another disk they led nowhere, and the recipe was made with exit 0, each run.sh then
# saying "run me from my recipe directory".
[ "$tmp/asr.sh" -ef "$template/asr.sh" ] && [ "$tmp/utils" -ef "$egs/../bin" ] \
  || die "$corpus_dir is $(cd "$corpus_dir" && pwd -P), not a folder of $(cd "$egs" && pwd -P): the recipe's relative symlinks (../../TEMPLATE/asr1, ../../../bin) would lead nowhere from there; make $corpus_dir a real folder (link data/, dump/ or exp/ inside the recipe to another disk instead)"
cp "$template/cmd.sh" "$tmp/cmd.sh"
mkdir "$tmp/conf" "$tmp/local"
for f in fbank.yaml train.yaml train_gpu.yaml decode.yaml lm.yaml; do
  cp "$template/conf/$f" "$tmp/conf/$f"
done
for f in run.sh local/data.sh README.md RESULTS.md; do
  sed "s/@CORPUS@/$corpus/g" "$template/skeleton/$f" > "$tmp/$f"
done
chmod 755 "$tmp" "$tmp/run.sh" "$tmp/local/data.sh"
mv -T "$tmp" "$target"
trap - EXIT
echo "$(basename "$0"): made $target for corpus '$corpus'. Next:" >&2
echo "  cd $target && local/data.sh --help     # the corpus layouts stage 0 reads, and its options" >&2
echo "  ./run.sh --corpus-root /path/to/$corpus --stop-stage 0   # then look at data/{train,dev,test}" >&2
echo "  ./run.sh --corpus-root /path/to/$corpus --train-max-time 1800   # stages 0-6, training at most 30 min" >&2

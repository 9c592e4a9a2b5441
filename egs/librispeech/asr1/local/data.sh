#!/usr/bin/env bash
# Stage 0 of the LibriSpeech recipe: a Kaldi data dir per part (data/dev_clean,
# ...), then the combined sets: data/dev = dev_clean + dev_other, and the training
# set (data/train_960 = all three train parts, or data/train_clean_100 alone for
# --hours 100).
#   e.g. local/data.sh --librispeech-root downloads/LibriSpeech --hours 100
set -euo pipefail
# Paths below (data/, utils/, conf/) are the recipe directory's: started from elsewhere, bash's
# "./path.sh: No such file or directory" was all it said, after the script's path as $0.
[ -f ./path.sh ] || { echo "$0: run me from my recipe directory: cd $(cd "$(dirname "$0")/.." && pwd) && local/$(basename "$0") (no ./path.sh in $(pwd))" >&2; exit 1; }
. ./path.sh
librispeech_root=   # folder holding the parts (dev-clean/, train-clean-100/, ...)
hours=960           # 960: train_960 (all train parts); 100: train_clean_100
audio_ext=flac      # flac (the corpus) or wav (a WAV copy in the same layout)
decoder=flac        # flac|sox: the program wav.scp pipes FLAC through
. utils/parse_options.sh

die() { echo "$0: ERROR: $*" >&2; exit 1; }
[ $# -eq 0 ] || die "unexpected arguments: $* (see --help)"
[ -d "$librispeech_root" ] || die "--librispeech-root '$librispeech_root': no such directory"
case $hours in
  960) train_parts="train-clean-100 train-clean-360 train-other-500" ;;
  100) train_parts="train-clean-100" ;;
  *) die "--hours must be 960 or 100, got '$hours'" ;;
esac
if [ "$audio_ext" = flac ] && ! command -v "$decoder" > /dev/null; then
  die "'$decoder' is not installed, and wav.scp decodes FLAC with it (e.g. apt-get install $decoder)"
fi

parts="dev-clean dev-other test-clean test-other $train_parts"
# Every part is looked for before any is prepared: a missing one (or a root one level off) was
# found after the parts before it had been written into data/.
for part in $parts; do
  [ -d "$librispeech_root/$part" ] && continue
  [ ! -d "$librispeech_root/LibriSpeech/$part" ] || die "$librispeech_root/$part: missing; the parts are in $librispeech_root/LibriSpeech: give --librispeech-root $librispeech_root/LibriSpeech"
  # (one part given for the folder of the parts)
  case $(basename -- "$librispeech_root") in dev-clean|dev-other|test-clean|test-other|train-clean-100|train-clean-360|train-other-500)
    [ ! -d "$(dirname -- "$librispeech_root")/$part" ] \
      || die "--librispeech-root $librispeech_root: that is one part; give the folder holding the parts: --librispeech-root $(dirname -- "$librispeech_root")" ;;
  esac
  # (a copy of the 100 h parts alone, run with the default --hours 960)
  [[ $part != train-clean-100 && $part == train-* ]] && [ -d "$librispeech_root/train-clean-100" ] \
    && die "$librispeech_root/$part: missing, and --hours 960 trains on it: give --hours 100 to train on train-clean-100 alone, or fetch it (local/download.sh)"
  die "$librispeech_root/$part: missing (local/download.sh fetches it)"
done
for part in $parts; do
  local/data_prep.py --audio-ext "$audio_ext" --decoder "$decoder" "$librispeech_root/$part" "data/${part//-/_}"
done
utils/combine_data.sh data/dev data/dev_clean data/dev_other
if [ "$hours" = 960 ]; then
  utils/combine_data.sh data/train_960 data/train_clean_100 data/train_clean_360 data/train_other_500
fi

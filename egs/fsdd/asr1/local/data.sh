#!/usr/bin/env bash
# Stage 0 of the FSDD recipe: connected-digit utterances (1-7 digits, one speaker
# each, short random pauses) built deterministically from the Free Spoken Digit
# Dataset's isolated digits. Speaker-independent split: the --test-speakers
# (default theo) appear only in test (and in test_takes: their takes as recorded,
# one digit per file); train and dev use the other speakers (george, jackson,
# nicolas, yweweler), dev from takes train never uses. The audio is written as WAV
# under data/wav/ (about 60 MB with the default counts), and where each digit's
# speech lies as data/<set>/ref.ctm (for scoring word times).
#   e.g. local/data.sh --fsdd-root /work/shared/corpora/fsdd
set -euo pipefail
# Paths below (data/, utils/, conf/) are the recipe directory's: started from elsewhere, bash's
# "./path.sh: No such file or directory" was all it said, after the script's path as $0.
[ -f ./path.sh ] || { echo "$0: run me from my recipe directory: cd $(cd "$(dirname "$0")/.." && pwd) && local/$(basename "$0") (no ./path.sh in $(pwd))" >&2; exit 1; }
. ./path.sh
fsdd_root=          # a copy of FSDD (recordings/<digit>_<speaker>_<take>.wav)
seed=1              # same seed, same utterances
test_speakers=theo  # comma-separated
num_train=1500
num_dev=150
num_test=300
dev_takes=5         # the last N takes of each digit of each training speaker: dev only (0: dev reuses train's takes)
speed_factors=      # e.g. 0.9,1.0,1.1: each training utterance at one of these speeds (in-process; empty: none)
background_prob=0.0 # the share of training utterances with a background noise (make_connected_digits.py)
background_where=all  # all: under the whole utterance; edges: before the first digit and after the last only
long_edge_prob=0.0  # the share of training utterances' edges made longer, up to 10 s (make_connected_digits.py)
tight_edge_prob=0.0 # the share of training utterances' edges cut away, as FSDD's takes are cut (make_connected_digits.py)
single_take_prob=0.0 # the share of one-digit training utterances with both edges cut: a take as recorded
. utils/parse_options.sh

die() { echo "$0: ERROR: $*" >&2; exit 1; }
[ $# -eq 0 ] || die "unexpected arguments: $* (see --help)"
[ -n "$fsdd_root" ] || die "--fsdd-root is required (a copy of https://github.com/Jakobovski/free-spoken-digit-dataset)"
if [ ! -d "$fsdd_root/recordings" ]; then
  # The recordings folder itself, or the folder holding the clone: said as such.
  ! compgen -G "$fsdd_root/[0-9]_*_*.[wW][aA][vV]" > /dev/null \
    || die "--fsdd-root $fsdd_root: that is a folder of the recordings themselves; --fsdd-root is the folder holding them as recordings/: give --fsdd-root $(dirname -- "$fsdd_root")"
  for sub in "$fsdd_root"/*/recordings; do
    [ ! -d "$sub" ] || die "--fsdd-root $fsdd_root: no recordings/ folder there; there is $sub: give --fsdd-root ${sub%/recordings}"
  done
  die "--fsdd-root $fsdd_root: no recordings/ folder there"
fi

where_args=()
case $background_where in
  all) ;;
  edges) where_args=(--background-edges-only) ;;
  *) die "--background-where must be all or edges, got '$background_where'" ;;
esac
local/make_connected_digits.py "${where_args[@]}" --seed "$seed" --test-speakers "$test_speakers" --speed-factors "$speed_factors" \
  --background-prob "$background_prob" --long-edge-prob "$long_edge_prob" --tight-edge-prob "$tight_edge_prob" --single-take-prob "$single_take_prob" --dev-takes "$dev_takes" --num-train "$num_train" --num-dev "$num_dev" --num-test "$num_test" "$fsdd_root" data data/wav
# The test speakers' takes as FSDD holds them, one digit per file cut close around the word: a
# second test set (run.sh decodes it beside test), because a user's one-word recording looks like
# these and not like the connected digits, each with quiet before and after it (RESULTS.md, "Tight edges").
local/takes_data.py --speakers "$test_speakers" --wav-dir data/wav/test_takes "$fsdd_root" data/test_takes

#!/usr/bin/env bash
# recipe_dir.sh <dir>: make <dir> a recipe directory of its own, linked to this
# recipe's scripts and conf/ (run it from the recipe); the stages run there make
# its own data/, dump/ and exp/. Used by local/loso.sh (one per held-out speaker)
# and local/pretrain_an4.sh.
#   e.g. local/recipe_dir.sh loso/theo && (cd loso/theo && ./run.sh ...)
set -euo pipefail
# (it takes no options: --help was taken for <dir>, and mkdir printed its own help instead)
case ${1:-} in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
[ $# -eq 1 ] || { echo "usage: $0 <dir>  (run from the recipe directory)" >&2; exit 1; }
d=$1
recipe=$(pwd)
# The stages run in <dir> write its data/, dump/ and exp/: <dir> the recipe itself (".", its
# path) or a folder above it ("..", "/") linked our files into that folder and wrote over the
# recipe's own data/train and data/dev (local/pretrain_an4.sh --dir .); "" was mkdir's error.
[ -n "$d" ] || { echo "$0: ERROR: <dir> is empty: give a folder of its own, e.g. loso/theo" >&2; exit 1; }
# (cd takes a <dir> of '-foo' for options and '-' for $OLDPWD: made once, the next run of the
# same command failed with cd's usage; so it is given as ./<dir>)
case $d in /*) at=$d ;; *) at=./$d ;; esac
if [ -d "$at" ]; then
  real=$(cd "$at" && pwd -P)
  case $(pwd -P)/ in
    "${real%/}"/*) echo "$0: ERROR: $d is the recipe directory or a folder above it: give a folder of its own, e.g. loso/theo" >&2; exit 1 ;;
  esac
fi
mkdir -p -- "$d"
for f in asr.sh cmd.sh run.sh conf local utils; do
  [ -L "$d/$f" ] || ln -s -- "$recipe/$f" "$d/$f"
done
# path.sh finds asrkit from its own location: source the recipe's copy by its absolute path.
[ -f "$d/path.sh" ] || printf '# made by local/recipe_dir.sh: the recipe'"'"'s path.sh, from a directory of its own\n. "%s/path.sh"\n' \
  "$recipe" > "$d/path.sh"

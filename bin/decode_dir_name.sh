#!/usr/bin/env bash
# The name of a decode directory, exp/<tag>/decode_<set>_<name>: asr.sh's stages 5 and 6 decode and
# score into it, and FSDD's local/loso.sh reads each fold's wer.txt from it, so both make it here.
# Every option that changes a decoding is in the name, as ESPnet's asr.sh appends its
# --inference_args to its inference tag: a beam or LM-weight sweep (--decode-args "--beam 1", then
# "--beam 20") decoded each run into the one directory, over the one before, and RESULTS.md's row
# of the earlier run named a directory that no longer held it.
#
# Source it, then:  decode_dir_name <decode config> <decode args> <use lm> <lm weight> [<adapt args>]
# prints the name: the config's file name without .yaml (decode for conf/decode.yaml), then
#   _<decode args>  as ESPnet spells them, each "--" a "_" and blanks and "=" dropped, and then
#                   any character but A-Z a-z 0-9 . _ , + - dropped ("--beam 1": _beam1)
#   _lm             with <use lm> true; _lm<weight> for a weight other than 0.3, the number as
#                   such (0.50 and .5 are _lm0.5)
#   _adapt          with a fifth argument (the speaker-adapted pass), its args spelt as above
#                   ("--keep 0.3": _adapt_keep0.3)
# Args longer than 120 characters so spelt are named by their checksum instead (_args<cksum>):
# the whole name must fit in a file name's 255 bytes.
# With no args and the weight 0.3 (asr.sh's default) the names are those every decode directory
# had before the options were in them (decode, decode_lm, decode_adapt): the directories and
# RESULTS.md rows made then stay the ones a run of the same options finds.
#
# decode_dir_weight <lm weight>: the weight as the name spells it (%.15g: 0.50, .5 and 5e-1 are
# 0.5), which asr.sh also decodes with, records in .done and reports (one directory, one spelling).
#
# Its names start with _ddn_ or decode_dir_: it is sourced into asr.sh and local/loso.sh.

# _ddn_args <args>: "" for none, or _<args> spelt for a file name (above).
_ddn_args() {
  local s=${1//--/_}
  s=$(printf '%s' "$s" | LC_ALL=C tr -cd 'A-Za-z0-9._,+-')
  [ -n "$s" ] || return 0
  # (one separator from the name before: "-b 1" would be glued to it)
  [[ $s == _* ]] || s=_$s
  if [ "${#s}" -gt 120 ]; then s=_args$(printf '%s' "$1" | cksum | cut -d' ' -f1); fi
  printf '%s' "$s"
}

decode_dir_weight() {
  LC_ALL=C awk -v x="$1" 'BEGIN { printf "%.15g\n", x + 0 }'
}

decode_dir_name() {
  local name w
  if [ $# -lt 4 ] || [ $# -gt 5 ]; then
    echo "$0: ERROR: decode_dir_name <decode config> <decode args> <use lm> <lm weight> [<adapt args>]: got $# arguments" >&2
    exit 1
  fi
  name=$(basename -- "$1" .yaml)$(_ddn_args "$2")
  if [ "$3" = true ]; then
    w=$(decode_dir_weight "$4")
    [ "$w" != 0.3 ] || w=
    name=${name}_lm$w
  fi
  [ $# -lt 5 ] || name=${name}_adapt$(_ddn_args "$5")
  printf '%s\n' "$name"
}

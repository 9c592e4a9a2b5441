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
# The directory, decode_<set>_<name>, is one file name, of at most 255 bytes (NAME_MAX): the adapt
# args of a name over 200 bytes (47 left for the set's), and the decode args of a first pass's name
# over 179 (the adapted pass's starts with it), are named by their checksum instead (_args<cksum>).
# (Each list limited to 120 characters alone, two made a name of 290 bytes, which stage 5's mkdir
# refused after the training.)
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
  printf '%s' "$s"
}

# _ddn_sum <args>: _args<their checksum>, for args too long to spell.
_ddn_sum() { printf '_args%s' "$(printf '%s' "$1" | cksum | cut -d' ' -f1)"; }

# _ddn_bytes <string>: its length in bytes (a config's file name may have any characters).
_ddn_bytes() { local LC_ALL=C; echo "${#1}"; }

decode_dir_weight() {
  LC_ALL=C awk -v x="$1" 'BEGIN { printf "%.15g\n", x + 0 }'
}

decode_dir_name() {
  local name args lm= adapt
  if [ $# -lt 4 ] || [ $# -gt 5 ]; then
    echo "$0: ERROR: decode_dir_name <decode config> <decode args> <use lm> <lm weight> [<adapt args>]: got $# arguments" >&2
    exit 1
  fi
  name=$(basename -- "$1" .yaml)
  args=$(_ddn_args "$2")
  if [ "$3" = true ]; then
    lm=$(decode_dir_weight "$4")
    [ "$lm" != 0.3 ] || lm=
    lm=_lm$lm
  fi
  # (179: the adapted pass adds at most 21 bytes to it, _adapt_args and a checksum of 10 digits)
  [ -z "$args" ] || [ "$(_ddn_bytes "$name$args$lm")" -le 179 ] || args=$(_ddn_sum "$2")
  name=$name$args$lm
  if [ $# -eq 5 ]; then
    adapt=$(_ddn_args "$5")
    [ -z "$adapt" ] || [ "$(_ddn_bytes "${name}_adapt$adapt")" -le 200 ] || adapt=$(_ddn_sum "$5")
    name=${name}_adapt$adapt
  fi
  printf '%s\n' "$name"
}

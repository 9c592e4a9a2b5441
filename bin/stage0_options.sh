#!/usr/bin/env bash
# What a recipe's stage 0 made data/ with, and a later run from --stage 1 that gives one of those
# options with another value refused: the option then changes nothing (data/ is not made
# again), and the run went on with exit 0 on the old data under the new command line.
# (FSDD's run.sh keeps a fuller record through same_options.sh: its stage-0 options shape the
# training data itself.)
#
# Source it, then, in stage 0 after the data is made:  stage0_record <name>=<value>...
# and from --stage 1 on:  stage0_check "<names given on the command line>" <name>=<value>...
# The record is data/stage0_options, one <name>=<value> per line (a value may hold spaces).
# A data/ without a record (made before it was kept) is not checked.
#
# Its names start with stage0_: it is sourced into run.sh.

stage0_record() {
  printf '%s\n' "$@" > data/stage0_options.tmp && mv -f data/stage0_options.tmp data/stage0_options
}

stage0_check() {  # <given names> <name>=<value>...
  local given=" $1 " pair name now was
  shift
  [ -f data/stage0_options ] || return 0
  for pair in "$@"; do
    name=${pair%%=*}
    now=${pair#*=}
    [[ $given == *" $name "* ]] || continue
    was=$(sed -n "s|^$name=||p" data/stage0_options)
    if [ "$was" != "$now" ]; then
      echo "$(basename "$0"): ERROR: --$name '$now': data/ was made by stage 0 with --$name '$was', and from --stage 1 on this option changes nothing: run from --stage 0 to make data/ again, or leave --$name out" >&2
      exit 1
    fi
  done
}

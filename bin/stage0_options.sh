#!/usr/bin/env bash
# What a recipe's stage 0 made data/ with, and a later run from --stage 1 that gives one of those
# options with another value refused: the option then changes nothing (data/ is not made
# again), and the run went on with exit 0 on the old data under the new command line.
# (FSDD's run.sh keeps a fuller record through same_options.sh: its stage-0 options shape the
# training data itself.)
#
# Source it, then, before the options are parsed:  given0=$(stage0_given "<names>" "$@");
# in stage 0 after the data is made:  stage0_record <name>=<value>...
# and from --stage 1 on:  stage0_check "$given0" <name>=<value>...
# The record is data/stage0_options, one <name>=<value> per line (a value may hold spaces).
# A data/ without a record (made before it was kept) is not checked.
#
# A stage 0 that writes several sets may also mark data/ while it runs (stage0_mark_unfinished,
# then 'rm -f data/stage0_unfinished' at its end), and a run from --stage 1 then refuses a data/
# part new, part the last run's, or one that failed before it changed data/ (stage0_refuse_unfinished).
#
# Its names start with stage0_: it is sourced into run.sh.

stage0_given() {  # <names, space-separated> <the command line...>: those of them given as --name or --name=value
  local names=${1// /\\|}
  shift
  printf '%s\n' "$@" | sed -n "s/^--\\($names\\)\\(=.*\\)\\{0,1\\}\$/\\1/p" | sort -u | tr '\n' ' '
}

stage0_mark_unfinished() {
  date '+stage 0 started %Y-%m-%d %H:%M:%S' > data/stage0_unfinished
}

stage0_refuse_unfinished() {
  if [ -f data/stage0_unfinished ]; then
    echo "$0: ERROR: data/ is from a stage 0 that did not finish (it failed, was stopped, or is running now: data/stage0_unfinished): run from --stage 0 to make it again" >&2
    exit 1
  fi
}

stage0_record() {
  printf '%s\n' "$@" > data/stage0_options.tmp && mv -f data/stage0_options.tmp data/stage0_options
}

stage0_check() {  # <given names> <name>=<value>...
  # (and those parse_options.sh set from a --config file, which stage0_given, reading the command
  # line, cannot see: 'yesno_root=/other' in one changed nothing from --stage 1 on, with exit 0)
  local given=" $1 ${parse_options_given:-} " pair name now was
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

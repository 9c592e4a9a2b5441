#!/usr/bin/env bash
# The options a directory (or an experiment in it) was made with, recorded in a file there, and a
# later run with other options refused: it would otherwise train or score on data, or resume from
# a model, that its options do not describe, or report the old numbers under a new command line.
#
# Source it, then:  same_options [--record] <record> <what> <options> <remedy>
#   <record>   the file the options are recorded in (e.g. data/stage0_options)
#   <what>     what was made, as the error names it (e.g. "data/", "--tag tiny")
#   <options>  this run's options, one line
#   <remedy>   what to do instead (e.g. "use another --tag")
# No <record>: nothing to check; with --record, <options> is written to it (made aside, then
# renamed: whole or not at all). The same line: nothing to do. Another line: one line on stderr,
# and the script that sourced this exits 1:
#   <script>: ERROR: <what> was made with <then>, these options give <now>: <remedy>
# where <then> and <now> are only the options that differ when both lines are key=value words
# (e.g. "background_prob=0", "background_prob=0.5"), or else the two whole lines, quoted.
#
# Its names start with _so_ or are same_options: it is sourced into run.sh and local/*.sh.

# _so_keyvalues <line>: true when every word of <line> is a key=value word.
_so_keyvalues() {
  local w words
  read -r -a words <<< "$1"
  for w in ${words[@]+"${words[@]}"}; do
    [[ $w =~ ^[A-Za-z_][A-Za-z0-9_.-]*= ]] || return 1
  done
}

same_options() {
  local record=false
  [ "${1:-}" != --record ] || { record=true; shift; }
  if [ $# -ne 4 ]; then
    echo "$0: ERROR: same_options [--record] <record> <what> <options> <remedy>: got $# arguments" >&2
    exit 1
  fi
  local file=$1 what=$2 now=$3 remedy=$4 made was= is= made_sorted now_sorted
  if [ ! -f "$file" ]; then
    if [ "$record" = true ]; then
      mkdir -p "$(dirname "$file")"
      printf '%s\n' "$now" > "$file.tmp" && mv -f "$file.tmp" "$file"
    fi
    return 0
  fi
  made=$(cat "$file")
  [ "$made" != "$now" ] || return 0
  if _so_keyvalues "$made" && _so_keyvalues "$now"; then
    # one word a line, sorted in C order for comm (which compares in its own locale's: C too)
    made_sorted=$(tr ' ' '\n' <<< "$made" | sed '/^$/d' | LC_ALL=C sort)
    now_sorted=$(tr ' ' '\n' <<< "$now" | sed '/^$/d' | LC_ALL=C sort)
    was=$(LC_ALL=C comm -23 <(echo "$made_sorted") <(echo "$now_sorted") | paste -sd' ' -)
    is=$(LC_ALL=C comm -13 <(echo "$made_sorted") <(echo "$now_sorted") | paste -sd' ' -)
  fi
  if [ -z "$was" ] && [ -z "$is" ]; then   # not key=value words, or the same words in another order
    was="'$made'" is="'$now'"
  fi
  echo "$0: ERROR: $what was made with ${was:-''}, these options give ${is:-''}: $remedy" >&2
  exit 1
}

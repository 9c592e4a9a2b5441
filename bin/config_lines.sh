#!/usr/bin/env bash
# A recipe script's options as it resolved them, printed as the name=value lines that
# parse_options.sh's --config reads back (run.sh and asr.sh --print-config true): what a run would
# be given, for a person to read or keep, and for local/loso.sh to compare with a fold's record
# without reading the scripts' source for their defaults.
#
# Source it, then:
#   config_names <script>   the names of <script>'s options: the variables its configuration
#                           section sets, between "# ---- configuration section" and
#                           "# ---- end of configuration section" (help_message and
#                           parse_options_passthrough are not options, nor print_config: the lines
#                           read back run the script)
#   config_lines <name>...  one line each, name=value, the value in double quotes where it has a
#                           space, a quote or a '#' (in single quotes where it has a double quote);
#                           a value config_worked_out named as a comment line (below)
#   config_worked_out <name> <options>
#                           <name> was not given: the script worked it out from <options> ("--max-utts").
#                           It is printed as '# name=value  # worked out from <options>', so that the
#                           lines read back work it out again from the options they hold: printed
#                           as given, ./run.sh --config my.conf --an4-words none kept my.conf's
#                           train_set=train_an4_digits (a stale set, or none). Not when <name> is
#                           in parse_options.sh's passthrough_args (run.sh hands asr.sh an option
#                           given on the command line or in a --config file over its own).
#   config_print_run <asr.sh options...>
#                           a recipe's run.sh --print-config: its own options, then asr.sh's as
#                           run.sh gives them (./asr.sh --print-config true, which checks them
#                           as for a run); an option of both once, as run.sh has it
#
# Its names start with _cl_ or config_: it is sourced into run.sh and asr.sh.

declare -A config_from=()   # config_worked_out's: name -> the options it was worked out from

config_names() {
  awk '/^# ---- configuration section/ { on = 1; next } /^# ---- end of configuration section/ { on = 0 }
    on && /^[a-z_][a-z0-9_]*=/ { name = $0; sub(/=.*/, "", name)
      if (name !~ /^(help_message|parse_options_passthrough|print_config)$/ && !seen[name]++) print name }' "$1"
}

config_worked_out() {
  local _cl_k _cl_name _cl_given=(${passthrough_args[@]+"${passthrough_args[@]}"})
  for ((_cl_k = 0; _cl_k < ${#_cl_given[@]}; _cl_k += 2)); do
    _cl_name=${_cl_given[_cl_k]#--}
    [ "${_cl_name//-/_}" != "$1" ] || return 0
  done
  config_from[$1]=$2
}

config_lines() {
  local _cl_name _cl_value
  for _cl_name in "$@"; do
    _cl_value=${!_cl_name-}
    if [[ $_cl_value == *$'\n'* ]] || { [[ $_cl_value == *\"* ]] && [[ $_cl_value == *\'* ]]; }; then
      # (parse_options.sh reads one line, quoted with one kind of quote: such a value has no line)
      echo "$0: ERROR: --${_cl_name//_/-} '$_cl_value': a value with both kinds of quote or a line break cannot be printed as a --config line" >&2
      exit 1
    elif [[ $_cl_value =~ ^[^[:space:]\"\'#]*$ ]]; then
      _cl_print "$_cl_name" "$_cl_name=$_cl_value"
    elif [[ $_cl_value != *\"* ]]; then
      _cl_print "$_cl_name" "$_cl_name=\"$_cl_value\""
    else
      _cl_print "$_cl_name" "$_cl_name='$_cl_value'"
    fi
  done
}

# _cl_print <name> <line>: the line, or, for a value config_worked_out named, the line as a comment
# (one already a comment, asr.sh's own, as it is)
_cl_print() {
  if [ -n "${config_from[$1]+x}" ] && [[ $2 != "# "* ]]; then
    printf '# %s  # worked out from %s\n' "$2" "${config_from[$1]}"
  else
    printf '%s\n' "$2"
  fi
}

config_print_run() {
  local _cl_ours _cl_theirs
  _cl_ours=$(config_names "$0")
  _cl_theirs=$(./asr.sh --print-config true "$@")
  config_lines $_cl_ours
  # (asr.sh's lines of an option run.sh worked out, --train-set from FSDD's --an4-words, are
  # printed as worked out: asr.sh was given it)
  local _cl_line _cl_name
  local -A _cl_own=()
  for _cl_name in $_cl_ours; do _cl_own[$_cl_name]=1; done
  while IFS= read -r _cl_line; do
    _cl_name=${_cl_line#"# "}; _cl_name=${_cl_name%%=*}
    [ -n "${_cl_own[$_cl_name]+x}" ] || _cl_print "$_cl_name" "$_cl_line"
  done <<< "$_cl_theirs"
}

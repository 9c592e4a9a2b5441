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
#                           space, a quote or a '#' (in single quotes where it has a double quote)
#   config_print_run <asr.sh options...>
#                           a recipe's run.sh --print-config: its own options, then asr.sh's as
#                           run.sh gives them (./asr.sh --print-config true, which checks them
#                           as for a run); an option of both once, as run.sh has it
#
# Its names start with _cl_ or config_: it is sourced into run.sh and asr.sh.

config_names() {
  awk '/^# ---- configuration section/ { on = 1; next } /^# ---- end of configuration section/ { on = 0 }
    on && /^[a-z_][a-z0-9_]*=/ { name = $0; sub(/=.*/, "", name)
      if (name !~ /^(help_message|parse_options_passthrough|print_config)$/ && !seen[name]++) print name }' "$1"
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
      printf '%s=%s\n' "$_cl_name" "$_cl_value"
    elif [[ $_cl_value != *\"* ]]; then
      printf '%s="%s"\n' "$_cl_name" "$_cl_value"
    else
      printf "%s='%s'\n" "$_cl_name" "$_cl_value"
    fi
  done
}

config_print_run() {
  local _cl_ours _cl_theirs
  _cl_ours=$(config_names "$0")
  _cl_theirs=$(./asr.sh --print-config true "$@")
  config_lines $_cl_ours
  awk -v ours="$_cl_ours" 'BEGIN { n = split(ours, a, "\n"); for (i = 1; i <= n; i++) own[a[i]] = 1 }
    { name = $0; sub(/=.*/, "", name); if (!(name in own)) print }' <<< "$_cl_theirs"
}

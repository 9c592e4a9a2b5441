#!/usr/bin/env bash
# Kaldi-style option parsing for shell scripts. Source it after the script's "configuration
# section" of defaults:
#
#   nj=4                 # number of parallel jobs
#   use_lm=false         # a boolean: only "true" or "false" are accepted
#   help_message="Usage: $0 [options] <data-dir>
#   e.g.: $0 --nj 8 data/train"
#   . bin/parse_options.sh
#
# Then "--foo-bar value" (or "--foo-bar=value") sets foo_bar when the script defined foo_bar,
# and is an error ("unknown option") otherwise, so a typo never passes silently. A variable whose
# default is true/false only takes true/false, one whose default is an integer only an integer (at
# most 18 digits, read in decimal: 09 is 9). Only lower-case names are options (never PATH or
# another environment variable). "--config file" reads a file of name=value lines (# comments,
# a value with spaces in quotes) as the options --name value, in its place; "--help"/"-h" prints
# $help_message (or the script's leading comment block) and exits 0.
# Parsing stops at the first argument that is not an option, or after "--"; the remaining
# arguments are left in "$@".
#
# With parse_options_passthrough=true, unknown "--name value" pairs are kept, in order, in the
# array passthrough_args instead of failing: a recipe's run.sh takes its corpus options and hands
# the rest to asr.sh, which checks them itself.
#
# A script with stages (it defines stop_stage: run.sh, asr.sh) takes no arguments: one left over is
# an error that says what was probably meant ("--stage 3 4": give --stage 3 --stop-stage 4; "3 5":
# stages are options; "--test-sets dev test": a list goes in quotes).
#
# A script may declare an associative array parse_options_hints (an unknown option's name, with
# '_' for '-', to a hint) before sourcing this file: an unknown option in it is named with its hint
# ("unknown option --inference_config (...): ESPnet's --inference_config is --decode-config here"),
# for the names users bring from ESPnet's or Kaldi's scripts.
#
# parse_options_given then lists the options that set one of the script's variables to another
# value than its default, from the command line or a --config file, by their option names,
# space-separated (" yesno-root nj "): stage0_options.sh's check of an option given from --stage 1
# on reads it. (A --config line that gives an option its default is not listed: run.sh
# --print-config true prints every option, stage 0's too, and its output given back with --config
# from --stage 1 on was refused for the corpus option left out when it was printed, 'corpus_root=').
#
# This file is sourced, so it must not leave "set -e" traps or stray variables behind; its own
# names all start with _po_.

parse_options_given=" "
if [ -n "${parse_options_passthrough:-}" ] && [ "${parse_options_passthrough}" = true ]; then
  passthrough_args=()
fi

# The kind of each option (true/false, integer) is its default's, the value it had before this
# parsing set it: the current value made "--config run.conf --lm-weight 0.4" (run.conf's
# lm_weight=1) "takes an integer", and "--tag 2024 ... --tag mine" likewise.
declare -A _po_kinds=()
_po_prev=()   # the last option parsed and its value, for the hint on an argument left over
# How many arguments the command line had left after its last --config: those beyond are the
# config file's lines, which the hint must not quote as typed ("--config c.conf 4" said "after
# --tag mine: a list goes in quotes: --tag \"mine 4\"", tag=mine being the file's last line).
_po_tail=
# The config files whose lines are being read (their names, and the argument count at which their
# lines are used up): a file that names itself, at once or through another (config=c.conf in
# c.conf), was read into the arguments again and again, and the script hung, its memory growing.
_po_conf_files=()
_po_conf_ends=()

_po_unknown() {
  local _po_k=${1#--} _po_h=
  _po_k=${_po_k//-/_}
  if [[ "$(declare -p parse_options_hints 2> /dev/null)" == "declare -A"* ]] && [[ $_po_k =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] \
      && [ -n "${parse_options_hints[$_po_k]+set}" ]; then
    _po_h=": ${parse_options_hints[$_po_k]}"
  fi
  echo "$0: unknown option $1 (see $0 --help)$_po_h" >&2
}

_po_help() {
  if [ -n "${help_message:-}" ]; then
    printf '%s\n' "$help_message"
  else
    # The script's own header: the comment lines after the shebang, up to the first non-comment.
    sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
  fi
}

while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      _po_help
      exit 0
      ;;
    --)
      shift
      break
      ;;
    --config|--config=*)
      _po_left=$#   # (this --config among them: a file whose lines end before it is read through)
      if [ "$1" = --config ]; then
        if [ $# -lt 2 ]; then
          echo "$0: option --config needs a value (a file of name=value lines)" >&2
          exit 1
        fi
        _po_value=$2; shift 2
      else
        _po_value=${1#--config=}; shift
      fi
      # A file or a pipe (--config <(echo nj=2), read once below): -f refused the pipe as "no such file".
      if [ ! -e "$_po_value" ] || [ -d "$_po_value" ]; then
        echo "$0: --config $_po_value: $([ -d "$_po_value" ] && echo "a directory, not a file of name=value lines" || echo "no such file")" >&2
        exit 1
      fi
      # The files read through are dropped (the count only grows again at a --config: here).
      _po_loop=
      _po_cur=   # the innermost file still being read: the one whose config= line this is
      for _po_i in "${!_po_conf_files[@]}"; do
        if [ "$_po_left" -le "${_po_conf_ends[$_po_i]}" ]; then
          unset "_po_conf_files[$_po_i]" "_po_conf_ends[$_po_i]"
          continue
        fi
        _po_cur=${_po_conf_files[$_po_i]}
        [ ! "$_po_value" -ef "$_po_cur" ] || _po_loop=$_po_cur
      done
      if [ -n "$_po_loop" ]; then
        echo "$0: --config $_po_loop: includes itself$([ "$_po_loop" = "$_po_cur" ] || echo " through --config $_po_cur") (a config=$_po_value line): remove that line" >&2
        exit 1
      fi
      # Its name=value lines become "--name value" options, in its place on the command line,
      # and are checked as those are. Sourced, as Kaldi does, a name this script does not define
      # (train_config, for run.sh, which hands it on to asr.sh) was set here and dropped, and a
      # bad value (nj=abc) escaped the checks.
      _po_args=()
      _po_n=0
      while IFS= read -r _po_line || [ -n "$_po_line" ]; do
        _po_n=$((_po_n + 1))
        _po_line=${_po_line%$'\r'}
        # (a UTF-8 byte-order mark, as Windows editors save it: 'got: nj=2' named a line that looked right)
        [ "$_po_n" -ne 1 ] || _po_line=${_po_line#$'\xef\xbb\xbf'}
        [[ $_po_line =~ ^[[:space:]]*(#.*)?$ ]] && continue
        if [[ $_po_line =~ ^[[:space:]]*([a-z_][a-z0-9_]*)=\"([^\"]*)\"[[:space:]]*(#.*)?$ ]] \
            || [[ $_po_line =~ ^[[:space:]]*([a-z_][a-z0-9_]*)=\'([^\']*)\'[[:space:]]*(#.*)?$ ]] \
            || [[ $_po_line =~ ^[[:space:]]*([a-z_][a-z0-9_]*)=([^[:space:]\"\'#]*)[[:space:]]*(#.*)?$ ]]; then
          _po_args+=("--${BASH_REMATCH[1]//_/-}" "${BASH_REMATCH[2]}")
        else
          # A YAML file (ESPnet's --config conf/train.yaml) said only that 'model:' is no name=value.
          _po_yaml=
          if [[ $_po_line =~ ^[[:space:]]*[A-Za-z_][A-Za-z0-9_.-]*:([[:space:]]|$) ]] || [[ $_po_value == *.yaml || $_po_value == *.yml ]]; then
            _po_yaml=" (a YAML file? --config takes this script's options as name=value lines; a model's YAML config goes to the option that names it, e.g. asr.sh's --train-config or --decode-config)"
          fi
          echo "$0: --config $_po_value:$_po_n: expected name=value (a value with spaces in quotes), got: $_po_line$_po_yaml" >&2
          exit 1
        fi
      done < "$_po_value"
      if [ -z "$_po_tail" ] || [ $# -lt "$_po_tail" ]; then _po_tail=$#; fi  # (a nested config's is longer)
      _po_conf_files+=("$_po_value")
      _po_conf_ends+=("$#")
      set -- ${_po_args[@]+"${_po_args[@]}"} "$@"
      ;;
    --*)
      if [[ "$1" == *=* ]]; then
        _po_opt=${1%%=*}; _po_value=${1#*=}; _po_n=1
      else
        _po_opt=$1; _po_n=2
        _po_value=${2-}
      fi
      _po_name=${_po_opt#--}
      _po_name=${_po_name//-/_}
      # A misspelt option last on the line (./asr.sh --stage 4 --ngpus) is named as unknown, as
      # Kaldi names it, not as one that "needs a value" (given one, it was then unknown).
      if [ "$_po_n" = 2 ] && [ $# -lt 2 ]; then
        if [ "${parse_options_passthrough:-}" != true ] && { ! [[ "$_po_name" =~ ^[a-z_][a-z0-9_]*$ ]] \
            || [ -z "${!_po_name+set}" ] || [[ "$_po_name" == _po_* ]]; }; then
          _po_unknown "$_po_opt"
        else
          echo "$0: option $_po_opt needs a value" >&2
        fi
        exit 1
      fi
      # Lower-case names only, so an option can never overwrite PATH, HOME or another
      # environment variable.
      if ! [[ "$_po_name" =~ ^[a-z_][a-z0-9_]*$ ]] || [ -z "${!_po_name+set}" ] \
          || [[ "$_po_name" == _po_* ]]; then
        if [ "${parse_options_passthrough:-}" = true ]; then
          passthrough_args+=("$_po_opt" "$_po_value")
          _po_prev=("$_po_opt" "$_po_value")
          if [ -n "$_po_tail" ] && [ $# -gt "$_po_tail" ]; then _po_prev=(); fi
          shift "$_po_n"
          continue
        fi
        _po_unknown "$_po_opt"
        exit 1
      fi
      if [ -z "${_po_kinds[$_po_name]+set}" ]; then _po_kinds[$_po_name]=${!_po_name}; fi
      _po_old=${_po_kinds[$_po_name]}
      if { [ "$_po_old" = true ] || [ "$_po_old" = false ]; } \
          && [ "$_po_value" != true ] && [ "$_po_value" != false ]; then
        echo "$0: option $_po_opt takes true or false, got '$_po_value'" >&2
        exit 1
      fi
      # Likewise a variable whose default is an integer only takes an integer: "--stage abc" and
      # "--nj 2x" would otherwise surface later as bash's own "integer expression expected".
      if [[ "$_po_old" =~ ^-?[0-9]+$ ]]; then
        if ! [[ "$_po_value" =~ ^-?[0-9]{1,18}$ ]]; then
          echo "$0: option $_po_opt takes an integer, got '$_po_value'" >&2
          exit 1
        fi
        # In decimal: bash's arithmetic reads a leading 0 as octal ("--stage 09": "value too
        # great for base" from $(( )), "--nj 010" as 8).
        if [[ "$_po_value" == -* ]]; then _po_value=-$(( 10#${_po_value#-} )); else _po_value=$(( 10#$_po_value )); fi
      fi
      printf -v "$_po_name" '%s' "$_po_value"
      [ "$_po_value" = "$_po_old" ] || [[ $parse_options_given == *" ${_po_name//_/-} "* ]] \
        || parse_options_given+="${_po_name//_/-} "
      _po_prev=("$_po_opt" "$_po_value")
      if [ -n "$_po_tail" ] && [ $# -gt "$_po_tail" ]; then _po_prev=(); fi
      shift "$_po_n"
      ;;
    *)
      break
      ;;
  esac
done

# What a script with stages was probably given, for its arguments left over: "--stage 3 4" hinted
# "--stage 4" (asr.sh's reading of the 4 alone), and "--nj 3 4" the same.
if [ $# -gt 0 ] && [ -n "${stop_stage+set}" ]; then
  _po_rest=$*
  if [ ${#_po_prev[@]} -eq 0 ]; then
    if [[ $1 =~ ^[0-9]+$ ]]; then
      echo "$0: unexpected arguments: $_po_rest: stages are options: give --stage $1$([[ ${2-} =~ ^[0-9]+$ ]] && echo " --stop-stage $2")" >&2
    else
      echo "$0: unexpected arguments: $_po_rest (see $0 --help)" >&2
    fi
  elif [[ ${_po_prev[0]} =~ ^--stage(=|$) ]] && [[ $1 =~ ^[0-9]+$ ]]; then
    echo "$0: unexpected argument $1 after ${_po_prev[*]}: to run stages ${_po_prev[1]} to $1, give --stage ${_po_prev[1]} --stop-stage $1" >&2
  elif [[ ${_po_prev[1]} =~ ^-?[0-9]+$ ]]; then
    echo "$0: unexpected argument $1 after ${_po_prev[*]}: an option takes one value (see $0 --help)" >&2
  else
    echo "$0: unexpected argument $1 after ${_po_prev[*]}: an option takes one value (a list goes in quotes: ${_po_prev[0]} \"${_po_prev[1]} $1\"; see $0 --help)" >&2
  fi
  exit 1
fi

unset -f _po_help
unset _po_value _po_opt _po_name _po_old _po_n _po_args _po_line _po_kinds _po_prev _po_rest _po_tail \
  _po_left _po_i _po_loop _po_cur _po_conf_files _po_conf_ends _po_yaml
true

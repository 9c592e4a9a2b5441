#!/usr/bin/env bash
# Fetch <url> into <file>, resuming a partial <file> left by an interrupted run (wget --continue,
# else curl -C -), as the recipes' download stages do. A <file> that is already complete is not
# fetched again: its range request gets HTTP 416, which wget reports as "fully retrieved" and
# which counts as done for curl too. So a 416 only means "no byte past the end of <file>":
# check the file afterwards (gzip -t, an md5 sum); a damaged one must be deleted and fetched again.
# After a failure a partial <file> is kept (a re-run resumes it); an empty one is removed (what
# wget -O leaves after a 404), so nothing stands for a file that was never fetched.
# Exit status: 0 done; 1 the download failed (or bad arguments); 2 neither wget nor curl is installed.
#   e.g. utils/download.sh --tries 5 https://www.openslr.org/resources/12/dev-clean.tar.gz downloads/dev-clean.tar.gz
set -euo pipefail
tries=3   # attempts in all (wget --tries=N, curl --retry N-1); wget and curl retry only transient errors
help_message="Usage: $0 [--tries N] <url> <file>
Fetch <url> into <file>, resuming a partial <file> (wget --continue, else curl -C -); a 416 for a
complete <file> counts as done, so check the file afterwards. Exit 0 done, 1 failed (a partial
<file> is kept: re-run to resume), 2 neither wget nor curl is installed.
  --tries N: attempts in all (default $tries)
e.g.: $0 --tries 5 https://www.openslr.org/resources/12/dev-clean.tar.gz downloads/dev-clean.tar.gz"
. "$(dirname "${BASH_SOURCE[0]}")/parse_options.sh"

die() { echo "$0: ERROR: $1" >&2; exit "${2:-1}"; }  # die <message> [<exit status>]
[ $# -eq 2 ] || die "expected <url> <file> (see --help)"
url=$1; file=$2
[[ $tries =~ ^[1-9][0-9]*$ ]] || die "--tries $tries: expected a positive whole number"
[ ! -d "$file" ] || die "$file is a directory: give the file to write, not a folder"
command -v wget > /dev/null || command -v curl > /dev/null \
  || die "neither wget nor curl is installed: cannot fetch $url into $file" 2
mkdir -p "$(dirname "$file")" || die "cannot create the folder of $file"

rc=0
if command -v wget > /dev/null; then
  tool=wget
  wget --continue --tries="$tries" -O "$file" "$url" || rc=$?
  case $rc in  # wget's exit statuses, as its manual lists them
    0) ;;
    3) why="cannot write $file" ;;
    4) why="network failure (no connection, or the transfer was cut short)" ;;
    5) why="SSL verification failure" ;;
    6) why="the server asks for a username/password" ;;
    8) why="the server answered with an error (wget's output above gives it, e.g. 404 Not Found)" ;;
    *) why="wget exit status $rc" ;;
  esac
else
  tool=curl
  code=$(curl --fail --location --retry "$((tries - 1))" -C - -o "$file" -w '%{http_code}' "$url") || rc=$?
  # wget calls a 416 for a non-empty file "fully retrieved"; curl fails on it: the same rule for both.
  [ "$rc" -ne 22 ] || [ "${code:-}" != 416 ] || [ ! -s "$file" ] || rc=0
  [ "${code:-000}" != 000 ] || code=  # 000: no HTTP answer at all
  case $rc in  # curl's exit statuses, as its manual lists them
    0) ;;
    6) why="cannot resolve the host" ;;
    7) why="cannot connect to the server" ;;
    18|56) why="the transfer was cut short" ;;
    22) why="HTTP ${code:-error}" ;;
    23) why="cannot write $file" ;;
    28) why="timed out" ;;
    *) why="curl exit status $rc${code:+, HTTP $code}" ;;
  esac
fi
if [ "$rc" -ne 0 ]; then
  [ -s "$file" ] || rm -f "$file"
  if [ -f "$file" ]; then
    die "$tool could not fetch $url into $file: $why ($(wc -c < "$file") bytes kept: re-run to resume)"
  fi
  die "$tool could not fetch $url into $file: $why"
fi
echo "$0: $url -> $file ($(wc -c < "$file") bytes)" >&2

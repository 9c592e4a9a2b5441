#!/usr/bin/env bash
# CMU's AN4 tarball (an4_raw.bigendian.tar.gz, 64 MB, headerless big-endian audio)
# downloaded into <download-dir> (resumed if interrupted), unpacked, and converted
# to WAV beside the .raw files: afterwards <download-dir>/an4 has the layout of a
# WAV copy of AN4 (etc/, wav/). Nothing is fetched again once
# <download-dir>/an4/.converted exists. Also used by the FSDD recipe, which
# borrows AN4's voices.
#   e.g. local/download.sh downloads          # -> downloads/an4
set -euo pipefail
url=http://www.speech.cs.cmu.edu/databases/an4/an4_raw.bigendian.tar.gz
. "$(dirname "${BASH_SOURCE[0]}")/../utils/parse_options.sh"

die() { echo "$0: ERROR: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "expected one argument, <download-dir> (see --help)"
download_dir=$1
an4_root=$download_dir/an4
[ ! -f "$an4_root/.converted" ] || exit 0
mkdir -p "$download_dir"
tarball=$download_dir/$(basename "$url")
if [ ! -f "$tarball.complete" ]; then
  echo "$0: downloading $url -> $tarball" >&2
  rc=0
  "$(dirname "${BASH_SOURCE[0]}")/../utils/download.sh" --tries 3 "$url" "$tarball" || rc=$?
  [ "$rc" -ne 2 ] || die "neither wget nor curl is installed: download $url yourself and pass --an4-root"
  [ "$rc" -eq 0 ] || die "download of $url failed (re-run to resume)"
  gzip -t "$tarball" || die "$tarball is damaged: delete it and re-run"
  touch "$tarball.complete"
fi
tar -xzf "$tarball" -C "$download_dir" || die "could not unpack $tarball"
[ -d "$an4_root/wav" ] || die "$tarball did not unpack into $an4_root/wav"
"$(dirname "${BASH_SOURCE[0]}")/raw_to_wav.py" "$an4_root/wav" || die "converting $an4_root/wav/*.raw to WAV failed"
touch "$an4_root/.converted"

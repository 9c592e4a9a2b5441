#!/usr/bin/env bash
# Stage -1 of the LibriSpeech recipe: download and unpack parts of OpenSLR
# resource 12. Each tarball is fetched with resume (utils/download.sh: wget -c,
# else curl -C -), checked against OpenSLR's md5sum, and unpacked into
# <download-dir>/LibriSpeech/<part>/; a part already unpacked is skipped, so an
# interrupted download is finished by running this again. Sizes: train-clean-100
# 6.3 GB, train-clean-360 23 GB, train-other-500 30 GB, dev/test parts about
# 0.3 GB each.
#   e.g. local/download.sh --parts "dev-clean test-clean" /data/librispeech
#        # from the EU mirror:
#        local/download.sh --data-url https://openslr.elda.org/resources/12 \
#          /data/librispeech
#        local/download.sh --md5sum-file md5sum.txt --parts dev-clean \
#          /data/librispeech
# --md5sum-file reads sums in OpenSLR's md5sum.txt format ("<md5>  <part>.tar.gz"
# per line; what `md5sum [-b] DIR/<part>.tar.gz` prints is read too: the folder
# and md5sum's '*' are dropped) and overrides the built-in ones for the parts it
# lists (a mirror or a local copy with its own sums).
set -euo pipefail
# Paths below (data/, utils/, conf/) are the recipe directory's: started from elsewhere, bash's
# "./path.sh: No such file or directory" was all it said, after the script's path as $0.
[ -f ./path.sh ] || { echo "$0: run me from my recipe directory: cd $(cd "$(dirname "$0")/.." && pwd) && local/$(basename "$0") (no ./path.sh in $(pwd))" >&2; exit 1; }
. ./path.sh
data_url=https://www.openslr.org/resources/12
parts="dev-clean dev-other test-clean test-other train-clean-100 train-clean-360 train-other-500"
md5sum_file=
help_message="Usage: $0 [--data-url URL] [--parts \"PART ...\"]
         [--md5sum-file FILE] <download-dir>
  --md5sum-file FILE: md5 sums in OpenSLR's md5sum.txt format
                      (<md5>  <part>.tar.gz), overriding the built-in ones for
                      the parts it lists (a mirror, a local copy)
e.g.: $0 --parts \"dev-clean test-clean train-clean-100\" \\
        downloads"
. utils/parse_options.sh

die() { echo "$0: ERROR: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "expected <download-dir> (see --help)"
dir=$1

# OpenSLR's published checksums (openslr.org/resources/12/md5sum.txt).
declare -A md5=(
  [dev-clean]=42e2234ba48799c1f50f24a7926300a1
  [dev-other]=c8d0bcc9cca99d4f8b62fcc847357931
  [test-clean]=32fa31d27d2e1cad72775fee3f4849a9
  [test-other]=fb5a50374b501bb3bac4815ee91d3135
  [train-clean-100]=2a93770f6d5c6c964bc36631d331a522
  [train-clean-360]=c0e676e450a7ff2f54aeade5171606fa
  [train-other-500]=d1a0fd59409feb2c614ce4d30c387708
)
if [ -n "$md5sum_file" ]; then
  [ -f "$md5sum_file" ] || die "--md5sum-file $md5sum_file: no such file"
  n=0
  while IFS= read -r line || [ -n "$line" ]; do  # a last line without a newline counts too
    n=$((n + 1))
    # The name is the rest of the line: md5sum of "/data/my copy/x.tar.gz" prints the path with
    # its space, which a third field took for junk after the name.
    read -r sum name <<< "${line%$'\r'}" || true
    case ${sum:-} in ''|'#'*) continue ;; esac
    name=${name#\*}  # md5sum -b: "<md5> *<file>"
    [[ $sum =~ ^[0-9a-fA-F]{32}$ && $name == *.tar.gz ]] \
      || die "$md5sum_file:$n: expected '<md5>  <part>.tar.gz', got '$line'"
    name=${name##*/}
    md5[${name%.tar.gz}]=${sum,,}
  done < "$md5sum_file"
fi
[ -n "$dir" ] || die "<download-dir> is empty"
# Every part is checked before any is fetched: a typo after a train part was found once that
# part's hours of download were over.
[ -n "${parts// /}" ] || die "--parts is empty: nothing to download (known: ${!md5[*]})"
for part in $parts; do
  [ -n "${md5[$part]+set}" ] || die "--parts: unknown part '$part' (known: ${!md5[*]})"
done
mkdir -p "$dir"
for part in $parts; do
  if [ -f "$dir/LibriSpeech/$part/.complete" ]; then
    echo "$0: $dir/LibriSpeech/$part is there already" >&2
    continue
  fi
  tarball=$dir/$part.tar.gz
  if [ ! -f "$tarball.md5-ok" ]; then
    echo "$0: downloading $data_url/$part.tar.gz -> $tarball (resumes a partial file)" >&2
    rc=0
    utils/download.sh --tries 5 "$data_url/$part.tar.gz" "$tarball" || rc=$?
    [ "$rc" -ne 2 ] || die "neither wget nor curl is installed"
    [ "$rc" -eq 0 ] || die "download of $data_url/$part.tar.gz failed: run again to resume"
    got=$(md5sum "$tarball" | cut -d' ' -f1)
    [ "$got" = "${md5[$part]}" ] || die "$tarball: md5 $got, expected ${md5[$part]}: delete it and run again"
    touch "$tarball.md5-ok"
  fi
  echo "$0: unpacking $tarball" >&2
  tar -xzf "$tarball" -C "$dir" || die "could not unpack $tarball"
  [ -d "$dir/LibriSpeech/$part" ] || die "$tarball did not unpack into $dir/LibriSpeech/$part"
  touch "$dir/LibriSpeech/$part/.complete"
done
echo "$0: done: $parts in $dir/LibriSpeech" >&2

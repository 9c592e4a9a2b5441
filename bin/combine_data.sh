#!/usr/bin/env bash
# Combine Kaldi data dirs into one (as Kaldi's utils/combine_data.sh): every table present in
# all sources is concatenated and sorted (C locale), spk2utt is rebuilt; spk2gender,
# reco2file_and_channel and reco2dur are combined from the sources that have them. Utterance ids
# must be unique across the sources; a speaker's or a segmented recording's line may recur (kept
# once), but not with another value, nor a recording that another source has whole.
#   e.g. bin/combine_data.sh data/train_960 data/train_clean_100 data/train_clean_360 data/train_other_500
set -euo pipefail
help_message="Usage: $0 <dest-data-dir> <src-data-dir> [<src-data-dir> ...]
e.g.: $0 data/dev data/dev_clean data/dev_other"
. "$(dirname "${BASH_SOURCE[0]}")/parse_options.sh"
. "$(dirname "${BASH_SOURCE[0]}")/data_lock.sh"

die() { echo "$0: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "expected <dest-data-dir> <src-data-dir>... (see --help)"
dest=$1; shift
# realpath -m: <dest> need not exist yet, and is made only once every check has passed (a failed
# combination left an empty <dest> behind).
dest_path=$(realpath -m -- "$dest")
for src in "$@"; do
  [ -f "$src/utt2spk" ] || die "$src/utt2spk: no such file (not a data dir?)"
  [ "$(realpath -m -- "$src")" != "$dest_path" ] || die "$dest is also a source"
done
export LC_ALL=C
tmp_table=
trap '[ -z "$tmp_table" ] || rm -f "$tmp_table"' EXIT
tables="wav.scp segments text utt2spk feats.scp utt2num_frames utt2dur utt2uniq utt2lang utt2sample_rate reco2dur
  spk2gender reco2file_and_channel cmvn.scp"
# A table's lines, each ended by a newline: 'cat' joined a last line without one to the next
# source's first line, and that utterance was silently lost from the combination.
lines() { awk 1 "$@"; }
# Some sources segmented, some not (as Kaldi's combine_data.sh): the others get whole-recording
# segments '<utt> <utt> 0 -1' (end -1: to the end of the recording). Left out, the combination
# had wav.scp keyed by recordings for some utterances and by utterances for the others, and
# segments naming none of the latter: a broken dir, said only as a WARNING.
segmented=0
for src in "$@"; do [ ! -f "$src/segments" ] || segmented=$((segmented + 1)); done
# Some sources with utt2uniq (a speed-perturbed set), some without (as Kaldi's combine_data.sh):
# an utterance of the others is its own original. Left out, the combination lost the copies'
# grouping: a train/dev split by utt2uniq put copies of one recording on both sides.
uniq_sources=0
for src in "$@"; do [ ! -f "$src/utt2uniq" ] || uniq_sources=$((uniq_sources + 1)); done
# Tables keyed by speaker or recording that may cover only some of them (a warning in validation,
# not an error; datadir.OPTIONAL_TABLES): split-data-dir and subset_data_dir.sh leave one out of a
# piece none of whose speakers it has, so requiring it in every source lost spk2gender from a
# split -> combine round trip. The sources that have one give their lines.
optional_tables=" spk2gender reco2file_and_channel reco2dur "
table_lines() {  # <src> <table>
  if [ "$2" = segments ] && [ ! -f "$1/segments" ] && [ "$segmented" -gt 0 ]; then
    awk '{ print $1, $1, 0, -1 }' "$1/wav.scp"
  elif [ "$2" = utt2uniq ] && [ ! -f "$1/utt2uniq" ] && [ "$uniq_sources" -gt 0 ]; then
    awk 'NF { print $1, $1 }' "$1/utt2spk"
  else
    lines "$1/$2"
  fi
}
has_table() {
  [ -f "$1/$2" ] || { [ "$2" = segments ] && [ "$segmented" -gt 0 ] && [ -f "$1/wav.scp" ]; } \
    || { [ "$2" = utt2uniq ] && [ "$uniq_sources" -gt 0 ]; }
}
# A malformed utt2spk line failed the spk2utt made at the end, after every table was replaced in
# <dest> (and spk2utt left empty): checked first, named by its source's file and line.
for src in "$@"; do
  "$(dirname "${BASH_SOURCE[0]}")/utt2spk_to_spk2utt.sh" "$src/utt2spk" > /dev/null \
    || die "$src/utt2spk: malformed (nothing written to $dest)"
done
# Every table is checked before any is written: a duplicate id in the third table left the first
# two combined beside the earlier combination's others.
# Tables whose ids may be in several sources with the same line: a speaker's (spk2gender,
# cmvn.scp: two subsets of one dir), and a recording's (wav.scp of segmented sources,
# reco2file_and_channel, reco2dur: pieces of one segmented dir, split by speaker, share
# recordings, which Kaldi's combine_data.sh merges). One id with two different lines is refused:
# 'sort -u' below kept either of them without a word. An utterance's tables stay unique.
shared_ids=" spk2gender cmvn.scp reco2file_and_channel reco2dur "
[ "$segmented" -eq 0 ] || shared_ids="$shared_ids wav.scp "
# A shared table's line as its readers read it: the key, then the value with the white space
# around it dropped (wav.scp, cmvn.scp: an rxfilename, read whole), or its fields one space apart.
# 'meet  a.wav', 'meet<TAB>a.wav' and 'meet a.wav ' are one line: compared as they were written,
# they were refused as 'different values'.
read_as() {  # <table>
  awk -v whole="$([ "$1" = wav.scp ] || [ "$1" = cmvn.scp ] && echo 1)" '{
    v = $0; sub(/^[ \t]*[^ \t]+[ \t]*/, "", v); sub(/[ \t]+$/, "", v)
    if (!whole) gsub(/[ \t]+/, " ", v)
    print $1 " " v }'
}
# A whole-recording utterance of an unsegmented source ('meet', read as 'meet meet 0 -1') is no
# recording other sources' segments may share: merged, the combination held that audio twice,
# whole and in segments, without a word. Its wav.scp lines are kept apart by a mark of their source.
shared_lines() {  # <src> <table>
  if [ "$2" = wav.scp ] && [ ! -f "$1/segments" ]; then
    table_lines "$1" "$2" | read_as "$2" | awk -v src="$1" '{ print $0 "\t" src }'
  else
    table_lines "$1" "$2" | read_as "$2"
  fi
}
value_of() {  # <src> <table> <id>: '=<its value as read>' where the source's table holds <id>, else nothing
  table_lines "$1" "$2" | read_as "$2" | awk -v k="$3" '$1 == k && !n++ { sub(/^[^ ]* ?/, ""); print "=" $0 }'
}
# For an error: one value, cut short where long, a carriage return shown as \r: printed raw, 'm\r'
# (a source with CRLF line ends) garbled the terminal and looked the same as 'm'.
show_value() { local v=$1; [ "${#v}" -le 120 ] || v="${v:0:117}..."; printf "'%s'" "${v//$'\r'/\\r}"; }
cr_note() {  # <value> <file it is from>
  [[ "$1" != *$'\r'* ]] || printf " (%s a carriage return: CRLF line ends? sed -i 's/\\\\r\$//' %q)" \
    "$([[ "$1" == *$'\r' ]] && echo "ends with" || echo "holds")" "$2"
}
combine=()
for f in $tables; do
  n=0
  for src in "$@"; do ! has_table "$src" "$f" || n=$((n + 1)); done
  if [ "$n" -eq "$#" ] || { [ "$n" -gt 0 ] && [[ "$optional_tables" == *" $f "* ]]; }; then
    [ "$n" -eq "$#" ] || echo "$0: $f is in $n of $# sources: combined from those (validation warns of the speakers or recordings it lacks)" >&2
    shared=0; [[ "$shared_ids" != *" $f "* ]] || shared=1
    dups=$(for src in "$@"; do
             ! has_table "$src" "$f" || if [ "$shared" -eq 1 ]; then shared_lines "$src" "$f"; else table_lines "$src" "$f"; fi
           done | { if [ "$shared" -eq 1 ]; then sort -u; else cat; fi; } \
      | awk '{ print $1 }' | sort | uniq -d | awk 'NR <= 3' | tr '\n' ' ')  # (head -3: uniq's SIGPIPE, pipefail)
    if [[ "$dups" == " "* ]]; then
      # (an empty id sorts first) blank lines, not an id: said as 'ids found in more than one
      # source's text:  (e.g.  in D/text and E/text)'
      blanks=$(for src in "$@"; do
                 ! has_table "$src" "$f" || table_lines "$src" "$f" | awk -v f="$src/$f" 'NF == 0 { print f ":" NR }'
               done | awk 'NR <= 3' | tr '\n' ' ')
      files=$(for src in "$@"; do
                ! has_table "$src" "$f" || ! grep -q '^[[:space:]]*$' "$src/$f" || printf '%q ' "$src/$f"
              done)
      die "blank lines in $f: ${blanks}(a table line is '<id> <value>'; Kaldi's readers refuse a blank one): delete them, e.g. sed -i '/^[[:space:]]*\$/d' ${files% }"
    fi
    if [ -n "$dups" ]; then
      # the sources of the first such id, each by its table, with its value as read
      first=${dups%% *}
      holders=()
      values=()
      whole=   # (wav.scp: the first source holding it with no segments, and the first with)
      seg=
      for src in "$@"; do
        has_table "$src" "$f" || continue
        value=$(value_of "$src" "$f" "$first")
        [ -n "$value" ] || continue
        holders+=("$src/$f")
        values+=("${value#=}")
        if [ "$f" = wav.scp ] && [ "$shared" -eq 1 ]; then
          if [ -f "$src/segments" ]; then seg=${seg:-$src}; else whole=${whole:-$src}; fi
        fi
      done
      if [ -n "$whole" ] && [ -n "$seg" ]; then
        seg_value=$(value_of "$seg" wav.scp "$first"); seg_value=${seg_value#=}
        whole_value=$(value_of "$whole" wav.scp "$first"); whole_value=${whole_value#=}
        if [ "$seg_value" = "$whole_value" ]; then
          die "recording $first is segmented in $seg and a whole-recording utterance in $whole (no segments file there): combined, its audio would be in the data twice, whole and in $seg's segments; leave one of them out of the combination"
        fi
        die "$first is a recording in $seg/wav.scp ($(show_value "$seg_value")$(cr_note "$seg_value" "$seg/wav.scp")) and a whole-recording utterance in $whole/wav.scp ($(show_value "$whole_value")$(cr_note "$whole_value" "$whole/wav.scp"); no segments file there): one id for two recordings; rename one of them in its source"
      fi
      in=
      for i in "${!holders[@]}"; do
        [ "$i" -eq 0 ] || { [ "$i" -eq $((${#holders[@]} - 1)) ] && in="$in and " || in="$in, "; }
        if [ "$shared" -eq 1 ] && [ -z "$whole" ]; then in="$in$(show_value "${values[$i]}") in ${holders[$i]}$(cr_note "${values[$i]}" "${holders[$i]}")"; else in="$in${holders[$i]}"; fi
      done
      if [ "$shared" -eq 1 ] && [ -z "$whole" ]; then
        case $f in
          spk2gender|cmvn.scp) what="a speaker has one $f line in every source that holds it: make them the same, or, if they are two speakers, rename one in its source" ;;
          *) what="a recording has one $f line in every source that holds it: make them the same, or, if they are two recordings, rename one in its source (wav.scp, segments, reco2dur, reco2file_and_channel)" ;;
        esac
        die "ids found in more than one source's $f with different values: $dups(e.g. $first is $in): $what"
      fi
      die "ids found in more than one source's $f: $dups(e.g. $first in $in)"
    fi
    combine+=("$f")
  elif [ "$n" -gt 0 ]; then
    echo "$0: WARNING: $f is in only $n of $# sources: not combined" >&2
  fi
done
mkdir -p "$dest" || die "$dest: cannot create the directory"
# A run SIGKILLed while writing a table left its .<table>.<pid>.tmp (no EXIT trap runs): removed
# here, once no other run writes into <dest>.
if take_dir_lock "$dest"; then
  for f in $tables fbank.yaml spk2utt; do
    for p in "$dest/.$f".*.tmp; do
      if [[ ${p#"$dest/.$f."} =~ ^[0-9]+\.tmp$ ]]; then rm -f -- "$p"; fi
    done
  done
fi
for f in $tables; do
  if [[ " ${combine[*]} " == *" $f "* ]]; then
    tmp_table="$dest/.$f.$$.tmp"
    for src in "$@"; do ! has_table "$src" "$f" || table_lines "$src" "$f"; done | sort -k1,1 -u > "$tmp_table"
    mv "$tmp_table" "$dest/$f"
    tmp_table=
  else
    rm -f "$dest/$f"   # one left from an earlier combination into <dest> would describe other utterances
  fi
done
# The feature options of dump dirs (fbank.yaml, beside their feats.scp): the same in every source,
# or none. A combination of dump dirs lost it (and utt2sample_rate, above), and asrkit-train on it
# packed a model without its feature options.
fbank_yaml=
for src in "$@"; do
  if [ ! -f "$src/fbank.yaml" ]; then fbank_yaml=; break; fi
  if [ -z "$fbank_yaml" ]; then fbank_yaml=$src/fbank.yaml
  elif ! cmp -s "$fbank_yaml" "$src/fbank.yaml"; then
    echo "$0: WARNING: $fbank_yaml and $src/fbank.yaml differ (features made with other options): fbank.yaml not combined" >&2
    fbank_yaml=; break
  fi
done
if [ -n "$fbank_yaml" ]; then
  tmp_table="$dest/.fbank.yaml.$$.tmp"
  cp "$fbank_yaml" "$tmp_table" && mv "$tmp_table" "$dest/fbank.yaml"
else
  rm -f "$dest/fbank.yaml"
fi
tmp_table="$dest/.spk2utt.$$.tmp"
"$(dirname "${BASH_SOURCE[0]}")/utt2spk_to_spk2utt.sh" "$dest/utt2spk" > "$tmp_table"
mv "$tmp_table" "$dest/spk2utt"
tmp_table=
echo "$0: $(wc -l < "$dest/utt2spk") utterances from $# dirs -> $dest" >&2

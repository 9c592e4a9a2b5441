"""Common Voice's validated.tsv ('client_id<TAB>path<TAB>sentence<TAB>...', a header row) given to
--transcripts, as a Common Voice user does first: read as '<key><TAB><text>' lines its keys were
the speakers' client ids, so the run ended with "key 'c0ffee...' appears twice" (a speaker with
two clips) or, one clip per speaker, with every line skipped as a transcript without audio;
neither said the file's format was the trouble. Such a header is now an error naming the format
and giving the awk line that converts it, which works as printed (the columns found from the
header: newer releases put sentence_id between path and sentence)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from asrkit.data.from_audio import make_data_dir
from asrkit.utils.errors import AsrkitError
from user_corpus import make_user_corpus

HEADER_OLD = ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accents", "locale", "segment"]
HEADER_NEW = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes", "age"]


def _write_tsv(path, header, expected, client_of):
    rows = ["\t".join(header)]
    for key, words in sorted(expected.items()):
        fields = {"client_id": client_of(key), "path": f"{key}.wav", "sentence": words.capitalize() + ".",
                  "sentence_id": "abc" + key[-4:], "locale": "en"}
        rows.append("\t".join(fields.get(c, "") for c in header))
    path.write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize("header,client_of", [
    (HEADER_OLD, lambda key: "c0ffee" + key.split("-")[1]),   # clips of a speaker share a client id
    (HEADER_NEW, lambda key: "c0ffee" + key),                  # one clip per speaker
], ids=["shared-client-ids", "sentence-id-column"])
def test_common_voice_tsv_is_refused_with_a_working_conversion(an4_root, tmp_path, header, client_of):
    expected = make_user_corpus(an4_root, tmp_path / "c", 6)
    tsv = tmp_path / "validated.tsv"
    _write_tsv(tsv, header, expected, client_of)
    with pytest.raises(AsrkitError) as e:
        make_data_dir(tmp_path / "c/audio", tmp_path / "data", transcripts=tsv, case="upper", punctuation="drop")
    msg = str(e.value)
    assert msg.startswith(f"{tsv}:1: a table with a header row (client_id, path, sentence") and "Common Voice" in msg, msg
    assert not (tmp_path / "data").exists()
    command = msg.split("e.g. ", 1)[1].rsplit(" (NR > 1", 1)[0]
    subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True)
    report = make_data_dir(tmp_path / "c/audio", tmp_path / "data", transcripts=tmp_path / "prompts.tsv",
                           case="upper", punctuation="drop")
    assert (report.num_utts, report.skipped) == (6, {})
    text = dict(line.split(" ", 1) for line in (tmp_path / "data/text").read_text().splitlines())
    assert sorted(v.strip() for v in text.values()) == sorted(expected.values())


def test_common_voice_tsv_error_is_one_line_from_the_command(an4_root, tmp_path):
    expected = make_user_corpus(an4_root, tmp_path / "c", 3)
    _write_tsv(tmp_path / "validated.tsv", HEADER_OLD, expected, lambda key: "x")
    r = subprocess.run([sys.executable, "-m", "asrkit", "make-data-dir", "--transcripts", str(tmp_path / "validated.tsv"),
                        str(tmp_path / "c/audio"), str(tmp_path / "d")], capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ERROR (asrkit-make-data-dir): ") and "validated.tsv:1: a table with a header row" in last


@pytest.mark.parametrize("first_line", [
    "path\tsentence",            # the audio's column first: its header is one skipped line, as before
    "an251-fash-b\tpath text",   # a transcript that holds the words 'path' and 'text'
])
def test_tab_separated_prompts_that_are_not_such_a_table_are_still_read(an4_root, tmp_path, first_line):
    expected = make_user_corpus(an4_root, tmp_path / "c", 4)
    lines = [f"{k}\t{v}" for k, v in sorted(expected.items()) if not first_line.startswith(k)]
    (tmp_path / "p.tsv").write_text("\n".join([first_line] + lines) + "\n")
    report = make_data_dir(tmp_path / "c/audio", tmp_path / "data", transcripts=tmp_path / "p.tsv",
                           max_skip_ratio=1.0)
    assert report.num_utts == 4

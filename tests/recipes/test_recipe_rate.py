"""asr.sh's rate(): the WER/CER of asrkit-score's summary line for RESULTS.md, and an error (never
"inf", "nan" or a 0) for a set whose references have no words."""
from __future__ import annotations

import subprocess

import pytest
from recipe_helpers import REPO

ASR_SH = REPO / "egs" / "TEMPLATE" / "asr1" / "asr.sh"


def rate(tmp_path, what: str, text: str) -> subprocess.CompletedProcess:
    """rate() as asr.sh's stage 6 calls it: at the top level under set -euo pipefail."""
    (tmp_path / "wer.txt").write_text(text)
    script = ("set -euo pipefail\n"
              "die() { echo \"asr.sh: ERROR: $*\" >&2; exit 1; }\n"
              f"eval \"$(sed -n '/^rate() {{/,/^}}/p' {ASR_SH})\"\n"
              f"value=$(rate {what} wer.txt)\n"
              "echo \"row: $value\"\n")
    return subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_rate_reads_the_summary_line(tmp_path):
    text = "%WER 7.60 [ 33 / 434, 5 ins, 10 del, 18 sub ]\n%CER 3.10 [ 50 / 1612, 1 ins, 2 del, 47 sub ]\n"
    assert rate(tmp_path, "WER", text).stdout == "row: 7.60\n"
    assert rate(tmp_path, "CER", text).stdout == "row: 3.10\n"
    assert rate(tmp_path, "WER", "%WER 100.00 [ 3 / 3, 0 ins, 3 del, 0 sub ]\n").stdout == "row: 100.00\n"


@pytest.mark.parametrize("line", ["%WER inf [ 6 / 0, 6 ins, 0 del, 0 sub ]", "%WER nan [ 0 / 0, 0 ins, 0 del, 0 sub ]",
                                  "%WER 0.00 [ 0 / 0, 0 ins, 0 del, 0 sub ]"])
def test_no_reference_words_is_an_error_not_a_number(tmp_path, line):
    proc = rate(tmp_path, "WER", line + "\n")
    assert proc.returncode == 1 and "row:" not in proc.stdout
    assert f"asr.sh: ERROR: wer.txt: '{line}': the WER is undefined: the references of this set have no words" \
        in proc.stderr, proc.stderr


def test_no_summary_line(tmp_path):
    proc = rate(tmp_path, "CER", "%WER 7.60 [ 33 / 434, 5 ins, 10 del, 18 sub ]\n")
    assert proc.returncode == 1 and "asr.sh: ERROR: no %CER line in wer.txt" in proc.stderr

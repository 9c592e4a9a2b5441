"""Shell scripts under `set -o pipefail` must not end a pipeline in a reader that quits early.

`producer | head -1` (or `grep -m1`, `grep -q`) exits at its first line while the producer may
still be writing; the producer then dies of SIGPIPE (141), pipefail makes that the pipeline's
status, and `set -e` ends the script without a word. It is a race, so it shows only now and then:
asr.sh's stage 1 ended so in CI (test_an4_stages_0_to_2_on_a_slice) until 7012bec.
"""
from __future__ import annotations

import re
import subprocess

import pytest

from recipe_helpers import REPO

ASR_SH = REPO / "egs/TEMPLATE/asr1/asr.sh"

# A pipe into head, or into a grep that stops at its first match (-m N, -q, -l, -L).
EARLY_READER = re.compile(r"\|\s*(head\b|grep\s+(-[A-Za-z]*[mqlL]|--max-count|--quiet|--silent))")


def shell_scripts():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    for name in files:
        path = REPO / name
        if path.is_symlink() or not path.is_file():
            continue
        if name.endswith(".sh"):
            yield path
            continue
        with open(path, "rb") as f:
            first = f.readline(200)
        if first.startswith(b"#!") and b"bash" in first:
            yield path


def code_of(line: str) -> str:
    """The line without a trailing comment (` # ...`); a whole-line comment is empty."""
    if line.lstrip().startswith("#"):
        return ""
    return re.sub(r"\s#\s.*$", "", line)


def test_no_early_exiting_reader_in_pipefail_scripts():
    checked, offenders = 0, []
    for path in shell_scripts():
        text = path.read_text(errors="replace")
        if "pipefail" not in text:
            continue
        checked += 1
        for no, line in enumerate(text.splitlines(), 1):
            if EARLY_READER.search(code_of(line)):
                offenders.append(f"{path.relative_to(REPO)}:{no}: {line.strip()}")
    assert checked >= 20, f"only {checked} pipefail scripts found: is the repo listing broken?"
    assert not offenders, ("a pipeline ends in a reader that quits early (SIGPIPE under pipefail; "
                           "use sed -n '1p' or sed's own q on the file):\n" + "\n".join(offenders))


def test_lint_sees_the_old_lines():
    # The check itself must catch what it is there for (the lines 7012bec replaced).
    for line in ("  first=$(cat $1 2>/dev/null | grep -m1 ' WARNING ' | sed 's/^.* WARNING //')",
                 "cpu=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo 2> /dev/null | head -1)",
                 "if ps | grep -q slurmd; then"):
        assert EARLY_READER.search(code_of(line)), line
    for line in ("cpu=$(sed -n '/^model name/{s///p;q}' /proc/cpuinfo)  # (| head -1: SIGPIPE)",
                 "# cat logs | grep -m1 WARNING", "n=$(cat $1 | grep -c ' WARNING ' || true)"):
        assert not EARLY_READER.search(code_of(line)), line


@pytest.mark.parametrize("folder", ["log", "job logs"])
def test_warnings_summary_survives_many_large_logs(tmp_path, folder):
    # asr.sh's warnings() under the script's own options, over 50 job logs of 200 kB each with a
    # warning on the first line: the old `cat | grep -m1` exited 141 here every time. In a folder
    # with a space in its name (a --dumpdir, a checkout) the unquoted glob found no log at all.
    tmp_path = tmp_path / folder
    tmp_path.mkdir()
    text = ASR_SH.read_text()
    func = re.search(r"^warnings\(\) \{\n.*?^\}\n", text, re.M | re.S)
    assert func, f"{ASR_SH}: no warnings() function"
    filler = ("LOG (asrkit-compute-fbank) processed utterance x" + "y" * 60 + "\n") * 1800
    for i in range(50):
        (tmp_path / f"fbank.{i + 1}.log").write_text(
            f"2026-12-03 WARNING utterance 'u{i}': every sample is 0 (digital silence)\n" + filler)
    script = ("set -euo pipefail\n"
              "log() { echo \"LOG: $*\"; }\n"
              "current_stage=1\n" + func.group(0) +
              f"warnings '{tmp_path}/fbank.*.log'\n"
              "echo after\n")
    for _ in range(3):
        proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[-1] == "after"
        assert "50 warning(s)" in lines[0] and "utterance 'u0': every sample is 0" in lines[0], lines[0]

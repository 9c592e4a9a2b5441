"""bench/ scripts: an option that cannot be measured as given is a usage error before any work,
not a figure of something else under its name (each case ran with exit 0 before)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench(*argv, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "bench" / argv[0]), *argv[1:]], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_audio_read_speed_tree_without_asrkit_is_refused(tmp_path):
    # A mistyped --tree measured this checkout's reader and printed '(asrkit from <the typo>)'.
    proc = bench("audio_read_speed.py", "--tree", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not proc.stdout
    assert proc.stderr.rstrip().splitlines()[-1] == (
        f"audio_read_speed.py: error: --tree {tmp_path / 'nowhere'}: no asrkit/__init__.py there "
        "(a checkout or git archive of asrkit)")
    proc = bench("audio_read_speed.py", "--wavs", "0")  # was a ZeroDivisionError traceback
    assert proc.returncode == 2 and proc.stderr.rstrip().splitlines()[-1].endswith(
        "--wavs and --oggs must be 1 or more, got 0 and 100")


def test_long_audio_options_it_would_pass_over_are_refused(tmp_path):
    # make --max-utts without --data joined all 130 AN4 test utterances without a word.
    proc = bench("long_audio.py", "make", "--out", str(tmp_path / "out"), "--max-utts", "2")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
    assert proc.stderr.rstrip().splitlines()[-1].endswith(
        "--max-utts takes the first N utterances of --data; without --data the AN4 test set is used whole")
    proc = bench("long_audio.py", "run", "--out", str(tmp_path / "out"), "--model", "m.pt", "--only", "joint")
    assert proc.returncode == 2 and proc.stderr.rstrip().splitlines()[-1].endswith(
        "--only: separate, joined and/or joined_x10, not joint")

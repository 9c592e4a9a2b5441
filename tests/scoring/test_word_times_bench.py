"""bench/word_times.py: word-boundary errors against a reference CTM, by exact utterances and by hits."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ctm(path: Path, rows):
    path.write_text("".join(f"{u} 1 {s:.3f} {e - s:.3f} {w} 1.0\n" for u, w, s, e in rows))
    return str(path)


def test_exact_pairing_drops_misrecognised_utterances_and_hits_keep_their_correct_words(tmp_path):
    ref = _ctm(tmp_path / "ref.ctm", [("a", "ONE", 0.10, 0.50), ("a", "TWO", 0.80, 1.20),
                                      ("b", "SIX", 0.20, 0.60), ("b", "NINE", 1.00, 1.40)])
    # a: exact, every boundary 10 ms off; b: SIX -> SEVEN and an inserted word, NINE 100 ms late
    hyp = _ctm(tmp_path / "hyp.ctm", [("a", "ONE", 0.11, 0.51), ("a", "TWO", 0.81, 1.21),
                                      ("b", "SEVEN", 0.20, 0.60), ("b", "OH", 0.70, 0.80),
                                      ("b", "NINE", 1.10, 1.50)])
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "word_times.py"), ref, hyp],
                         capture_output=True, text=True, check=True).stdout
    rows = {line.split("|")[2].strip(): [c.strip() for c in line.split("|")[3:-1]]
            for line in out.splitlines() if line.startswith(f"| {hyp}")}
    assert rows["exact"] == ["1 of 2", "2", "10 / 10", "10 / 10"]
    # hits: ONE, TWO (10 ms) and NINE (100 ms); SEVEN and OH are not paired
    assert rows["hits"][:2] == ["2 of 2", "3"]
    assert rows["hits"][2].startswith("10 / ") and rows["hits"][3].startswith("10 / ")
    assert float(rows["hits"][3].split("/")[1]) > 50

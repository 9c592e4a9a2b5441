"""Build real Kaldi data directories from the AN4 corpus for tests (ESPnet's layout: <spk>-<utt>)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Tuple

_TRANS = re.compile(r"^(?:<s>\s*)?(.*?)\s*(?:</s>)?\s*\(([^()]+)\)\s*$")


def an4_transcripts(an4_root: Path, part: str = "train") -> List[Tuple[str, str, str]]:
    """(utt_id, speaker, transcript) per line of etc/an4_<part>.transcription, utt ids '<spk>-<anNNN>-<x>'."""
    out = []
    for line in (an4_root / "etc" / f"an4_{part}.transcription").read_text().splitlines():
        m = _TRANS.match(line.strip())
        assert m, line
        words, name = m.group(1).replace("</s>", "").strip(), m.group(2)
        num, spk, tail = name.split("-")
        out.append((f"{spk}-{num}-{tail}", spk, words))
    return out


def make_an4_data_dir(an4_root: Path, out: Path, part: str = "test", limit: int | None = None) -> Dict[str, str]:
    """data dir with wav.scp, text, utt2spk, spk2utt for AN4 ``part``; returns utt -> speaker."""
    subdir = "an4_clstk" if part == "train" else "an4test_clstk"
    rows = sorted(an4_transcripts(an4_root, part))[:limit]
    out.mkdir(parents=True, exist_ok=True)
    utt2spk = {}
    with open(out / "wav.scp", "w") as wav, open(out / "text", "w") as text, open(out / "utt2spk", "w") as u2s:
        for utt, spk, words in rows:
            num, tail = utt.split("-")[1], utt.split("-")[2]
            path = an4_root / "wav" / subdir / spk / f"{num}-{spk}-{tail}.wav"
            wav.write(f"{utt} {path}\n")
            text.write(f"{utt} {words}\n")
            u2s.write(f"{utt} {spk}\n")
            utt2spk[utt] = spk
    spk2utt: Dict[str, List[str]] = {}
    for utt, spk in utt2spk.items():
        spk2utt.setdefault(spk, []).append(utt)
    (out / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk2utt.items())))
    return utt2spk

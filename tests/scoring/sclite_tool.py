"""Running the real NIST sclite and reading its reports, to compare asrkit-score with.

Debian's ``sctk`` package installs it as ``sctk sclite``. The session fixture installs the package
with apt-get when it is missing (apt-get update first). Where that is impossible (not root, no
network) the comparison tests skip with the reason, except under ``ASRKIT_REQUIRE_SCLITE=1`` or
``ASRKIT_REQUIRE_CORPORA=1`` (CI), where a missing sclite is a failure.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple



def _find_sclite() -> Optional[List[str]]:
    if shutil.which("sctk"):
        return ["sctk", "sclite"]
    if shutil.which("sclite"):
        return ["sclite"]
    return None


def _install_sctk() -> str:
    """Try apt-get (waiting for another install's lock); return '' on success, else why not."""
    from debian_packages import apt_install

    why = apt_install("sctk", extra=("--no-install-recommends",))
    return "not root, cannot apt-get install sctk" if why == "not root" else why


@dataclass
class ScliteUtt:
    counts: Tuple[int, int, int, int]  # C S D I
    ops: List[str]  # C/S/D/I per aligned column, from the REF/HYP lines
    pairs: List[Tuple[str, str]] = field(default_factory=list)  # (REF, HYP) column texts as printed


@dataclass
class ScliteResult:
    utts: Dict[str, ScliteUtt]
    table: List[List[str]]  # speaker table rows: [name, # Snt, # Wrd, Corr, Sub, Del, Ins, Err, S.Err]
    raw: str


def parse_table(text: str) -> List[List[str]]:
    """Rows of a "SYSTEM SUMMARY PERCENTAGES by SPEAKER" table (sclite's or ours), header excluded."""
    rows = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 5 or parts[0] != "" or parts[-1] != "":
            continue
        name = parts[1].strip()
        if name == "SPKR":
            continue
        rows.append([name] + parts[2].split() + parts[3].split())
    return rows


def parse_pralign(text: str) -> Dict[str, ScliteUtt]:
    utts: Dict[str, ScliteUtt] = {}
    for block in re.split(r"\nid: \(", text)[1:]:
        lines = block.split("\n")
        utt = lines[0].strip().rstrip(")")
        counts = tuple(int(x) for x in lines[1].split()[-4:])
        ref_line = next((ln for ln in lines if ln.startswith("REF:")), None)
        hyp_line = next((ln for ln in lines if ln.startswith("HYP:")), None)
        ops, pairs = [], []
        if ref_line is not None:
            for r, h in zip(ref_line.split()[1:], hyp_line.split()[1:]):
                pairs.append((r, h))
                if set(r) == {"*"}:
                    ops.append("I")
                elif set(h) == {"*"}:
                    ops.append("D")
                elif r.lower() == h.lower():
                    ops.append("C")
                else:
                    ops.append("S")
        utts[utt] = ScliteUtt(counts, ops, pairs)  # type: ignore[arg-type]
    return utts


class Sclite:
    def __init__(self, cmd: List[str], workdir: Path) -> None:
        self.cmd = cmd
        self.workdir = workdir
        self.calls = 0

    def run(self, ref: Mapping[str, str], hyp: Mapping[str, str], char: bool = False,
            utf8: bool = False, case_sensitive: bool = False, extra_reports: Tuple[str, ...] = ()) -> ScliteResult:
        """Score Kaldi-style dicts (utt ids in sclite's spk-utt form); every ref utt must be in hyp."""
        self.calls += 1
        d = self.workdir / f"run{self.calls}"
        d.mkdir()
        for name, table in (("ref.trn", ref), ("hyp.trn", hyp)):
            with open(d / name, "w", encoding="utf-8") as f:
                for utt, text in table.items():
                    f.write(f"{text} ({utt})\n")
        cmd = self.cmd + ["-r", str(d / "ref.trn"), "trn", "-h", str(d / "hyp.trn"), "trn", "-i", "rm"]
        if char:
            cmd.append("-c")
        if utf8:
            cmd += ["-e", "utf-8"]
        if case_sensitive:
            cmd.append("-s")
        cmd += ["-o", "sum", *extra_reports, "pralign", "stdout"]
        proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace")
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        out = proc.stdout
        head, _, ali = out.partition("DUMP OF SYSTEM ALIGNMENT STRUCTURE")
        return ScliteResult(parse_pralign(ali), parse_table(head), out)

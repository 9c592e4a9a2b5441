"""Text reports of a :class:`~asrkit.scoring.score.ScoreResult`, in the shapes sclite and Kaldi users read.

- :func:`summary_lines`: Kaldi ``compute-wer`` style (``%WER 7.60 [ 33 / 434, 5 ins, 10 del, 18 sub ]``).
- :func:`speaker_table`: sclite's "SYSTEM SUMMARY PERCENTAGES by SPEAKER" (its ``.sys`` report).
- :func:`alignment_lines`: sclite's ``pralign``: per utterance REF/HYP/Eval lines, correct tokens in
  lower case and errors in upper case, ``*`` filling the missing side.
- :func:`result_report`: all of the above plus the most frequent confusions, for ``result.txt``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from asrkit.scoring.alignment import fold_case, upper_case
from asrkit.scoring.score import PERCENT_COLUMNS, LevelScore, ScoreResult, UttScore, sclite_pct, sclite_round, top
from asrkit.utils.fileio import PathLike

LEVEL_NAMES = {"word": ("WER", "word"), "char": ("CER", "character")}
REPORT_FILES = ("wer.txt", "result.txt")  # what asrkit-score writes into its --output-dir


def check_report_spares_inputs(output_dir: PathLike, inputs: Sequence[Tuple[str, Optional[PathLike]]]) -> None:
    """Refuse an --output-dir whose wer.txt or result.txt is one of ``inputs`` ((option, path);
    None where not given): the reports are renamed over it at the end, so a reference or
    hypothesis kept there under such a name was replaced by the scores, with exit 0."""
    from asrkit.data.specifier import check_distinct_files

    outputs = [(Path(output_dir) / name, f"--output-dir's {name}") for name in REPORT_FILES]
    check_distinct_files(outputs, [(path, f"{option} {path}") for option, path in inputs],
                         over_input=lambda _, label, __, inp: (
                             f"{label} is the same file as {inp}, which the run reads: it would be overwritten; "
                             f"give another --output-dir"))


def summary_lines(result: ScoreResult) -> List[str]:
    """The one-line summaries, as Kaldi's ``compute-wer`` prints them, plus SER and a count line."""
    lines = []
    for level, score in result.levels.items():
        t = score.totals
        name = LEVEL_NAMES[level][0]
        lines.append(
            f"%{name} {t.error_rate:.2f} [ {t.errors} / {t.ref_len}, {t.ins} ins, {t.dels} del, {t.sub} sub ]"
        )
    any_level = next(iter(result.levels.values()), None)
    if any_level is not None:
        n, e = any_level.num_sent, any_level.sent_err
        lines.append(f"%SER {100.0 * e / n if n else 0.0:.2f} [ {e} / {n} ]")
        lines.append(f"Scored {n} sentences, {len(result.missing)} not present in hyp.")
    return lines


def _fmt(value: float) -> str:
    return f"{sclite_round(value, 1):.1f}"


def speaker_table(score: LevelScore, title: str = "") -> List[str]:
    """sclite's speaker summary table: one row per speaker, Sum/Avg, then Mean, S.D. and Median.

    A speaker without reference tokens shows counts marked ``*`` instead of percentages, and is
    left out of the Mean/S.D./Median of the token columns, which are then marked ``+`` (as sclite).
    """
    wrd = "# Wrd" if score.level == "word" else "# Chr"
    spks = score.speakers()
    width = max([6, len("Sum/Avg")] + [len(s.spk) for s in spks])

    def row(name: str, snt: str, nwrd: str, cells: Sequence[str]) -> str:
        return (f"| {name:<{width}} | {snt:>5} {nwrd:>6} | {cells[0]:>5} " + " ".join(f"{c:>6}" for c in cells[1:])
                + " |")

    header = row("SPKR", "# Snt", wrd, list(PERCENT_COLUMNS) + ["S.Err"])
    inner = len(header) - 2
    rule = "|" + "-" * inner + "|"
    double = "|" + "=" * inner + "|"
    lines = [","+ "-" * inner + ".", "|" + title.center(inner) + "|", rule, header, rule]
    no_ref = False
    for i, s in enumerate(spks):
        p = s.percents()
        if s.num_ref > 0:
            cells = [_fmt(p[c]) for c in PERCENT_COLUMNS]
        else:
            no_ref = True
            c = s.counts
            cells = [f"{v}*" for v in (c.corr, c.sub, c.dels, c.ins, c.errors)]  # sclite's "%5.0f*" of a count
        lines.append(row(s.spk, str(s.num_sent), str(s.num_ref), cells + [_fmt(p["S.Err"])]))
        lines.append(rule if i < len(spks) - 1 else double)
    if not spks:
        lines.append(double)
    o = score.overall()
    t = o.counts
    totals = [sclite_pct(v, t.ref_len) for v in (t.corr, t.sub, t.dels, t.ins, t.errors)]
    totals.append(sclite_pct(o.sent_err, o.num_sent))
    lines.append(row("Sum/Avg", str(o.num_sent), str(o.num_ref), [_fmt(v) for v in totals]))
    lines.append(double)
    stats = score.speaker_stats()
    mark = "+" if no_ref else ""
    for name in ("Mean", "S.D.", "Median"):
        st = stats[name]
        cells = [_fmt(st[c]) + mark for c in PERCENT_COLUMNS] + [_fmt(st["S.Err"])]
        lines.append(row(name.center(width), _fmt(st["# Snt"]), _fmt(st["# Wrd"]), cells))
    lines.append("`" + "-" * inner + "'")
    if no_ref:
        lines.append("* No reference tokens for this/these speaker(s): counts supplied rather than percents.")
        lines.append("+ Speaker(s) with no reference tokens are left out of these statistics.")
    return lines


def utt_alignment_lines(u: UttScore, case_sensitive: bool = False) -> List[str]:
    """One utterance in sclite's pralign layout."""
    c = u.counts
    lines = [f"id: ({u.utt})", f"Scores: (#C #S #D #I) {c.corr} {c.sub} {c.dels} {c.ins}"]
    if not u.alignment:
        return lines
    refs, hyps, evals = [], [], []
    for p in u.alignment:
        if p.op == "C":
            r, h = (p.ref, p.hyp) if case_sensitive else (fold_case(p.ref), fold_case(p.hyp))
        else:
            # ASCII letters only, as sclite: str.upper() made 'straße' 'STRASSE', the very
            # hypothesis it was shown against, and 'été' 'ÉTÉ' where sclite prints 'éTé'
            r = upper_case(p.ref) if p.ref is not None else None
            h = upper_case(p.hyp) if p.hyp is not None else None
            if r is None:
                r = "*" * len(h)
            if h is None:
                h = "*" * len(r)
        w = max(len(r), len(h))
        refs.append(r.ljust(w))
        hyps.append(h.ljust(w))
        evals.append(("" if p.op == "C" else p.op).ljust(w))
    lines += ["REF:  " + " ".join(refs) + " ", "HYP:  " + " ".join(hyps) + " ", "Eval: " + " ".join(evals) + " "]
    return lines


def alignment_lines(score: LevelScore) -> Iterator[str]:
    """Every utterance, grouped by speaker as sclite's pralign report does (made as written: a
    million utterances' lines were gigabytes held at once)."""
    by_spk: Dict[str, List[UttScore]] = {}
    for u in score.utts:
        by_spk.setdefault(u.spk, []).append(u)
    for i, spk in enumerate(by_spk):
        yield f"Speaker sentences {i:3d}:  {spk}   #utts: {len(by_spk[spk])}"
        for u in by_spk[spk]:
            yield from utt_alignment_lines(u, score.case_sensitive)
            yield ""


def totals_lines(score: LevelScore) -> List[str]:
    """sclite's dtl-style totals in percent and counts."""
    t = score.totals
    n = t.ref_len
    # With no reference token the percentages are undefined: sclite's dtl report prints "UNDEF".
    pct = lambda v: f"{100.0 * v / n:7.1f}" if n else "  UNDEF"  # noqa: E731
    sent_pct = 100.0 * score.sent_err / score.num_sent if score.num_sent else 0.0
    unit = "words" if score.level == "word" else "characters"
    return [
        f"Sentences                 = {score.num_sent:8d}",
        f"  with errors             = {sent_pct:7.1f}%   ({score.sent_err})",
        f"Percent Total Error       = {pct(t.errors)}%   ({t.errors})",
        f"Percent Correct           = {pct(t.corr)}%   ({t.corr})",
        f"Percent Substitution      = {pct(t.sub)}%   ({t.sub})",
        f"Percent Deletions         = {pct(t.dels)}%   ({t.dels})",
        f"Percent Insertions        = {pct(t.ins)}%   ({t.ins})",
        f"Ref. {unit:<20} = {n:8d}",
        f"Hyp. {unit:<20} = {t.hyp_len:8d}",
    ]


def confusion_lines(score: LevelScore, num: int = 20) -> List[str]:
    lines: List[str] = []
    sections = (
        ("CONFUSION PAIRS", [(f"{r} ==> {h}", n) for (r, h), n in top(score.confusions(), num)], score.confusions()),
        ("INSERTIONS", top(score.insertions(), num), score.insertions()),
        ("DELETIONS", top(score.deletions(), num), score.deletions()),
    )
    for title, entries, counter in sections:
        lines.append(f"{title:<33}Total {sum(counter.values()):>15}   (distinct: {len(counter)}, top {num} shown)")
        for i, (what, n) in enumerate(entries, 1):
            lines.append(f"  {i:3d}: {n:5d}  ->  {what}")
        lines.append("")
    return lines


def result_report(result: ScoreResult, ref_name: str = "", hyp_name: str = "", top_n: int = 20,
                  command: Optional[str] = None) -> Iterator[str]:
    """The whole ``result.txt``, line by line as it is written."""
    if command:
        yield f"# {command}"
    yield f"Reference:  {ref_name}"
    yield f"Hypothesis: {hyp_name}"
    any_level = next(iter(result.levels.values()), None)
    if any_level is not None:
        yield "Case: " + ("sensitive" if any_level.case_sensitive else "insensitive (sclite default)")
    yield ""
    yield from summary_lines(result)
    yield ""
    if result.missing:
        yield f"Utterances missing from the hypothesis (scored as all deletions): {len(result.missing)}"
        yield from (f"  {u}" for u in result.missing)
        yield ""
    if result.extra:
        yield f"Hypothesis utterances not in the reference (ignored): {len(result.extra)}"
        yield from (f"  {u}" for u in result.extra)
        yield ""
    for level, score in result.levels.items():
        name, unit = LEVEL_NAMES[level]
        how = "sclite -c: words split into characters, spaces dropped" if level == "char" else "sclite default"
        yield "=" * 78
        yield f"{name}: {unit} level ({how})"
        yield "=" * 78
        yield ""
        yield "SYSTEM SUMMARY PERCENTAGES by SPEAKER"
        yield from speaker_table(score, title=hyp_name)
        yield ""
        yield from totals_lines(score)
        yield ""
        yield from confusion_lines(score, top_n)
        yield "ALIGNMENTS (correct tokens in lower case, errors in upper case, * where absent)"
        yield ""
        yield from alignment_lines(score)

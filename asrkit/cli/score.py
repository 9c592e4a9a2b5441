"""asrkit-score: WER and CER of a hypothesis ``text`` against a reference ``text``, sclite's numbers."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import click

from asrkit.cli._common import OutputDir, asrkit_command, dash_as_stdio, refuse_empty_name
from asrkit.data.table import read_utt2spk
from asrkit.scoring.report import check_report_spares_inputs, result_report, summary_lines
from asrkit.scoring.score import id_case_clashes, id_speaker, score_texts
from asrkit.scoring.transcripts import TRN, read_transcript_pair
from asrkit.utils.bad_items import BadItems
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import AtomicFiles, refuse_one_stream_twice
from asrkit.utils.logging import command_line, get_logger

log = get_logger(__name__)

LEVELS_FOR_MODE = {"wer": ("word",), "cer": ("char",), "both": ("word", "char")}


def _table_path(spec: str) -> str:
    """Accept a plain path or a Kaldi text rspecifier (``ark:f``, ``ark,t:f``), as compute-wer does;
    ``-`` and ``ark:-`` are stdin, as in Kaldi (``-`` was "no such file")."""
    head, sep, rest = spec.partition(":")
    if sep and head.split(",")[0] in ("ark", "scp"):
        if head.split(",")[0] == "scp":  # "scp:ref: no such file" said nothing of the real problem
            raise AsrkitError(f"{spec}: an scp lists where tables are, it is not a text; give the text "
                              f"file itself (or ark:<file>)")
        if not rest:  # (was ".: is a directory, not a table file")
            raise AsrkitError(f"{spec}: no file name after '{head}:'")
        spec = rest
    if spec.rstrip().endswith("|") and not os.path.exists(spec):  # was "cat ref |: no such file"
        raise AsrkitError(f"{spec}: reading a table from a command is not supported; give a file, or pipe the "
                          f"command's output to '-' (stdin)")
    return dash_as_stdio(spec, "stdin")


@asrkit_command(
    "score",
    help="""Score a hypothesis Kaldi `text` against a reference `text`: WER and CER, sclite's numbers.
Either may also be a sclite trn file ('<transcript> (<utt-id>)' lines, e.g. ESPnet's ref.trn).
sclite's markup is scored as sclite scores it without -D and -F: (uh), %HESITATION and
fragments (sever-) are plain words, @ is no word, backslashes and one trailing * are dropped
(q* is q); its alternations ({ a / b }; any braces: {x} is x to sclite) are refused.

\b
The alignment, the counts and the speaker table are identical to NIST sclite's
(`sclite -i rm -o sum`, and `-c` for characters: words split into characters,
spaces dropped). Comparison is case-insensitive unless --case-sensitive (like
sclite's -s). Reference utterances missing from the hypothesis count as all
deletions and are listed; more than 5 % of them missing (Kaldi's rule), or a
hypothesis that shares no utterance with the reference (an empty file, other
ids), is an error unless --allow-missing. Hypothesis utterances not in the
reference are ignored and listed. With no reference word at all the WER is
undefined: printed as inf (with the insertion count) and warned about.

\b
Writes to --output-dir: wer.txt (Kaldi compute-wer style lines) and result.txt
(speaker table, totals, top confusions, per-utterance REF/HYP/Eval
alignments). Prints the summary lines on stdout.

\b
e.g.: asrkit-score --utt2spk data/test/utt2spk \\
          --output-dir exp/las/decode_test \\
          data/test/text exp/las/decode_test/text""",
)
@click.option("--utt2spk", "utt2spk_path", metavar="FILE", callback=refuse_empty_name,
              help="Speaker of each utterance for the speaker table (default: sclite's -i rm convention, the id up "
                   "to its first '-', else to its first '_', else the speaker of the utterance before).")
@click.option("--output-dir", type=OutputDir(), metavar="DIR", callback=refuse_empty_name,
              help="Write wer.txt and result.txt here.")
@click.option("--mode", type=click.Choice(["wer", "cer", "both"]), default="both", show_default=True,
              help="Score words, characters or both.")
@click.option("--case-sensitive/--no-case-sensitive", default=False, show_default=True,
              help="Compare tokens case-sensitively (sclite -s); by default ASCII case is ignored.")
@click.option("--top", "top_n", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many of the most frequent confusions, insertions and deletions result.txt lists.")
@click.option("--allow-missing", is_flag=True,
              help="Score even when more than 5 % of the reference utterances (or all of them) have no "
                   "hypothesis; they count as all deletions.")
@click.argument("ref_text", metavar="<ref-text>", callback=refuse_empty_name)
@click.argument("hyp_text", metavar="<hyp-text>", callback=refuse_empty_name)
def main(ref_text: str, hyp_text: str, utt2spk_path: Optional[str], output_dir: Optional[str], mode: str,
         case_sensitive: bool, top_n: int, allow_missing: bool) -> None:
    if output_dir is None and sys.stdout is None:
        # Started with stdout closed (">&-"): the summary lines went nowhere, with exit 0.
        raise AsrkitError("<stdout>: stdout is closed; the scores go to stdout without --output-dir")
    ref_path, hyp_path = _table_path(ref_text), _table_path(hyp_text)
    inputs = {"<ref-text>": ref_path, "<hyp-text>": hyp_path,
              "--utt2spk": _table_path(utt2spk_path) if utt2spk_path else None}
    refuse_one_stream_twice(inputs)
    if output_dir:
        check_report_spares_inputs(output_dir, list(inputs.items()))
    (ref, ref_format), (hyp, hyp_format) = read_transcript_pair(ref_path, hyp_path)
    for path, fmt in ((ref_path, ref_format), (hyp_path, hyp_format)):
        if fmt == TRN:
            log.info("%s: read as sclite trn ('<transcript> (<utt-id>)' lines)", path)
    if not ref:
        raise AsrkitError(f"{ref_path}: no utterances in the reference")
    utt2spk = None
    if not utt2spk_path:
        # sclite's -i rm gives them the speaker of the id before (the first an empty name): a
        # speaker table with a blank SPKR row and nothing said
        bare = [u for u in ref if id_speaker(u) is None]
        if bare:
            log.warning("%s: %d utterance id(s) hold neither '-' nor '_' (e.g. %r): each is given the speaker of "
                        "the id before it, as sclite -i rm does (the first an empty name); give --utt2spk for "
                        "a speaker table", ref_path, len(bare), bare[0])
    if utt2spk_path:
        utt2spk_file = _table_path(utt2spk_path)
        utt2spk = read_utt2spk(utt2spk_file)
        absent = [u for u in ref if u not in utt2spk]
        if absent:
            raise AsrkitError(f"{utt2spk_file}: no speaker for utterance {absent[0]!r} of {ref_path}"
                              + (f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""))

    # The ids alone decide these refusals: checked before any alignment, a hypothesis pasted
    # without its newlines (every utterance on the first one's line: a 10 MB line, all the others
    # missing) was refused only after minutes of aligning that line, and sclite hangs on it.
    missing = [utt for utt in ref if utt not in hyp]
    extra = [utt for utt in hyp if utt not in ref]
    if extra:
        shown = " ".join(extra[:5]) + (" ..." if len(extra) > 5 else "")
        log.warning("%s: %d utterance(s) not in the reference %s were ignored: %s", hyp_path, len(extra),
                    ref_path, shown)
        same = id_case_clashes(missing, extra)
        if same:
            # (sclite folds the case of ids: it matched these, and said nothing)
            log.warning("%s: %d of them differ from a reference utterance's id only in case (e.g. %r in the "
                        "hypothesis, %r in %s): ids are compared as written, as Kaldi compares them", hyp_path,
                        len(same), same[0][1], same[0][0], ref_path)
    if not hyp or len(missing) == len(ref):
        why = "is empty" if not hyp else f"shares no utterance id with the reference {ref_path}"
        message = f"{hyp_path}: the hypothesis {why}: every reference utterance would be scored as all deletions"
        if not allow_missing:
            raise AsrkitError(message + " (--allow-missing to score it anyway)")
        log.warning("%s; scoring it anyway (--allow-missing)", message)
    tally = BadItems(log, "utterances", failed="have no hypothesis")
    for utt in missing:
        log.warning("%s: utterance %s has no hypothesis in %s: scored as all deletions", ref_path, utt, hyp_path)
        tally.skip(utt, f"utterance {utt!r} of {ref_path} has no hypothesis in {hyp_path}", logged=True)
    tally.ok(len(ref) - len(missing))
    if missing and len(missing) < len(ref):
        try:
            tally.check(allow=allow_missing)
        except AsrkitError as e:
            raise AsrkitError(f"{e} (--allow-missing to score it anyway)") from None
    result = score_texts(ref, hyp, utt2spk=utt2spk, levels=LEVELS_FOR_MODE[mode], case_sensitive=case_sensitive,
                         show_progress=True)

    if result.form_clashes:
        utt, ref_word, hyp_word = result.form_clashes[0]
        log.warning("%s: %d word(s) are their reference's in another Unicode form (e.g. utterance %s: %s in the "
                    "hypothesis, %s in %s): scored as errors, as sclite does; put both texts in one form (NFC) "
                    "to score them as equal", hyp_path, len(result.form_clashes), utt, ascii(hyp_word),
                    ascii(ref_word), ref_path)
    if result.inner_spaces:
        utt, side, word = result.inner_spaces[0]
        space = next(c for c in word if c.isspace())
        log.warning("%d word(s) hold a white space other than ASCII's (e.g. utterance %s of the %s %s: %s holds "
                    "U+%04X): each is scored as one word, as sclite and Kaldi split words at ASCII white space "
                    "only; asrkit's tokenizer breaks words there, so a model never writes such a word back: "
                    "replace these spaces by ' ' in both texts to score them as word breaks",
                    len(result.inner_spaces), utt, side, ref_path if side == "reference" else hyp_path,
                    ascii(word), ord(space))
    for level, score in result.levels.items():
        totals = score.totals
        if totals.ref_len == 0:
            log.warning("%s has no reference %s at all: the %s is undefined (%d inserted), printed as inf",
                        ref_path, "words" if level == "word" else "characters",
                        "WER" if level == "word" else "CER", totals.ins)

    summary = summary_lines(result)
    if output_dir:
        out = Path(output_dir)
        args = sys.argv[1:]
        if args[:1] == ["score"]:  # run as "asrkit score ..." or "python -m asrkit score ..."
            args = args[1:]
        command = "asrkit-score " + command_line(args)
        report = result_report(result, ref_name=ref_path, hyp_name=hyp_path, top_n=top_n, command=command)
        with AtomicFiles() as files:
            with files.open(out / "wer.txt") as f:
                f.write("\n".join(summary) + "\n")
            # (surrogateescape: its header and 'Hypothesis:' line name the files, and one named in
            # Latin-1 was a UnicodeEncodeError traceback; written as the bytes it is, as the logs do)
            with files.open(out / "result.txt", errors="surrogateescape") as f:
                f.writelines(line + "\n" for line in report)
        log.info("Wrote %s and %s", out / "wer.txt", out / "result.txt")
    for line in summary:
        click.echo(line)
    log.info("Done %d out of %d utterances (%d missing from the hypothesis, scored as deletions; %d not in "
             "the reference, ignored)", len(ref) - len(result.missing), len(ref), len(result.missing), len(result.extra))

"""asrkit-fix-data-dir: keep the utterances every table agrees on, sort, rebuild spk2utt."""
from __future__ import annotations

import click

from asrkit.cli._common import asrkit_command, refuse_empty_name
from asrkit.data.fix import fix_data_dir
from asrkit.data.from_audio import CASES, PUNCTUATION
from asrkit.utils.logging import get_logger

log = get_logger("fix_data_dir")


@asrkit_command("fix-data-dir")
@click.option("--no-backup", is_flag=True, help="Do not copy the changed files to <data-dir>/.backup/ first.")
@click.option("--case", type=click.Choice(CASES), default="keep", show_default=True,
              help="Letter case of the text, as asrkit-make-data-dir --case.")
@click.option("--punctuation", type=click.Choice(PUNCTUATION), default="keep", show_default=True,
              help="drop: punctuation in the text becomes a word break (an apostrophe inside a word stays), "
                   "as asrkit-make-data-dir --punctuation drop.")
@click.argument("data_dir", callback=refuse_empty_name, metavar="<data-dir>")
def main(no_backup: bool, case: str, punctuation: str, data_dir: str) -> None:
    """Repair <data-dir> in place, as Kaldi's utils/fix_data_dir.sh does.

    Keeps the intersection of the utterances in utt2spk, text, segments (or wav.scp), feats.scp,
    utt2num_frames, ... (and, with a cmvn.scp, the utterances of the speakers it has); keeps
    only the recordings and speakers still used; drops duplicate and
    malformed lines; sorts every table (C locale) and regenerates spk2utt. Originals of changed
    files go to <data-dir>/.backup/. Reports how many utterances were dropped for each reason (not
    in text, no speaker, a segment with unusable times, ...) and how many ids from which file (the
    ids themselves with -v). With --case / --punctuation it also normalises the text as a new
    corpus's stage 0 does (a data dir from another toolkit's data prep: 'U, M, SIX.' -> 'U M SIX').

    \b
    e.g. asrkit-fix-data-dir data/train
         asrkit-fix-data-dir --punctuation drop --case upper data/train
    """
    report = fix_data_dir(data_dir, backup=not no_backup, case=case, punctuation=punctuation)
    if report.utt2spk_rebuilt:
        # (it was written with no word but "Kept N out of N": say what was done, as fix_data_dir.sh)
        log.info("%s: no utt2spk: made it from spk2utt (%d utterances)", data_dir, report.utt2spk_rebuilt)
    for name, lines in sorted(report.bad_lines.items()):
        log.warning("%s/%s: dropped %d malformed or duplicate line(s): %s", data_dir, name, len(lines),
                    " ".join(map(str, lines[:20])) + (" ..." if len(lines) > 20 else ""))
    for why, ids in sorted(report.reasons.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        log.warning("%s: dropped %d utterance(s): %s: %s", data_dir, len(ids), why,
                    " ".join(ids[:5]) + (" ..." if len(ids) > 5 else ""))
    for name, ids in sorted(report.dropped.items()):
        why = sorted(report.dropped_why[name].items(), key=lambda kv: (-kv[1], kv[0]))
        log.warning("%s/%s: dropped %d id(s): %s", data_dir, name, len(ids), "; ".join(f"{n} {w}" for w, n in why))
        log.debug("%s/%s: dropped: %s", data_dir, name, " ".join(ids))
    if report.emptied:
        log.warning("%s/text: %d transcript(s) held nothing but punctuation and are empty now (first: %s): kept, "
                    "as asrkit-train skips an empty transcript and scoring reads it as no words", data_dir,
                    len(report.emptied), report.emptied[0])
    for name in report.removed:
        log.warning("%s/%s: removed: no line left for the speakers or recordings kept (an empty table fails "
                    "asrkit-validate-data-dir)", data_dir, name)
    if report.unfiltered:
        log.warning("%s: not filtered (not known to this command), so they may still name the dropped utterances: %s",
                    data_dir, " ".join(report.unfiltered))
    if report.crlf:  # (what validate-data-dir's CRLF warning sent the user here for: said done)
        log.info("%s: Windows (CRLF) line ends written as LF: %s", data_dir, " ".join(report.crlf))
    if report.backup_dir is not None:
        log.info("originals of %s saved in %s", " ".join(report.changed), report.backup_dir)
    elif not report.changed:
        log.info("%s needed no change", data_dir)
    click.echo(f"Kept {report.num_utts_after} out of {report.num_utts_before} utterances in {data_dir}", err=True)

"""asrkit-compute-cmvn: CMVN statistics, as Kaldi's compute-cmvn-stats."""
from __future__ import annotations

import click

from asrkit.cli._common import asrkit_command, max_bad_percent_option, refuse_empty_name


@asrkit_command("compute-cmvn", epilog="""\b
e.g.: asrkit-compute-cmvn scp:dump/train/feats.scp dump/train/cmvn.ark
      asrkit-compute-cmvn --spk2utt ark:data/train/spk2utt \\
          scp:dump/train/feats.scp \\
          ark,scp:dump/train/cmvn_spk.ark,dump/train/cmvn_spk.scp
""")
@click.argument("feats_rspecifier")
@click.argument("stats_out")
@click.option("--spk2utt", callback=refuse_empty_name,
              help="Per-speaker stats: spk2utt table (ark:data/x/spk2utt; '-': stdin); output must be a wspecifier.")
@click.option("--binary", type=click.BOOL, default=True, show_default=True,
              help="Binary output for a single stats file (tables: use ark,t: for text).")
@max_bad_percent_option
def main(feats_rspecifier: str, stats_out: str, spk2utt: str | None, binary: bool, max_bad_percent: float) -> None:
    """Accumulate Kaldi CMVN statistics (a 2 x (dim+1) double matrix: sums and count, sums of squares)
    of FEATS_RSPECIFIER into STATS_OUT.

    As in Kaldi: without --spk2utt, a filename STATS_OUT gets one global matrix and a wspecifier
    (ark:...) gets stats per utterance; with --spk2utt, a wspecifier gets stats per speaker.
    An utterance that cannot be read, has no frames, or whose features are not finite, or (global
    and per-speaker stats) not of the set's dimension (the most common one of all its utterances),
    is skipped with a warning naming it; the command fails, writing nothing, when none is left or
    more than --max-bad-percent (5, Kaldi's rule) were skipped.
    """
    from asrkit.data.specifier import MatrixWriter, check_not_overwriting, iter_matrices, parse_specifier, spec_files
    from asrkit.data.table import read_spk2utt
    from asrkit.features.cmvn import SetDimension, accumulate_cmvn, check_features, check_stats_output, \
        compute_cmvn_stats, is_specifier, open_stats_output, table_path, warn_unlisted, write_stats_to
    from asrkit.utils.bad_items import BadItems
    from asrkit.utils.errors import AsrkitError
    from asrkit.utils.logging import get_logger, progress

    from asrkit.data.specifier import refuse_stdin_read_twice

    log = get_logger("compute_cmvn")
    refuse_stdin_read_twice([(f"FEATS_RSPECIFIER {feats_rspecifier}", feats_rspecifier),
                             (f"--spk2utt {spk2utt}", spk2utt)])
    if not is_specifier(stats_out):
        check_stats_output(stats_out)
    out = parse_specifier(stats_out) if is_specifier(stats_out) else None
    check_not_overwriting(
        [(f, "the stats output") for f in ((out.ark, out.scp) if out else (stats_out,)) if f],
        [(f, "a features input") for f in spec_files(feats_rspecifier, scp_lines=True, strict=True)]
        + ([(table_path(spk2utt), "the spk2utt table")] if spk2utt else []))
    tally = BadItems(log, "utterances", max_percent=max_bad_percent, source=feats_rspecifier)

    unlisted = []  # with --spk2utt: utterances in none of its speakers, left out of the stats
    # The set's dimension (global and per-speaker stats) is the most common one of the whole set,
    # known at the end: the utterances of others are bad items then (SetDimension).
    dims = SetDimension()

    def good_feats(listed=None):
        for utt, mat, error in progress(iter_matrices(feats_rspecifier), desc="cmvn", unit="utt"):
            if listed is not None and utt not in listed:
                # Not tallied: Kaldi reads only spk2utt's utterances, and "Done 60 out of 60" was
                # said of a spk2utt that left 29 of them out of the stats.
                unlisted.append(utt)
                continue
            try:
                if error is not None:
                    raise error
                check_features(utt, mat, need_frames=True)
            except AsrkitError as e:
                tally.skip(utt, e)
                continue
            tally.ok()
            yield utt, mat

    if spk2utt is not None:
        if not is_specifier(stats_out):
            raise AsrkitError(f"with --spk2utt the output must be a wspecifier (e.g. ark:cmvn_spk.ark), got {stats_out!r}")
        speakers = read_spk2utt(table_path(spk2utt))
        listed = {u for utts in speakers.values() for u in utts}

        def per_speaker():
            try:
                return compute_cmvn_stats(good_feats(listed), speakers, dims)
            finally:  # also before "no speaker in spk2utt has features", which they explain
                warn_unlisted(unlisted)

        # Opened first, as the per-utterance table is: an output that cannot be written (a folder
        # not this user's, a file in its path) failed only after every utterance had been read.
        with MatrixWriter(stats_out) as w:
            table, counts = _stats_or_tally(per_speaker, tally, dims)
            for spk, stats in table.items():
                w.write(spk, stats)
        log.info("Done accumulating CMVN stats for %d speakers (%d utterances); %d speakers without features, "
                 "%d utterances missing%s", len(table), counts["utts"], counts["empty_speakers"], counts["missing"],
                 f", {len(unlisted)} in no speaker (left out)" if unlisted else "")
    elif is_specifier(stats_out):
        # Each utterance's stats are of its own features, whatever the others' dimension (Kaldi's
        # compute-cmvn-stats checks none here): written as they are read, streamed to ark:- as
        # Kaldi's are. (Held until the whole set's dimension was known, they waited in temporary
        # files in the system's temp dir, and ark:- gave nothing until the input's end.)
        with MatrixWriter(stats_out) as w:
            for utt, mat in good_feats():
                w.write(utt, accumulate_cmvn(mat, None, utt))
            tally.check()
        log.info("Done accumulating CMVN stats for %d utterances", tally.done)
    else:
        # Opened first, as the tables are: see open_stats_output.
        with open_stats_output(stats_out) as f:
            stats, counts = _stats_or_tally(lambda: compute_cmvn_stats(good_feats(), dims=dims), tally, dims)
            write_stats_to(f, stats, binary=binary)
        log.info("Wrote global CMVN stats to %s: %d utterances, %d frames", stats_out, counts["utts"],
                 int(stats[0, -1]))


def _stats_or_tally(compute, tally, dims):
    """Run ``compute``; apply the bad-item rule first, so its message (not "no features") explains a
    failure, the utterances of another dimension than the set's (``dims``) counted bad."""
    from asrkit.features.cmvn import NO_FEATURES
    from asrkit.utils.errors import AsrkitError

    try:
        result = compute()
    except AsrkitError as e:
        # "no features" because every utterance was skipped, or because the input held none: the
        # rule's message explains it, and names the input (an unreadable input keeps its own error).
        if tally.failed or str(e) == NO_FEATURES:
            tally.check()
        raise
    for utt, message in dims.others():  # counted good as they were read
        tally.retract(utt, message)
    tally.check()
    return result

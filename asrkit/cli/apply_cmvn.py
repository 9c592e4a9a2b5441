"""asrkit-apply-cmvn: normalize features with CMVN stats, as Kaldi's apply-cmvn."""
from __future__ import annotations

import click

from asrkit.cli._common import asrkit_command, max_bad_percent_option, refuse_empty_name


@asrkit_command("apply-cmvn", epilog="""\b
e.g.: asrkit-apply-cmvn dump/train/cmvn.ark scp:dump/test/feats.scp \\
          ark:- | ...
      asrkit-apply-cmvn --utt2spk ark:data/test/utt2spk \\
          ark:dump/test/cmvn_spk.ark scp:dump/test/feats.scp \\
          ark,scp:dump/test/cmvn_feats.ark,dump/test/cmvn_feats.scp
""")
@click.argument("stats")
@click.argument("feats_rspecifier")
@click.argument("feats_wspecifier")
@click.option("--utt2spk", callback=refuse_empty_name,
              help="With a stats table keyed by speaker: the utt2spk table (ark:data/x/utt2spk; '-': stdin).")
@click.option("--norm-vars", type=click.BOOL, default=True, show_default=True,
              help="Also normalize variance (Kaldi's apply-cmvn defaults to false).")
@max_bad_percent_option
def main(stats: str, feats_rspecifier: str, feats_wspecifier: str, utt2spk: str | None, norm_vars: bool,
         max_bad_percent: float) -> None:
    """Apply CMVN STATS to FEATS_RSPECIFIER, writing float32 features to FEATS_WSPECIFIER.

    STATS is a filename (one global matrix) or an rspecifier (ark:/scp:) of stats keyed by
    utterance, or by speaker with --utt2spk. An utterance without stats, one that cannot be
    read, or one whose features are not finite is logged and skipped; the command fails,
    writing nothing, when none is left or more than --max-bad-percent (5, Kaldi's rule) were skipped.
    """
    from asrkit.data.specifier import (MatrixWriter, check_not_overwriting, check_scp_kept_valid, iter_matrices,
                                       parse_specifier, spec_files)
    from asrkit.data.table import read_utt2spk
    from asrkit.features.cmvn import Cmvn, check_features, is_specifier, load_cmvn, table_path
    from asrkit.utils.bad_items import BadItems
    from asrkit.utils.errors import AsrkitError
    from asrkit.utils.logging import get_logger, progress

    from asrkit.data.specifier import refuse_stdin_read_twice

    log = get_logger("apply_cmvn")
    refuse_stdin_read_twice([(f"STATS {stats}", stats), (f"FEATS_RSPECIFIER {feats_rspecifier}", feats_rspecifier),
                             (f"--utt2spk {utt2spk}", utt2spk)])
    out = parse_specifier(feats_wspecifier)
    # (writing over the features read is fine: they are read in full before the rename; an ark
    # an scp reads, only with that scp)
    check_not_overwriting([(f, "the features output") for f in (out.ark, out.scp) if f],
                          [(f, "the CMVN stats") for f in spec_files(stats, scp_lines=True, strict=True)]
                          + ([(table_path(utt2spk), "the utt2spk table")] if utt2spk else []))
    check_scp_kept_valid(feats_rspecifier, out)
    if utt2spk is not None and not is_specifier(stats):
        raise AsrkitError(f"--utt2spk needs per-speaker stats as an rspecifier (ark:...), got the file {stats!r}")
    loaded = load_cmvn(stats)
    cmvn = Cmvn(loaded, norm_vars=norm_vars, where=stats,
                utt2spk=read_utt2spk(table_path(utt2spk)) if utt2spk else None,
                utt2spk_where=table_path(utt2spk) if utt2spk else "utt2spk")
    tally = BadItems(log, "utterances", max_percent=max_bad_percent, source=feats_rspecifier)
    with MatrixWriter(feats_wspecifier) as w:
        for utt, mat, error in progress(iter_matrices(feats_rspecifier), desc="apply-cmvn", unit="utt"):
            try:
                if error is not None:
                    raise error
                check_features(utt, mat)
                out = cmvn(utt, mat)
            except AsrkitError as e:
                tally.skip(utt, e)
                continue
            w.write(utt, out)
            tally.ok()
        try:
            tally.check()
        except AsrkitError as e:
            if utt2spk is None and isinstance(loaded, dict) and not tally.done and \
                    not any(u in loaded for u in tally.failed):
                # Per-speaker stats without --utt2spk (the usual slip): "no stats for utterance"
                # for each one said nothing of why.
                keys = list(loaded)
                raise AsrkitError(f"{e}; {stats} is keyed by none of these utterances but by {len(keys)} other "
                                  f"id(s) ({' '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}): per-speaker "
                                  f"stats? give --utt2spk ark:data/<set>/utt2spk (or the stats of another set)") from None
            if utt2spk is not None and isinstance(loaded, dict) and not tally.done and tally.failed and \
                    all(u in loaded for u in tally.failed) and \
                    not any(cmvn.utt2spk.get(u) in loaded for u in tally.failed):
                # The other way round: per-utterance stats given --utt2spk. (Not where the speakers
                # have stats too, as when each utterance is its own speaker: those failed for
                # another reason, e.g. another feature dim, which the hint misnamed.)
                raise AsrkitError(f"{e}; {stats} is keyed by the utterances, not by speakers: per-utterance "
                                  f"stats? leave --utt2spk out") from None
            raise

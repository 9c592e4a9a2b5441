"""The one rule every command applies to bad items (utterances, lines, table entries).

One bad utterance must not lose the others: it is skipped with a warning that names it, counted,
and the rest is written. A command fails only when nothing succeeded, or when more than Kaldi's
5 % failed (``steps/make_fbank.sh``: "Less than 95% the features were successfully generated.
Probably a serious error.", i.e. more than ``total // 20`` failures) -- then it writes nothing,
since so many failures mean the data or the options are wrong, not a few files. (A stream
such as ``ark:-`` has gone out by then; the exit status still says the run failed.)

e.g.::

    tally = BadItems(log, "utterances")
    with MatrixWriter(wspec) as w:
        for utt, feats in items:
            try:
                w.write(utt, process(utt, feats))
            except AsrkitError as e:
                tally.skip(utt, e)
                continue
            tally.ok()
        tally.check()      # "Done X out of Y utterances; failed Z"; raises past the rule,
                           # inside the writer, so nothing is committed then
"""
from __future__ import annotations

import logging
from typing import List, Optional, Union

from asrkit.utils.errors import AsrkitError

# Kaldi's rule: a run fails when fewer than 95 % of its items succeeded.
MIN_SUCCESS_PERCENT = 95


MAX_FAILED_PERCENT = 100 - MIN_SUCCESS_PERCENT


def max_failures(total: int, percent: float = MAX_FAILED_PERCENT) -> int:
    """How many of ``total`` items may fail before a run fails: Kaldi's ``total / 20``, rounded down.

    ``percent`` other than 5 is for a run that is one piece of a larger set (a ``JOB=1:N`` job):
    Kaldi's binaries fail only when nothing succeeded (100) and its scripts apply the 5 % to the
    whole set once the pieces are merged; asr.sh does the same.
    """
    return int(total * percent // 100)


class BadItems:
    """Counts the good and bad items of one run, logs each bad one, and applies the rule."""

    # The summary's words: ``done``, ``total`` and ``failed`` are counts, ``what`` the items.
    SUMMARY = "Done {done} out of {total} {what}; failed {failed}"

    def __init__(self, log: logging.Logger, what: str = "utterances", show: int = 5, failed: str = "failed",
                 max_percent: float = MAX_FAILED_PERCENT, source: Optional[str] = None,
                 summary: str = SUMMARY) -> None:
        if not 0 <= max_percent <= 100:
            raise AsrkitError(f"the share of bad {what} allowed must be a percentage (0..100), got {max_percent:g}")
        self.log = log
        self.max_percent = max_percent
        self.what = what
        self.verb = failed  # what happened to a bad item, for messages: "failed", "have no hypothesis"
        self.show = show
        self.done = 0
        self.failed: List[str] = []
        self.first_error: Optional[str] = None
        self.source = source  # the input the items come from, named when it held none
        # (another wording for a run that does not do what "Done" says: compute-fbank --check-rates
        # computes nothing, and its "Done 3 out of 3 utterances" read as features made)
        self.summary_format = summary

    def ok(self, n: int = 1) -> None:
        self.done += n

    def skip(self, name: str, error: Union[str, Exception], logged: bool = False) -> None:
        """Record a bad item; the message (which names the item and the file) is logged as a
        warning unless ``logged`` (a worker process did it already)."""
        message = str(error)
        if not logged:
            self.log.warning("skipping %s", message)
        self.failed.append(name)
        if self.first_error is None:
            self.first_error = message

    def retract(self, name: str, error: Union[str, Exception]) -> None:
        """An item counted by :meth:`ok` found bad only once every item was seen (compute-cmvn: one
        of another feature dimension than the whole set's most common one): :meth:`skip` it."""
        if self.done < 1:
            raise ValueError("retract: no item was counted good")
        self.done -= 1
        self.skip(name, error)

    @property
    def total(self) -> int:
        return self.done + len(self.failed)

    def summary(self) -> str:
        return self.summary_format.format(done=self.done, total=self.total, what=self.what, failed=len(self.failed))

    def named(self) -> str:
        """A few of the failed items' names, for a one-line message."""
        names = " ".join(self.failed[:self.show])
        return names + (f" ... ({len(self.failed)} in all)" if len(self.failed) > self.show else "")

    def check(self, total: Optional[int] = None, allow: bool = False) -> None:
        """Log the summary; raise AsrkitError when nothing succeeded or more than 5 % failed.

        ``total`` is the number of items when some were never attempted (default: those seen).
        ``allow`` turns the 5 % rule (not "nothing succeeded") into a warning.
        """
        total = self.total if total is None else total
        self.log.info(self.summary())
        if not self.failed:
            if self.done == 0:
                raise AsrkitError(f"{self.source + ': ' if self.source else ''}no {self.what} to process")
            return
        if self.done == 0:
            raise AsrkitError(f"all {total} {self.what} {self.verb}{self._first()}")
        message = self.past_the_rule(total)
        if message is not None:
            if not allow:
                raise AsrkitError(message)
            self.log.warning("%s; going on, as asked", message)
        else:
            self.log.warning("%d of %d %s %s: %s", len(self.failed), total, self.what, self.verb, self.named())

    def past_the_rule(self, total: int) -> Optional[str]:
        """The error message when more of ``total`` items failed than the rule allows, else None.

        For a run that can tell before its end that it will fail (a training epoch: the rest
        of the run would be wasted), as well as for :meth:`check`.
        """
        if len(self.failed) <= max_failures(total, self.max_percent):
            return None
        rule = "Kaldi's rule" if self.max_percent == MAX_FAILED_PERCENT else "the limit given"
        return (f"{len(self.failed)} of {total} {self.what} {self.verb} ({self.named()}), more than "
                f"{self.max_percent:g} % ({rule}): probably a serious error in the data{self._first()}")

    def _first(self) -> str:
        return f" (first: {self.first_error})" if self.first_error else ""

"""The shared bad-item rule: Kaldi's steps/make_fbank.sh fails below 95 % (nf < nu - nu/20)."""
import logging

import pytest

from asrkit.utils.bad_items import BadItems, max_failures
from asrkit.utils.errors import AsrkitError


@pytest.mark.parametrize("total", [1, 5, 19, 20, 21, 39, 40, 130, 1000])
def test_max_failures_is_kaldis_rule(total):
    # make_fbank.sh: fail when the done count is below total - total/20 (integer division).
    assert max_failures(total) == total // 20


def _tally(done, failed):
    t = BadItems(logging.getLogger("test"))
    t.ok(done)
    for i in range(failed):
        t.skip(f"u{i}", f"utterance 'u{i}': broken")
    return t


def test_within_the_rule_warns_and_names(caplog):
    t = _tally(19, 1)
    with caplog.at_level(logging.INFO):
        t.check()
    assert "Done 19 out of 20 utterances; failed 1" in caplog.text
    assert "skipping utterance 'u0': broken" in caplog.text and "1 of 20 utterances failed: u0" in caplog.text


@pytest.mark.parametrize("done,failed,message", [
    (18, 2, "2 of 20 utterances failed (u0 u1), more than 5 % (Kaldi's rule): probably a serious error in the "
            "data (first: utterance 'u0': broken)"),
    (0, 3, "all 3 utterances failed (first: utterance 'u0': broken)"),
    (0, 0, "no utterances to process"),
])
def test_past_the_rule_or_nothing_done_fails(done, failed, message):
    with pytest.raises(AsrkitError) as e:
        _tally(done, failed).check()
    assert str(e.value) == message


def test_allow_turns_only_the_5_percent_rule_into_a_warning(caplog):
    _tally(1, 1).check(allow=True)
    assert "going on, as asked" in caplog.text
    with pytest.raises(AsrkitError, match="all 2"):
        _tally(0, 2).check(allow=True)


def test_many_failures_are_named_briefly():
    t = _tally(0, 8)
    assert t.named() == "u0 u1 u2 u3 u4 ... (8 in all)"


def test_a_piece_of_a_set_can_take_another_limit():
    t = BadItems(logging.getLogger("test"), max_percent=100)
    t.ok(1)
    t.skip("u0", "broken")
    t.skip("u1", "broken")
    t.check()  # 2 of 3 bad: a JOB piece leaves the 5 % to the whole set
    with pytest.raises(AsrkitError, match=r"more than 50 % \(the limit given\)"):
        _tally_with(50, done=1, failed=2).check()
    with pytest.raises(AsrkitError, match="percentage"):
        BadItems(logging.getLogger("test"), max_percent=101)


def _tally_with(percent, done, failed):
    t = BadItems(logging.getLogger("test"), max_percent=percent)
    t.ok(done)
    for i in range(failed):
        t.skip(f"u{i}", "broken")
    return t

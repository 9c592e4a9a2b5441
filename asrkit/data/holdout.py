"""Which utterances of a data dir to hold out for validation and test: train/dev/test lists.

For a corpus that comes as one folder (a new user's own recordings), the split is chosen here,
as Kaldi's ``utils/subset_data_dir_tr_cv.sh`` does for a cross-validation set: each held-out
set is given either as a fraction (utterances drawn at random with a seed, so the same seed
gives the same split) or as an explicit list of utterance ids (one per line, first column, so
a ``text`` or ``utt2spk`` file works as a list). ``by_speaker`` draws whole speakers instead, so
no speaker of dev or test is trained on. The lists are written, and ``utils/subset_data_dir.sh
--utt-list`` (bin/) makes the data dirs from them, so a user can read or edit a split by hand.

e.g.::

    >>> sets = choose_holdout(utt2spk, dev_fraction=0.05, test_fraction=0.05, seed=1)  # doctest: +SKIP
    >>> {name: len(utts) for name, utts in sets.items()}                              # doctest: +SKIP
    {'train': 802, 'dev': 45, 'test': 45}
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Dict, List, Optional

from asrkit.data.table import BOM, mid_file_bom_problem, read_bounded, read_utt2spk, refuse_bom, split_fields
from asrkit.utils.errors import AsrkitError, broken_link_message
from asrkit.utils.fileio import AtomicFiles, PathLike, not_found_reason, same_regular_file, signals_deferred
from asrkit.utils.logging import get_logger

log = get_logger("holdout_lists")


def read_id_list(path: PathLike, known: Dict[str, str]) -> List[str]:
    """The utterance ids of a list file (first column); an id not in ``known`` is an error."""
    path = Path(path)
    try:
        raw_lines = read_bounded(path).split(b"\n")
    except (FileNotFoundError, NotADirectoryError):
        # as every other input is named ("No such file or directory" said nothing of a broken link)
        raise AsrkitError(f"{path}: {not_found_reason(path)}") from None
    except OSError as e:
        raise AsrkitError(f"{path}: cannot read the list: {e.strerror}") from None
    ids: List[str] = []
    seen = set()
    for lineno, raw in enumerate(raw_lines, 1):
        # Each line decoded on its own, as every table is: the error names the line.
        if lineno == 1:
            refuse_bom(raw, str(path))
        elif raw.startswith(BOM.encode("utf-8")):  # (lists each saved with one, joined with cat)
            raise AsrkitError(f"{path}:{lineno}: {mid_file_bom_problem(str(path))}")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise AsrkitError(f"{path}:{lineno}: not UTF-8 text ({e.reason} at byte {e.start} of the line)") from None
        fields = split_fields(line)
        if not fields:
            continue
        utt = fields[0]
        if utt not in known:
            raise AsrkitError(f"{path}:{lineno}: {utt!r} is not an utterance of the data dir")
        if utt in seen:
            raise AsrkitError(f"{path}:{lineno}: {utt!r} is listed twice")
        seen.add(utt)
        ids.append(utt)
    if not ids:
        raise AsrkitError(f"{path}: empty list")
    return ids


def _count(fraction: float, total: int) -> int:
    """Utterances for a held-out fraction: at least one when the fraction is not 0."""
    return max(1, round(fraction * total)) if fraction > 0 else 0


def choose_holdout(utt2spk: Dict[str, str], dev_fraction: float = 0.0, test_fraction: float = 0.0,
                   dev_list: Optional[PathLike] = None, test_list: Optional[PathLike] = None,
                   by_speaker: bool = False, seed: int = 1) -> Dict[str, List[str]]:
    """``{"train": [...], "dev": [...], "test": [...]}`` (sorted ids; a set not asked for is empty)."""
    for name, fraction in (("dev", dev_fraction), ("test", test_fraction)):
        if not 0 <= fraction < 1:
            raise AsrkitError(f"--{name}-fraction {fraction:g}: must be in [0, 1)")
    if dev_list and dev_fraction or test_list and test_fraction:
        raise AsrkitError("give a held-out set as a fraction or as a list, not both")
    if dev_fraction + test_fraction >= 1:
        raise AsrkitError(f"--dev-fraction {dev_fraction:g} + --test-fraction {test_fraction:g} leave nothing to train on")
    sets: Dict[str, List[str]] = {"dev": [], "test": []}
    if dev_list:
        sets["dev"] = read_id_list(dev_list, utt2spk)
    if test_list:
        sets["test"] = read_id_list(test_list, utt2spk)
    both = set(sets["dev"]) & set(sets["test"])
    if both:
        raise AsrkitError(f"{dev_list} and {test_list} both list {len(both)} utterance(s), e.g. {sorted(both)[0]!r}")

    rng = random.Random(seed)
    taken = set(sets["dev"]) | set(sets["test"])
    total = len(utt2spk)
    for name, fraction in (("dev", dev_fraction), ("test", test_fraction)):
        want = _count(fraction, total)
        if not want:
            continue
        if by_speaker:
            # A speaker of an earlier set (one given as a list) is not drawn: it was, and then said
            # its words in dev and test both.
            held = {utt2spk[u] for u in taken}
            spk2utt: Dict[str, List[str]] = {}
            for utt in sorted(utt2spk):
                if utt not in taken and utt2spk[utt] not in held:
                    spk2utt.setdefault(utt2spk[utt], []).append(utt)
            speakers = sorted(spk2utt)
            if len(speakers) < 2:
                raise AsrkitError(f"--by-speaker: {len(speakers)} speaker(s) left for the {name} set and training: "
                                  f"a speaker-disjoint split needs more (drop --by-speaker to split utterances)")
            rng.shuffle(speakers)
            chosen: List[str] = []
            for spk in speakers[:-1]:  # the last one always stays for training
                if len(chosen) >= want:
                    break
                chosen += spk2utt[spk]
            if len(chosen) > 1.5 * want or len(chosen) < want / 1.5:
                # Whole speakers overshoot: two speakers and --dev-fraction 0.2 held out half the data.
                # And undershoot, said as well: two speakers and --dev-fraction 0.9 held out half of
                # it in silence (the last speaker always stays for training).
                log.warning("--by-speaker: the %s set is %d of %d utterances (%.0f %%) for --%s-fraction %g (%d): "
                            "whole speakers come no closer%s (%d of %d speakers taken)", name, len(chosen), total,
                            100 * len(chosen) / total, name, fraction, want,
                            "" if len(chosen) > want else ", one at least staying for training",
                            len({utt2spk[u] for u in chosen}), len(speakers))
        else:
            pool = sorted(u for u in utt2spk if u not in taken)
            rng.shuffle(pool)
            chosen = pool[:want]
        sets[name] = chosen
        taken.update(chosen)
    train = [u for u in utt2spk if u not in taken]
    if not train:
        raise AsrkitError(f"nothing left to train on: {len(taken)} of {total} utterances held out")
    if by_speaker:
        for name, given in (("dev", dev_list), ("test", test_list)):
            shared = sorted({utt2spk[u] for u in sets[name]} & {utt2spk[u] for u in train}) if given else []
            if shared:
                # --by-speaker promises no held-out speaker is trained on; a list given by hand that
                # takes part of a speaker's utterances broke it without a word.
                log.warning("--by-speaker: %d speaker(s) of --%s-list %s also have utterances in train (e.g. %r): "
                            "list all of a speaker's utterances, or none, for a speaker-disjoint split",
                            len(shared), name, given, shared[0])
    return {"train": sorted(train), "dev": sorted(sets["dev"]), "test": sorted(sets["test"])}


def holdout_lists(data_dir: PathLike, out_dir: PathLike, **kwargs) -> Dict[str, List[str]]:
    """Write ``<out_dir>/{train,dev,test}.list`` for ``data_dir`` (a set not asked for: no file)."""
    _refuse_list_as_output(Path(out_dir), kwargs)
    utt2spk = read_utt2spk(Path(data_dir) / "utt2spk")
    if not utt2spk:
        raise AsrkitError(f"{Path(data_dir) / 'utt2spk'}: no utterances")
    sets = choose_holdout(utt2spk, **kwargs)
    if not sets["dev"] and not sets["test"]:
        # Said, not refused: a user may mean it (a final model on everything), but a 0 that came
        # from a recipe variable left empty otherwise passed as a split without a word.
        log.warning("nothing held out (no --dev-fraction, --test-fraction, --dev-list or --test-list above 0): all "
                    "%d utterances of %s are in train.list, and no dev or test list is written", len(utt2spk),
                    data_dir)
    out = Path(out_dir)
    for name, utts in sets.items():
        if not utts and (out / f"{name}.list").is_dir():
            # (its removal failed once the new lists were in place, a split half made)
            raise AsrkitError(f"{out / f'{name}.list'}: a directory where an earlier split's {name} list would be "
                              f"removed; move it away")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        # (data/local -> an unmounted scratch disk: named as the broken link it is)
        broken = broken_link_message(str(out))
        if broken is None:
            raise
        raise AsrkitError(broken) from None
    # All lists or none: a full disk after train.list must not leave the new train.list beside an
    # earlier split's dev.list (the same utterances trained on and held out). A Ctrl-C or SIGTERM
    # is held until the earlier split's list of a set not asked for now is gone too: it landed
    # once the new lists were in, leaving that test.list beside a train.list holding its utterances.
    with signals_deferred():
        with AtomicFiles() as files:
            for name, utts in sets.items():
                if utts:
                    with files.open(out / f"{name}.list") as f:
                        f.write("".join(u + "\n" for u in utts))
        for name, utts in sets.items():
            if not utts:
                (out / f"{name}.list").unlink(missing_ok=True)  # an earlier split's list must not pass for this one's
    return sets


def _refuse_list_as_output(out: Path, options: Dict) -> None:
    """AsrkitError when a --dev-list or --test-list is one of the lists written or removed in
    ``out``: re-running into the dir of an earlier split with its list (--dev-list
    data/local/dev.list ... data/local) rewrote the user's file as bare ids, and a list under a
    set's name not asked for now (--dev-list data/local/test.list) was deleted, with exit 0."""
    for name in ("train", "dev", "test"):
        target = out / f"{name}.list"
        for option in ("dev_list", "test_list"):
            given = options.get(option)
            if given and same_regular_file(target, given):
                written = name == "train" or options.get(f"{name}_fraction") or options.get(f"{name}_list")
                fate = "overwritten" if written else f"removed (no {name} set is asked for)"
                raise AsrkitError(f"{target} is the same file as --{option.replace('_', '-')} {given}, which the run "
                                  f"reads: it would be {fate}; give another OUT-DIR, or move the list out of it")

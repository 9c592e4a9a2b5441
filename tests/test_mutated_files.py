"""Valid files damaged mechanically (tests/mutations.py: cut short, bytes flipped, zeroed, cut out,
header sizes set to 0 / 0xFFFFFFFF / huge, another format's start, NULs, invalid UTF-8, long
lines, CR line ends) and given to each command that reads them: every case is a clean one-line
error, a named and counted skip, or a plausible success; never a traceback, a hang, a half-written
output or an item lost without a count.

A fixed sample of the full sweep (run by hand: ``tools/venv/bin/python tests/mutations.py --out DIR``),
chosen to cover each kind of file and damage once, with the cases the sweep found faults in."""
from __future__ import annotations

import pytest

from mutations import all_targets, build_seeds, damaged_file, mutants

CASES = [
    # audio: the RIFF header cut inside, its rate 0, its data size huge or unknown, another format
    ("a16.wav", "truncate@43", "compute-fbank"),
    ("a16.wav", "u32@24=0", "compute-fbank"),
    ("a16.wav", "u32@40=huge", "decode"),
    ("a16.wav", "u32@4=ffffffff", "compute-fbank"),
    ("a16.wav", "prefix-of-other-format", "decode"),
    ("f8.wav", "u32@24=huge", "compute-fbank"),
    ("f8.wav", "zero-head", "align"),
    ("a16.flac", "flip-body-bit", "compute-fbank"),
    ("a16.flac", "u32@20=ffffffff", "decode"),
    ("a16.flac", "append-self", "compute-fbank"),
    ("a16.ogg", "truncate@100", "compute-fbank"),
    ("a16.ogg", "flip-head-byte", "decode"),
    ("a16.sph", "flip-head-byte", "compute-fbank"),
    ("a16.sph", "truncate-half", "align"),
    ("a16.wav", "truncate-half", "make-data-dir"),
    ("a16.flac", "flip-body-bit", "perturb-data-dir-speed"),
    # features and CMVN stats
    ("raw.ark", "delete-middle", "decode --feats scp"),
    ("raw.ark", "u32@12=ffffffff", "compute-cmvn"),
    ("raw.ark", "truncate-half", "decode --feats ark"),
    ("cmvn.ark", "flip-head-byte", "apply-cmvn"),
    ("cmvn.ark", "u32@8=huge", "apply-cmvn"),
    ("raw.scp", "nul-in-value", "compute-cmvn"),  # was a ValueError traceback
    ("raw.scp", "nul-in-value", "apply-cmvn"),
    ("raw.scp", "nul-in-value", "decode --feats scp"),
    # a Kaldi data dir's tables
    ("wav.scp", "nul-in-value", "decode --wav-scp"),
    ("wav.scp", "cr-only", "validate-data-dir"),
    ("segments", "flip-byte", "compute-fbank"),
    ("segments", "long-line", "fix-data-dir"),
    ("segments", "number@", "decode --wav-scp"),
    ("text", "nul-in-value", "fix-data-dir"),  # kept, and the fixed dir failed validation
    ("text", "invalid-utf8", "score"),
    ("text", "bom", "tokenize"),
    ("utt2spk", "duplicate-line", "fix-data-dir"),
    ("spk2utt", "binary-garbage", "validate-data-dir"),
    ("utt2spk", "long-line", "split-data-dir"),
    ("text", "cr-only", "train-tokenizer"),
    ("text", "nul-in-value", "align"),
    # models, tokenizer, configs, checkpoints, LM, a training's inputs
    ("model.pt", "delete-middle", "decode"),  # was an '[Errno 22] Invalid argument' traceback
    ("model.pt", "flip-body-bit", "decode"),
    ("model.pt", "truncate-last-byte", "pack-model"),
    ("tokens.model", "flip-head-byte", "tokenize"),
    ("decode.yaml", "binary-garbage", "decode"),
    ("fbank.yaml", "long-line", "compute-fbank --config"),
    ("epoch1.pt", "delete-middle", "average"),
    ("lm.pt", "delete-middle", "decode --lm"),
    ("train/feats.scp", "nul-in-value", "train"),
    ("train/text", "invalid-utf8", "train"),
    ("train/utt2num_frames", "number@", "train"),
    ("f8.wav", "truncate-half", "train from audio"),
    ("spk2utt", "nul-in-value", "compute-cmvn --spk2utt"),
    ("utt2spk", "flip-byte", "apply-cmvn --utt2spk"),
    ("a16.sph", "number@", "decode"),
    ("transforms.ark", "truncate-half", "decode --spk-transforms"),
    ("hyp", "invalid-utf8", "adapt-speakers"),
    ("ref.trn", "nul-in-value", "score"),
]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, an4_root, fsdd_root, yesno_root):
    s = build_seeds(tmp_path_factory.mktemp("mutations"), an4_root, fsdd_root, yesno_root)
    return s, {name: (kind, other, dict(cases)) for name, kind, other, cases in all_targets(s)}


@pytest.mark.parametrize("name, mutation, command", CASES, ids=[" ".join(c) for c in CASES])
def test_a_damaged_file_is_an_error_a_skip_or_harmless(seeds, tmp_path, name, mutation, command):
    s, targets = seeds
    kind, other, checks = targets[name]
    picked = [(m, data) for m, data in mutants(s, name, kind, other) if m == mutation or m.startswith(mutation)]
    assert picked, f"no mutation {mutation!r} of {name}"
    mname, data = picked[0]
    verdict = checks[command](damaged_file(tmp_path, name, kind, data), tmp_path)
    assert not verdict.startswith("BAD"), f"{name} {mname} through {command}: {verdict}"

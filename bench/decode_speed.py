#!/usr/bin/env python3
"""Real-time factor of asrkit's batched beam search on the AN4 test set (130 utterances, 357 s).

Times what asrkit-decode's log reports as model time: CMVN'd features in memory -> encoder ->
beam search (attention + CTC prefix scoring [+ LM]) -> text, for several batch sizes (batch 1
= one utterance at a time). Features (Kaldi fbank of the real AN4 test audio) are computed
once before timing. With --model, a packed model.pt (its CMVN and tokenizer, CER reported);
without, a randomly initialised LAS with the model section of --config (default: the AN4
recipe's) and a char vocabulary of AN4's size: its speed is the real model's for the same number
of decoder steps, but a random model rarely says <eos>, so it runs to the maximum length
(--maxlenratio; 0 = every encoder frame). The table reports the steps, so runs compare fairly.

    e.g.: bench/decode_speed.py                                   # random AN4-size model, CPU, 1 thread
          bench/decode_speed.py --maxlenratio 0.3 --batch-sizes 130,16,1
          bench/decode_speed.py --model egs/an4/asr1/exp/x/model.pt --device cuda --threads 16
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import _args  # noqa: E402 (bench/, the script's own dir, is on sys.path)


def an4_test(an4: Path):
    """[(utt_id, wav path, reference text)] of the AN4 test set, in fileids order."""
    refs = {}
    for line in (an4 / "etc" / "an4_test.transcription").read_text().splitlines():
        text, _, rest = line.rpartition("(")
        refs[rest.strip().rstrip(")")] = " ".join(w for w in text.split() if w not in ("<s>", "</s>"))
    out = []
    for rel in (an4 / "etc" / "an4_test.fileids").read_text().split():
        utt = Path(rel).name
        out.append((utt, an4 / "wav" / (rel + ".wav"), refs[utt]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, type=_args.existing_file,
                   help="packed model.pt (default: a random AN4-size LAS)")
    p.add_argument("--config", default=str(REPO / "egs/an4/asr1/conf/train.yaml"), type=_args.existing_file,
                   help="training config whose model section builds the random model")
    p.add_argument("--an4", default=os.environ.get("ASRKIT_CORPORA", str(REPO.parent / "shared/corpora")) + "/an4",
                   type=_args.existing_dir)
    p.add_argument("--beam", type=_args.positive_int, default=10)
    p.add_argument("--ctc-weight", type=float, default=0.3)
    p.add_argument("--lm", default=None, type=_args.existing_file, help="lm.pt for shallow fusion (with --lm-weight)")
    p.add_argument("--lm-weight", type=float, default=0.0)
    p.add_argument("--maxlenratio", type=_args.nonnegative_float, default=0.0)
    p.add_argument("--batch-sizes", default="130,1", type=_args.positive_int_list,
                   help="comma-separated; 1 = one utterance at a time")
    p.add_argument("--mode", default="beam", choices=["beam", "greedy"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=_args.positive_int, default=1, help="torch CPU threads")
    p.add_argument("--limit", type=_args.nonnegative_int, default=0, help="only the first N utterances (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hyps-out", default=None, type=_args.output_file,
                   help="write the first batch size's best hypotheses here (utt-id text), e.g. to compare devices")
    args = p.parse_args()

    import dataclasses

    import numpy as np
    import torch
    import yaml

    from asrkit.decoding.config import DecodeConfig
    from asrkit.decoding.inputs import DecodeInputs
    from asrkit.decoding.recognizer import Recognizer
    from asrkit.features.cmvn import accumulate_cmvn
    from asrkit.features.fbank import FbankConfig
    from asrkit.models.package import Package, PackageMeta
    from asrkit.utils.device import resolve_device

    torch.set_num_threads(args.threads)
    dev = resolve_device(args.device, "--device")
    an4 = Path(args.an4)
    utts = an4_test(an4)
    if args.limit:
        utts = utts[:args.limit]
    base = DecodeConfig(mode=args.mode, beam=args.beam, ctc_weight=args.ctc_weight, lm_weight=args.lm_weight,
                        maxlenratio=args.maxlenratio, device=args.device)

    if args.model:  # what asrkit-decode does: the recognizer loads the model and the LM
        rec = Recognizer.from_files(args.model, base, args.lm)
        pkg, lm = rec.pkg, rec.lm
        what = f"model {args.model}"
    else:
        from asrkit.models.las import LAS, LASConfig

        torch.manual_seed(args.seed)
        conf = yaml.safe_load(Path(args.config).read_text())["model"]
        fbank = FbankConfig(sample_frequency=16000, num_mel_bins=80)
        vocab = 30  # AN4's char tokenizer: 26 letters, ', space (▁), <blank>, <unk>, <sos/eos>
        model = LAS(fbank.num_mel_bins, vocab, LASConfig.from_dict(conf)).to(dev).eval()
        tokens = ["<blank>", "<unk>"] + [chr(ord("A") + i) for i in range(26)] + ["▁", "<sos/eos>"]
        pkg = Package(model=model, meta=PackageMeta(model_config=model.config, idim=fbank.num_mel_bins,
                                                    vocab_size=vocab, feature_config=fbank, tokens=tokens),
                      tokenizer=None)
        lm = None
        rec = Recognizer(pkg, base, lm)
        what = f"random LAS from {os.path.relpath(args.config, REPO)} (seed {args.seed})"

    # The audio goes through asrkit-decode's input path (wav files, the packed fbank), untimed.
    items, _ = DecodeInputs(wavs=[str(path) for _, path, _ in utts]).open(rec.features)
    feats, stats = [], None
    for utt, f, err in items:
        if err is not None:
            raise err
        feats.append((utt, f))
        stats = accumulate_cmvn(f, stats)
    if pkg.meta.cmvn is None:  # a random model has no training CMVN: normalise with the test set's own
        pkg.meta.cmvn = stats
    frames = sum(f.shape[0] for _, f in feats)
    audio_s = frames * rec.frame_shift_s
    n_params = sum(p.numel() for p in pkg.model.parameters())

    cmd = "bench/decode_speed.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"# {cmd}")
    print(f"# {what}: {n_params / 1e6:.1f} M parameters; AN4 test: {len(feats)} utterances, {audio_s:.1f} s "
          f"of audio; beam {args.beam}, CTC weight {args.ctc_weight}, LM weight {args.lm_weight}, "
          f"maxlenratio {args.maxlenratio}, {args.mode}; device {dev}, {torch.get_num_threads()} thread(s); "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| batch | model time s | RTF | encoder s | search s | steps (max per batch) | mean hyp tokens | CER % |")
    print("|---|---|---|---|---|---|---|---|")
    refs = {u: r for u, _, r in utts}
    results = {}
    for bs in args.batch_sizes:
        rec = Recognizer(pkg, dataclasses.replace(base, batch_size=bs), lm)
        # as asrkit-decode prepares a recording decoded whole: with its edge pad (normalize alone
        # timed shorter inputs than the product decodes)
        normed = [(u, rec.prepare_whole(u, f).feats) for u, f in feats]
        rec.decode(normed[:2], normalized=True)  # warm-up (allocator, first-call overheads)
        enc_time = _encoder_time(rec, normed, bs, dev)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = rec.decode(normed, normalized=True)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        total = time.perf_counter() - start
        steps = max(r.steps for r in out)
        mean_len = np.mean([len(r.hyps[0].tokens) if r.hyps else 0 for r in out])
        cer = _cer(refs, {r.utt_id: (r.texts[0] if r.texts else "") for r in out}) if args.model else float("nan")
        results[bs] = {r.utt_id: (r.texts[0] if r.texts else "") for r in out}
        if args.hyps_out and len(results) == 1:  # now, not at the end: a run cut short still leaves them
            with open(args.hyps_out, "w") as f:
                for utt, text in sorted(results[bs].items()):
                    f.write(f"{utt} {text}\n")
        print(f"| {bs} | {total:.2f} | {total / audio_s:.4f} | {enc_time:.2f} | {total - enc_time:.2f} | {steps} | "
              f"{mean_len:.1f} | {cer:.1f} |", flush=True)
    if len(results) > 1:
        first = next(iter(results.values()))
        same = all(v == first for v in results.values())
        print(f"# hypotheses identical across batch sizes: {same}")


def _encoder_time(rec, normed, bs, dev) -> float:
    """Time of the encoder (+ CTC posteriors) alone on the same batches, to split model time."""
    import torch

    order = sorted(range(len(normed)), key=lambda i: -normed[i][1].shape[0])
    total = 0.0
    with torch.inference_mode():
        for s in range(0, len(order), bs):
            batch = [normed[i][1] for i in order[s:s + bs]]
            lens = torch.tensor([f.shape[0] for f in batch])
            x = torch.zeros(len(batch), int(lens.max()), batch[0].shape[1])
            for i, f in enumerate(batch):
                x[i, :f.shape[0]] = torch.from_numpy(f)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            enc, enc_lens = rec.model.encode(x.to(dev), lens.to(dev))
            if rec.weights["ctc"] > 0:
                rec.model.ctc_log_probs(enc)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            total += time.perf_counter() - t0
    return total


def _cer(refs, hyps) -> float:
    from asrkit.scoring.alignment import align, error_counts

    errs = n = 0
    for utt, ref in refs.items():
        r, h = list(ref.replace(" ", "")), list(hyps.get(utt, "").replace(" ", ""))
        c = error_counts(align(r, h))
        errs += c.sub + c.dels + c.ins
        n += len(r)
    return 100.0 * errs / max(n, 1)


if __name__ == "__main__":
    _args.run(main)

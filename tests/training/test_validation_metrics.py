"""The dev metrics LASTask.validate reports are the model's, not the batching's."""
from __future__ import annotations

import pytest
import torch

from .yesno_dump import TINY_CONFIG, copy_with_uneven_texts


@pytest.mark.parametrize("metric", ["valid_acc", "valid_cer"])
def test_dev_metrics_do_not_depend_on_how_utterances_are_batched(yesno_setup, tmp_path, metric):
    """valid_acc averaged each batch's per-token accuracy weighted by the batch's utterances, and
    valid_cer let each hypothesis run to twice the batch's longest reference: one model on one dev
    set measured another accuracy (0.098, 0.153, 0.183) and CER (1.1, 1.7, 2.0) for each
    batching.max_frames (transcripts of 3 and of 30 tokens grouped otherwise), and best_metric
    ranked the epochs of a resume with another max_frames by it."""
    from asrkit.models.las import LAS
    from asrkit.models.package import PackageMeta
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.config import build_config
    from asrkit.training.data import FeatureDataset, load_utterances
    from asrkit.training.las_task import LASTask

    dev = copy_with_uneven_texts(yesno_setup / "dump" / "train", tmp_path / "dev")
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    train = FeatureDataset(load_utterances(str(yesno_setup / "dump" / "train"), tok))
    valid = FeatureDataset(load_utterances(str(dev), tok))
    accs, losses = [], []
    for max_frames in (700, 1500, 100_000):
        cfg = build_config({**TINY_CONFIG, "batching": {"max_frames": max_frames},
                            "training": {"valid_cer": metric == "valid_cer", "num_plots": 0}})
        torch.manual_seed(0)
        model = LAS(train.idim, tok.vocab_size, cfg.model).eval()
        meta = PackageMeta(model_config=cfg.model, idim=train.idim, vocab_size=tok.vocab_size, tokens=tok.tokens)
        task = LASTask(model, meta, cfg, train, valid, tok, tmp_path / "exp")
        with torch.no_grad():
            result = task.validate(model, 1, torch.device("cpu"), False)
        accs.append(result[metric])
        losses.append(result["valid_loss"])
    assert max(losses) - min(losses) < 1e-3 * abs(losses[0])  # the loss never depended on it
    assert accs[0] == accs[1] == accs[2], accs


def test_a_ctc_only_models_dev_hypotheses_are_what_greedy_decoding_gives(monkeypatch):
    """valid_cer of a model trained with CTC alone scored its CTC head's best path (the likeliest
    token per frame), where asrkit-decode --mode greedy decodes such a model by a greedy search
    on CTC prefix scores, which sum a prefix over all its alignments: on one yesno dev set the
    best path measured CER 53.9, 35.0 and 23.2 % where the decoder gave 27.0, 23.4 and 21.1 %.
    Here a token at 0.4 in each of 3 frames, blank at 0.6: the best path is all blank, nothing;
    the prefix 'token' has probability 1 - 0.6**3 = 0.78, and decoding says it."""
    from asrkit.models.las import LAS, LASConfig
    from asrkit.training.validation import greedy_hyps

    from .yesno_dump import TINY_MODEL

    torch.manual_seed(0)
    model = LAS(23, 5, LASConfig.from_dict({**TINY_MODEL, "ctc_weight": 1.0})).eval()
    frame = torch.full((5,), 1e-6)
    frame[0], frame[3] = 0.6, 0.4
    log_probs = (frame / frame.sum()).log().expand(1, 3, 5).clone()
    monkeypatch.setattr(model, "ctc_log_probs", lambda enc: log_probs)
    with torch.inference_mode():
        enc = torch.zeros(1, 3, model.listener.odim)
        assert greedy_hyps(model, enc, torch.tensor([3]), max_tokens=10) == [[3]]

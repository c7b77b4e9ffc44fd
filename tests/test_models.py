"""Saved models: the file format round trip, the shipped models, and ``analyse`` on clips."""

import json
import struct

import numpy as np
import pytest
import torch

from ser import config
from ser.heads import HeadConfig, HeadEnsemble
from ser.inference import analyse
from ser.models import (
    CARD_FILE,
    HEAD_FILE,
    EmotionModel,
    ModelError,
    load_model,
    load_models,
    model_folders,
    save_model,
)

SR = config.SAMPLE_RATE
MAX_HEAD_BYTES = 10 * 1024 * 1024
SHIPPED_IDS = sorted(p.name for p in model_folders(config.MODELS_DIR))
PROBS_SUM_TOLERANCE = 1e-4  # float32 softmax means, summed in float64


def tiny_mfcc_model(seed: int = 0) -> tuple[HeadEnsemble, dict]:
    """A randomly initialised two-member head on the MFCC backbone, and its card."""
    torch.manual_seed(seed)
    head_config = HeadConfig(n_layers=1, dim=3 * config.N_MFCC + config.N_MELS,
                             n_classes=len(config.EMOTIONS), hidden=16)
    head = HeadEnsemble(head_config, n_members=2).eval()
    for member in head.members:  # non-trivial statistics, so a lost buffer would show
        member.feature_mean.normal_()
        member.feature_std.uniform_(0.5, 2.0)
    card = {
        "id": "tiny",
        "name": "tiny test model",
        "labels": list(config.EMOTIONS),
        "backbone": {"kind": "mfcc", "checkpoint": None, "params": {}},
        "head": {"config": head_config.to_dict(), "n_members": 2},
    }
    return head, card


@pytest.fixture(scope="module")
def shipped():
    return load_models(config.MODELS_DIR)


# --- the file format ------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path, make_speech):
    head, card = tiny_mfcc_model()
    folder = save_model(tmp_path / "tiny", head, card)
    assert sorted(p.name for p in folder.iterdir()) == [CARD_FILE, HEAD_FILE]

    model = load_model(folder)
    assert model.card == card and model.labels == list(config.EMOTIONS)
    loaded = model.head.state_dict()
    for name, tensor in head.state_dict().items():
        assert torch.equal(loaded[name], tensor), name
    audio = make_speech(2.0)
    original = EmotionModel(card["id"], card, head, model.backbone)
    np.testing.assert_array_equal(model.predict_proba(audio), original.predict_proba(audio))


def test_head_file_is_safetensors_not_pickle(tmp_path):
    head, card = tiny_mfcc_model()
    data = (save_model(tmp_path / "tiny", head, card) / HEAD_FILE).read_bytes()
    # safetensors: u64 little-endian header length, a JSON header, then raw tensor bytes.
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    assert header["__metadata__"] == {"model_id": "tiny"}
    assert set(header) - {"__metadata__"} == set(head.state_dict())
    assert not data.startswith((b"\x80", b"PK"))  # neither a pickle nor torch.save's zip


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_head_file_is_a_model_error(tmp_path, damage):
    head, card = tiny_mfcc_model()
    path = save_model(tmp_path / "tiny", head, card) / HEAD_FILE
    data = path.read_bytes()
    damaged = {"garbage": b"not a tensor file" * 10, "truncated": data[: len(data) // 2], "empty": b""}
    path.write_bytes(damaged[damage])
    with pytest.raises(ModelError, match="tiny: the head does not load"):
        load_model(path.parent)


def test_head_that_does_not_match_its_card_is_a_model_error(tmp_path):
    head, card = tiny_mfcc_model()
    card["head"]["config"]["hidden"] = 32
    with pytest.raises(ModelError, match="does not load"):
        load_model(save_model(tmp_path / "tiny", head, card))


def test_missing_or_broken_card_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not a readable model folder"):
        load_model(tmp_path)
    (tmp_path / CARD_FILE).write_text("{not json")
    with pytest.raises(ModelError, match="not a readable model folder"):
        load_model(tmp_path)


# --- the shipped models ---------------------------------------------------------------------
def test_shipped_models_load_and_are_small(shipped):
    assert sorted(m.id for m in shipped) == SHIPPED_IDS
    assert {"mfcc", "wakehubert", "whisper"} <= set(SHIPPED_IDS)
    for model in shipped:
        assert (config.MODELS_DIR / model.id / HEAD_FILE).stat().st_size < MAX_HEAD_BYTES
        assert model.labels == list(config.EMOTIONS)
        assert model.card["backbone"]["kind"] == model.backbone.kind


def test_analyse_example_clip(shipped, example_clip):
    from ser.audio import load_audio

    result = analyse(load_audio(example_clip), shipped)
    assert result.speech
    assert list(result.models) == [m.id for m in shipped]
    for prediction in [*result.models.values(), result.fused]:
        assert list(prediction.probs) == list(config.EMOTIONS)
        assert sum(prediction.probs.values()) == pytest.approx(1.0, abs=PROBS_SUM_TOLERANCE)
        assert prediction.confidence == max(prediction.probs.values())


def test_silence_gets_no_predictions(shipped):
    result = analyse(np.zeros(2 * SR, np.float32), shipped)
    assert not result.speech
    assert result.models == {} and result.fused is None and result.timeline == []
    assert result.to_dict()["timeline"] is None


def test_ten_second_clip_gets_a_timeline_over_the_whole_clip(shipped, make_speech):
    result = analyse(make_speech(10.0), shipped)
    windows = result.timeline
    assert windows[0].start_s == 0.0 and windows[-1].end_s == pytest.approx(10.0)
    for before, after in zip(windows, windows[1:]):
        assert after.start_s <= before.end_s  # no gaps
    for window in windows:
        assert window.end_s - window.start_s == pytest.approx(config.WINDOW_S)
        assert window.speech and set(window.models) == set(result.models)
        assert window.fused is not None


def test_rows_and_dict_agree(shipped, make_speech):
    result = analyse(make_speech(6.0), shipped)
    as_dict = result.to_dict()
    rows = result.to_rows()

    clip_rows = [r for r in rows if r["scope"] == "clip"]
    expected = {**as_dict["models"], "fused": as_dict["fused"]}
    assert {r["model"]: r["label"] for r in clip_rows} == {k: p["label"] for k, p in expected.items()}
    for row in clip_rows:
        assert {e: row[e] for e in config.EMOTIONS} == expected[row["model"]]["probs"]
        assert row["confidence"] == expected[row["model"]]["confidence"]

    window_rows = [r for r in rows if r["scope"] == "window"]
    windows = as_dict["timeline"]["windows"]
    assert len(window_rows) == sum(len(w["models"]) + (w["fused"] is not None) for w in windows)
    spans = sorted({(r["start_s"], r["end_s"]) for r in window_rows})
    assert spans == [(w["start_s"], w["end_s"]) for w in windows]

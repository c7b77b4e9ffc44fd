"""Saved models: the file format round trip, the shipped models, and ``analyse`` on clips."""

import json
import struct
from dataclasses import replace

import numpy as np
import pytest
import torch

from ser import calibration, config, familiarity, inference, modes
from ser.cards import CARD_FILE, BackboneInfo, Calibration, Familiar, ModelCard, model_folders
from ser.corpora import CORPORA
from ser.heads import HeadConfig, HeadEnsemble
from ser.inference import analyse, voice_reference
from ser.models import HEAD_FILE, EmotionModel, ModelError, load_model, load_models, onnx_file, save_model
from ser.modes import Setting
from ser.onnx_heads import clip_statistics
from ser.reports import read_fusion

SR = config.SAMPLE_RATE
MAX_HEAD_BYTES = 10 * 1024 * 1024
SHIPPED_IDS = sorted(p.name for p in model_folders(config.MODELS_DIR))
PROBS_SUM_TOLERANCE = 1e-4  # float32 softmax means, summed in float64
ONNX_PROBS_ATOL = 1e-5  # the head in ONNX Runtime against PyTorch: the same float32 sums, reordered


def tiny_mfcc_model(seed: int = 0, hidden: int = 16) -> tuple[HeadEnsemble, ModelCard]:
    """A randomly initialised two-member head on the MFCC backbone, and its card."""
    torch.manual_seed(seed)
    dim = 3 * config.N_MFCC + config.N_MELS
    head_config = HeadConfig(n_layers=1, dim=dim, n_classes=len(config.EMOTIONS), hidden=16)
    head = HeadEnsemble(head_config, n_members=2).eval()
    head.temperature.fill_(1.7)
    for member in head.members:  # non-trivial statistics, so a lost buffer would show
        member.stat_mean.normal_()
        member.stat_std.uniform_(0.5, 2.0)
    card = ModelCard(
        id="tiny", name="tiny test model", labels=list(config.EMOTIONS),
        backbone=BackboneInfo("mfcc", "librosa-mfcc", "MFCC", "hand-crafted", 1, dim, 100.0),
        head={"config": {**head_config.to_dict(), "hidden": hidden}, "n_members": 2},
        training={"corpora": []},
    )
    return head, card


@pytest.fixture(scope="module")
def shipped():
    return load_models(config.MODELS_DIR)


# --- the file format ------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path, make_speech):
    head, card = tiny_mfcc_model()
    folder = save_model(tmp_path / "tiny", head, card)
    assert sorted(p.name for p in folder.iterdir()) == sorted([CARD_FILE, HEAD_FILE, onnx_file(HEAD_FILE)])

    model = load_model(folder)  # the head runs from its ONNX export
    assert model.card == card and model.labels == list(config.EMOTIONS)
    assert model.head.temperature == pytest.approx(float(head.temperature))
    audio = make_speech(2.0)
    original = EmotionModel(card, head, model.backbone)
    np.testing.assert_allclose(model.predict_proba(audio), original.predict_proba(audio), rtol=0,
                               atol=ONNX_PROBS_ATOL)


def test_export_that_does_not_match_its_weights_is_a_model_error(tmp_path):
    head, card = tiny_mfcc_model()
    folder = save_model(tmp_path / "tiny", head, card)
    other, _ = tiny_mfcc_model(seed=1)
    save_model(tmp_path / "other", other, card)
    (tmp_path / "other" / HEAD_FILE).replace(folder / HEAD_FILE)  # retrained, not re-exported
    with pytest.raises(ModelError, match="exported from other weights"):
        load_model(folder)
    (folder / onnx_file(HEAD_FILE)).unlink()
    with pytest.raises(ModelError, match="export-onnx"):
        load_model(folder)


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
    head, card = tiny_mfcc_model(hidden=32)
    with pytest.raises(ModelError, match="does not load"):
        load_model(save_model(tmp_path / "tiny", head, card))


def test_missing_or_broken_card_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not a readable model card"):
        load_model(tmp_path)
    (tmp_path / CARD_FILE).write_text("{not json")
    with pytest.raises(ModelError, match="not a readable model card"):
        load_model(tmp_path)


# --- the shipped models ---------------------------------------------------------------------
def test_shipped_models_load_and_are_small(shipped):
    assert sorted(m.id for m in shipped) == SHIPPED_IDS == sorted(config.SHIPPED_MODELS)
    for model in shipped:
        assert (config.MODELS_DIR / model.id / HEAD_FILE).stat().st_size < MAX_HEAD_BYTES
        assert model.labels == list(config.EMOTIONS)
        assert model.card.backbone.id == model.backbone.id


def test_shipped_models_are_calibrated_on_left_out_corpora_in_every_mode(shipped):
    six = set(CORPORA)
    for model in shipped:
        card = model.card
        assert set(card.training["corpora"]) == six
        assert card.calibration.fitted_on.startswith("leave-one-corpus-out")
        assert float(model.head.temperature) == pytest.approx(card.calibration.temperature, abs=1e-4)
        assert set(card.transfer) == six
        for mode, head in (("adapted", model.adapted_head), ("voice", model.voice_head)):
            reading = getattr(card, mode)
            assert float(head.temperature) == pytest.approx(reading.calibration.temperature, abs=1e-4)
            assert set(reading.transfer) == six and reading.one_emotion["sessions"] > 0
            read_in_mode = [r["read_in_mode"] for r in reading.transfer.values()]
            if reading.calibration.fitted_on.startswith("not fitted: never read in this mode"):
                assert read_in_mode == [0.0] * 6  # its guard read every left-out clip plain
            else:
                assert reading.calibration.fitted_on.startswith("leave-one-corpus-out")
                assert max(read_in_mode) > 0
        # The Live page's way of adapting, clip by clip, is measured on the same settings.
        heard = card.adapted.one_by_one
        assert set(heard["transfer"]) == six and heard["one_emotion"]["sessions"] > 0
        assert card.adapted.guard == {"shrink_clips": config.ADAPT_SHRINK_CLIPS,
                                      "min_variety": config.ADAPT_MIN_VARIETY,
                                      "one_by_one": {"shrink_clips": config.ADAPT_ONE_BY_ONE_SHRINK_CLIPS,
                                                     "min_variety": config.ADAPT_ONE_BY_ONE_MIN_VARIETY}}
        assert card.voice.guard == {"min_variety": config.VOICE_MIN_VARIETY}
        # Confidence for clips like the training corpora comes from their new speakers'.
        assert card.familiar.calibration.fitted_on.startswith("folds by speaker")
        assert model.familiarity is not None
    fusion = read_fusion()
    assert sorted(fusion["models"]) == sorted(m.id for m in shipped)


def test_analyse_example_clip(shipped, example_clip):
    from ser.audio import load_audio

    result = analyse(load_audio(example_clip), shipped, read_fusion())
    assert result.speech
    assert list(result.models) == [m.id for m in shipped]
    assert result.lead in [*result.models, "fused"] and result.lead_prediction is not None
    for prediction in [*result.models.values(), result.fused]:
        assert list(prediction.probs) == list(config.EMOTIONS)
        assert sum(prediction.probs.values()) == pytest.approx(1.0, abs=PROBS_SUM_TOLERANCE)
        assert prediction.confidence == max(prediction.probs.values())
        assert prediction.unsure == (prediction.confidence < config.UNSURE_BELOW)


@pytest.mark.needs_data
def test_a_long_clip_heard_in_pieces_gives_the_frames_of_the_whole(shipped, ravdess_dir):
    """On real speech (a receptive field shows on it, not on a tone): 31 s of RAVDESS clips end
    to end, not a whole number of pieces."""
    import soundfile as sf

    clips = sorted(ravdess_dir.rglob("*.flac")) or sorted(ravdess_dir.rglob("*.wav"))
    speech = np.concatenate([sf.read(path, dtype="float32")[0] for path in clips[:10]])
    speech = speech[: int(31.3 * SR) + 77]
    assert len(speech) == int(31.3 * SR) + 77  # RAVDESS clips are 3-5 s: ten make it
    for model in shipped:
        if model.pieces and len(speech) > sum(model.pieces) + model.pieces[1]:
            whole, pieces = model.frames(speech), model.frames_in_pieces(speech)
            assert pieces.shape == whole.shape
            np.testing.assert_allclose(pieces, whole, atol=1e-5 * np.abs(whole).max(), err_msg=model.id)


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
        assert row["unsure"] == expected[row["model"]]["unsure"]
        assert row["mode"] == as_dict["mode"] == "plain"  # no voice reference

    window_rows = [r for r in rows if r["scope"] == "window"]
    windows = as_dict["timeline"]["windows"]
    assert len(window_rows) == sum(len(w["models"]) + (w["fused"] is not None) for w in windows)
    spans = sorted({(r["start_s"], r["end_s"]) for r in window_rows})
    assert spans == [(w["start_s"], w["end_s"]) for w in windows]


def test_a_voice_reference_marks_the_analysis_and_its_rows_as_calibrated(shipped, make_speech, monkeypatch):
    voice = voice_reference([make_speech(12.0, seed=1)], shipped)
    assert voice.speech_s > config.MIN_CALIBRATION_SPEECH_S
    clip = make_speech(3.0)
    setting = Setting()
    for seed in (2, 3):  # two more clips of the voice, for its guard to judge the reference by
        analyse(make_speech(3.0, seed=seed), shipped, voice=voice, setting=setting, learn=True)
    monkeypatch.setattr(modes, "variety", lambda probs: 1.0)  # as if those clips read differently
    plain = analyse(clip, shipped)
    result = analyse(clip, shipped, voice=voice, setting=setting)
    assert result.mode == result.to_dict()["mode"] == "voice"
    assert {row["mode"] for row in result.to_rows()} == {"voice"}
    assert result.mode_speech_s == voice.speech_s
    assert result.plain_lead == plain.lead_prediction
    assert result.plain == {**plain.models, "fused": plain.fused}  # what every card read before


def test_a_voice_reads_plain_until_its_clips_read_differently_against_the_reference(shipped, make_speech):
    """The voice guard: with no other clip of the voice, or clips that all read alike against
    the reference (one emotion, or a reference spoken in it), every model reads plain."""
    voice = voice_reference([make_speech(12.0, seed=1)], shipped)
    same = make_speech(3.0, seed=4)
    plain = analyse(same, shipped)
    assert analyse(same, shipped, voice=voice).models == plain.models
    setting = Setting()
    for _ in range(3):
        result = analyse(same, shipped, voice=voice, setting=setting, learn=True)
        assert result.mode == "plain" and result.models == plain.models
    assert all(setting.of(m.id).n == 3 for m in shipped)  # the voice's clips were kept for the guard


def test_a_setting_is_learnt_clip_by_clip_and_read_plain_while_its_clips_read_alike(shipped, make_speech):
    setting = Setting()
    same = make_speech(3.0, seed=4)
    plain = analyse(same, shipped)
    for _ in range(3):  # one clip again and again: nothing varies, so nothing is adapted
        result = analyse(same, shipped, setting=setting, learn=True)
        assert result.mode == "plain" and result.models == plain.models
    assert setting.n_clips == 3 and setting.speech_s == pytest.approx(3 * plain.speech_s)
    assert all(setting.of(m.id).n == 3 for m in shipped)


def test_a_setting_heard_clip_by_clip_takes_the_guard_measured_so(shipped, make_speech, monkeypatch):
    """A live session reads each clip as it comes, with the adapted guard's "one_by_one"
    settings (stricter); a batch, read at once, with the others."""
    model = next(m for m in shipped if m.id == "mfcc")  # the quickest backbone; the rule is the same
    guard = model.card.adapted.guard
    between = (guard["min_variety"] + guard["one_by_one"]["min_variety"]) / 2
    monkeypatch.setattr(modes, "variety", lambda probs: between)
    for one_by_one, expected in ((False, modes.ADAPTED), (True, modes.PLAIN)):
        setting = Setting(one_by_one=one_by_one)
        for seed in (2, 3):
            inference.hear(make_speech(3.0, seed=seed), [model], setting)
        mode, _ = inference.Context(setting=setting).mode_of(model)
        assert mode == expected


def test_one_predict_proba_for_batches_and_single_clips():
    head, _ = tiny_mfcc_model()
    stats = np.random.default_rng(0).standard_normal((5, 1, 2 * head.config.dim)).astype(np.float32)
    batched = head.predict_proba(stats)
    assert batched.shape == (5, len(config.EMOTIONS))
    for i in range(5):
        np.testing.assert_allclose(head.predict_proba(stats[i]), batched[i], rtol=1e-5, atol=1e-7)


def test_temperature_softens_without_changing_the_verdict():
    head, _ = tiny_mfcc_model()
    stats = np.random.default_rng(1).standard_normal((20, 1, 2 * head.config.dim)).astype(np.float32)
    sharp = head.predict_proba(stats)
    head.temperature.fill_(4.0)
    soft = head.predict_proba(stats)
    assert (soft.argmax(1) == sharp.argmax(1)).all()
    assert (soft.max(1) < sharp.max(1)).all()


def test_a_familiar_clip_is_calibrated_as_new_speakers_of_the_training_corpora_were(shipped, make_speech):
    model = next(m for m in shipped if m.id == "mfcc")  # the quickest backbone; the rule is the same
    stats = clip_statistics(model.frames(make_speech(3.0)))
    known = familiarity.fit(np.stack([stats, stats * 1.01]), ["x", "x"])
    sharper = Calibration(model.card.calibration.temperature / 2, config.UNSURE_BELOW, "test")
    plain = model.predict_stats(stats)
    for above, familiar in ((-np.inf, True), (np.inf, False)):
        reader = replace(model, card=replace(model.card, familiar=Familiar(above, sharper)), familiarity=known)
        probs, settings, heard_familiar = reader.read_stats(stats)
        assert heard_familiar is familiar
        if familiar:
            assert settings == sharper
            assert probs == pytest.approx(calibration.sharpen(plain, 0.5), abs=1e-6)
            assert probs.max() > plain.max()
        else:
            assert settings == model.card.calibration and probs == pytest.approx(plain)
    # An analysis says which calibration each reading used.
    analysis = analyse(make_speech(3.0), [reader])
    assert analysis.to_dict()["models"]["mfcc"]["familiar"] is False


# --- the warm-up: four prompted takes of the speaker --------------------------------------------
def warm_up_takes(make_speech) -> dict[str, np.ndarray]:
    return {e: make_speech(2.0, seed=20 + k) for k, e in enumerate(config.WARM_UP_PROMPTS)}


def test_a_warm_up_marks_the_analysis_and_reads_the_adapted_head_with_its_bias(shipped, make_speech):
    warm_up = inference.warm_up_reference(warm_up_takes(make_speech), shipped)
    assert warm_up.speech_s > 0
    # Only models whose warm-ups held against plain in cross-validation read against one.
    assert set(warm_up.models) == {m.id for m in shipped if m.card.warmed_up.holds} == {"whisper-base"}
    named = np.eye(len(config.EMOTIONS))[[config.EMOTIONS.index(e) for e in config.WARM_UP_PROMPTS]]
    acted = replace(warm_up, models={k: replace(r, takes=named) for k, r in warm_up.models.items()})
    clip = make_speech(3.0, seed=30)
    plain = analyse(clip, shipped)
    result = analyse(clip, shipped, voice=acted)
    assert result.mode == result.to_dict()["mode"] == "warmed_up"
    assert {row["model"]: row["mode"] for row in result.to_rows() if row["model"] != "fused"} == {
        m.id: "warmed_up" if m.id in warm_up.models else "plain" for m in shipped}
    assert all(result.models[m.id] == plain.models[m.id] for m in shipped if m.id not in warm_up.models)
    assert result.mode_speech_s == warm_up.speech_s and result.plain_lead == plain.lead_prediction
    # Each reading: the adapted head at the warm-up's normaliser, biased, at the mode's temperature.
    model = next(m for m in shipped if m.id == "whisper-base")
    reading = acted.models[model.id]
    start, end = inference.audio_io.speech_span(clip)
    stats = clip_statistics(model.frames_in_pieces(clip[start:end]))
    adapted = model.uncalibrated(stats, modes.ADAPTED, (reading.mean, reading.std))
    expected = calibration.sharpen(modes.biased(adapted, reading.bias), model.card.warmed_up.calibration.temperature)
    assert np.allclose(list(result.models[model.id].probs.values()), expected, atol=1e-5)


@pytest.mark.parametrize("shortfall, holds", [(0.0, True), (0.005, True), (0.02, False)])
def test_a_mode_that_lost_to_plain_in_cross_validation_is_not_used(shipped, shortfall, holds):
    """``config.MODE_MAX_LOSS``: a failure case read this far below plain (here the warm-up's
    sessions of an emotion it did not ask for) keeps the model from the mode."""
    model = next(m for m in shipped if m.id == "whisper-base")
    mode = model.card.warmed_up
    report = {"sessions": 3, "clips": 100, "accuracy": 0.5, "plain_accuracy": 0.4}
    failing = report | {"accuracy": 0.4 - shortfall}
    mode = replace(mode, one_emotion=report | {"not_prompted": failing, "not_acted": report})
    assert mode.holds is holds
    assert mode.worst_failure() == (None if shortfall == 0 else ("emotions not prompted", failing))
    reader = replace(model, card=replace(model.card, warmed_up=mode))
    assert reader.can_read(modes.WARMED_UP) is holds and reader.can_read(modes.ADAPTED)


def test_a_warm_up_not_acted_reads_plain(shipped, make_speech):
    """Its guard: takes that name their prompts less than the card's ``min_agreement``."""
    warm_up = inference.warm_up_reference(warm_up_takes(make_speech), shipped)
    alike = np.eye(len(config.EMOTIONS))[[config.EMOTIONS.index("neutral")] * len(config.WARM_UP_PROMPTS)]
    flat = replace(warm_up, models={k: replace(r, takes=alike) for k, r in warm_up.models.items()})
    clip = make_speech(3.0, seed=30)
    result = analyse(clip, shipped, voice=flat)
    assert result.mode == "plain" and result.models == analyse(clip, shipped).models


@pytest.mark.parametrize("missing", config.WARM_UP_PROMPTS)
def test_a_warm_up_needs_speech_in_every_take(shipped, make_speech, missing):
    takes = warm_up_takes(make_speech)
    takes[missing] = np.zeros(config.SAMPLE_RATE, np.float32)
    with pytest.raises(inference.audio_io.AudioError, match=f"said {config.WARM_UP_HOW[missing]}: no speech"):
        inference.warm_up_reference(takes, shipped)
    del takes[missing]
    with pytest.raises(inference.audio_io.AudioError, match="that take is missing"):
        inference.warm_up_reference(takes, shipped)

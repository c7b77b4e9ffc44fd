"""Fuzz: audio a decoder accepts but a careless or hostile visitor made, through the CLI and
the Upload page. Each file is either analysed or refused with one line, and the good file
after it is still analysed."""

import io
import json
import struct

import numpy as np
import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

from ser import config
from ser.cli import main
from tests.conftest import speech_like
from tests.test_app_pages import PAGES, TIMEOUT_S, verdicts

SR = config.SAMPLE_RATE
SEED = 13
N_RANDOM = 8  # random files besides the named ones: each costs an analysis on the page


def float_wav(samples: np.ndarray, rate: int) -> bytes:
    """A 32-bit float WAV written by hand, so its header can state any rate (libsndfile
    refuses to write some) and its samples any value, ``(n_frames, n_channels)`` or mono."""
    samples = np.asarray(samples, np.float32)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    data = samples.tobytes()
    fmt = struct.pack("<HHIIHH", 3, channels, rate, rate * 4 * channels, 4 * channels, 32)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " + struct.pack("<I", 16)
            + fmt + b"data" + struct.pack("<I", len(data)) + data)


def at_rate(samples: np.ndarray, rate: int) -> np.ndarray:
    """16 kHz ``samples`` stretched or squeezed to ``rate`` by repeating or dropping samples
    (content hardly matters: the loader must cope, whatever it holds)."""
    n = max(2, int(len(samples) * rate / SR))
    return samples[np.minimum(np.arange(n) * SR // rate, len(samples) - 1)]


def named_cases() -> dict[str, bytes]:
    speech = speech_like(2.0, seed=SEED)
    square = np.sign(np.sin(2 * np.pi * 200 * np.arange(2 * SR) / SR)).astype(np.float32)
    nan = speech.copy()
    nan[SR] = np.nan
    inf = speech.copy()
    inf[SR] = np.inf
    pcm24 = io.BytesIO()
    sf.write(pcm24, np.stack([speech] * 2, axis=1), 48_000 // 3, format="WAV", subtype="PCM_24")
    return {
        "huge-finite": float_wav(speech * 1e30, SR),
        "int16-values-as-float": float_wav(speech * 32767, SR),
        "hot-float": float_wav(speech * 3.0 / np.abs(speech).max(), SR),
        "nan": float_wav(nan, SR),
        "inf": float_wav(inf, SR),
        "subnormal-silence": float_wav(np.full(2 * SR, 1e-40, np.float32), SR),
        "subnormal-under-speech": float_wav(speech + np.float32(1e-40), SR),
        "dc-offset": float_wav(speech + 0.6, SR),
        "full-scale-dc": float_wav(np.ones(2 * SR, np.float32), SR),
        "full-scale-square": float_wav(square, SR),
        "64-channels": float_wav(np.tile(speech[:, None], (1, 64)), SR),
        "1-hz": float_wav(np.random.default_rng(SEED).uniform(-0.5, 0.5, 4), 1),
        "10-mhz": float_wav(at_rate(speech[: SR // 2 + SR // 10], 10_000_000), 10_000_000),
        "24-bit-stereo": pcm24.getvalue(),
    }


def random_cases() -> dict[str, bytes]:
    """Seeded random mixes of rate (1 Hz to 10 MHz), channels, level, offset and sample scale."""
    rng = np.random.default_rng(SEED)
    cases = {}
    for k in range(N_RANDOM):
        rate = int(10 ** rng.uniform(0, 7))
        channels = int(rng.choice([1, 2, 6, 64]))
        seconds = float(min(rng.uniform(0.3, 3.0), 2e6 / rate / channels))  # at most 8 MB of samples
        audio = at_rate(speech_like(seconds, seed=k), rate) if rate > 4 else rng.uniform(-1, 1, 3)
        level = 10 ** rng.uniform(-40, 40)
        offset = rng.choice([0.0, rng.uniform(-1, 1)])
        samples = np.tile((audio * level + offset)[:, None], (1, channels)).astype(np.float32)
        cases[f"random-{k}-{rate}hz-{channels}ch"] = float_wav(samples, rate)
    return cases


CASES = {**named_cases(), **random_cases()}


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    for name, data in CASES.items():
        (folder / f"{name}.wav").write_bytes(data)
    return folder


def test_every_hostile_file_gets_one_line_and_the_next_good_file_its_analysis(hostile_files, example_clip,
                                                                           capsys):
    files = [str(p) for name in CASES for p in (hostile_files / f"{name}.wav", example_clip)]
    status = main(["predict", *files])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["path"] for line in lines] == files  # every file answered, in order, one line each
    for hostile, good in zip(lines[::2], lines[1::2]):
        assert "models" in good, good
        if "error" in hostile:
            assert hostile["error"].endswith(".") and "\n" not in hostile["error"]
        else:
            assert hostile["speech"] in (True, False)
    refused = {line["path"].rsplit("/", 1)[-1][:-4] for line in lines if "error" in line}
    assert {"huge-finite", "int16-values-as-float", "nan", "inf"} <= refused
    assert not {"hot-float", "dc-offset", "64-channels", "subnormal-under-speech"} & refused
    assert status == 1


def test_the_page_gives_each_hostile_upload_one_line_or_an_analysis(example_clip):
    at = AppTest.from_file(str(PAGES / "upload.py"), default_timeout=TIMEOUT_S).run()
    good = (example_clip.name, example_clip.read_bytes(), "audio/flac")
    names = list(CASES)
    for first in range(0, len(names), 3):  # three hostile files and a good one per drop, as a visitor would
        batch = [(f"{name}.wav", CASES[name], "audio/wav") for name in names[first:first + 3]]
        at.file_uploader[0].set_value([*batch, good]).run()
        assert not at.exception, [e.value for e in at.exception]
        errors = [e.value for e in at.error]
        assert all("\n" not in e and "Traceback" not in e for e in errors)
        no_speech = [w.value for w in at.warning if "No speech detected" in w.value]
        kept = [clip.name for clip in at.session_state["upload_results"]]
        assert kept[:len(batch) + 1] == [name for name, _, _ in [*batch, good]]
        # Every clip the page keeps shows exactly one thing: a line, no speech, or its verdicts.
        assert len(verdicts(at)) + len(no_speech) + len(errors) == len(kept), (errors, no_speech)
        assert not any(example_clip.name in e for e in errors)  # the good file is always analysed


def test_a_clip_the_models_fail_on_is_one_line_and_the_others_keep_their_results(monkeypatch, example_clip,
                                                                               tmp_path, capsys):
    import ser.inference
    import ui.analysis

    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, speech_like(2.5, seed=SEED + 1), SR)  # audio no other test analyses: nothing cached
    doomed = len(speech_like(2.5, seed=SEED + 1))
    analyse = ser.inference.analyse

    def failing_on_quiet(audio, *args, **kwargs):
        if len(audio) == doomed:
            raise ValueError("array must not contain infs or NaNs")
        return analyse(audio, *args, **kwargs)

    monkeypatch.setattr(ui.analysis, "analyse", failing_on_quiet)
    at = AppTest.from_file(str(PAGES / "upload.py"), default_timeout=TIMEOUT_S).run()
    at.file_uploader[0].set_value([("quiet.wav", quiet.read_bytes(), "audio/wav"),
                                   (example_clip.name, example_clip.read_bytes(), "audio/flac")]).run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert error == ("quiet.wav cannot be analysed: The models failed on this clip (ValueError); "
                     "other clips still work.")
    assert len(verdicts(at)) == 1
    at.run()  # a rerun shows the same line and the same result: the failure is not retried
    assert [e.value for e in at.error] == [error] and len(verdicts(at)) == 1

    monkeypatch.setattr(ser.inference, "analyse", failing_on_quiet)
    assert main(["predict", str(quiet), str(example_clip)]) == 1
    first, second = map(json.loads, capsys.readouterr().out.splitlines())
    assert first["error"] == "The analysis failed (ValueError: array must not contain infs or NaNs)."
    assert "models" in second

"""Audio in: every supported format decodes to 16 kHz mono, every bad input gets a clear AudioError."""

import io
import struct
import time
import tracemalloc

import av
import numpy as np
import pytest
import soundfile as sf
import soxr

from ser import audio, config

SR = config.SAMPLE_RATE
TONE_HZ = 440.0
TONE_S = 2.0
PEAK_TOLERANCE_HZ = 2.0  # the FFT bin of a 2 s clip is 0.5 Hz wide
# Lossy codecs add encoder delay and pad to whole frames (AAC: 1024-sample priming
# plus the last frame, measured 33792 samples for 32000), so lengths are checked loosely.
CODEC_LENGTH_TOLERANCE_S = 0.15
STUDIO_LIMIT_S = 120.0  # the default MAX_DURATION_S, fixed here so $SER_MAX_DURATION_S cannot move it
HOURS_RATE = 8_000  # 2 h of 8 kHz mono silence: a 0.2 MB FLAC written in ~0.5 s
HEADER_REFUSAL_S = 0.5  # refusing from the header measured ~1 ms; generous for a shared machine
FLAC_TOTAL_OFFSET = 18  # 'fLaC', block header, then 10 bytes of STREAMINFO before the sample count


def tone(duration_s: float = TONE_S, rate: int = SR, freq_hz: float = TONE_HZ) -> np.ndarray:
    """A float32 sine at -10 dBFS, shape ``(n_samples,)``."""
    t = np.arange(int(duration_s * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def soundfile_bytes(samples: np.ndarray, rate: int = SR, fmt: str = "WAV",
                    subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def av_bytes(samples: np.ndarray, container: str, codec: str, codec_rate: int, rate: int = SR) -> bytes:
    """``samples`` (float32 mono at ``rate``) encoded by FFmpeg through PyAV.

    PyAV resamples and re-frames the input to what the encoder takes (Opus runs at 48 kHz).
    """
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=codec_rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples[None], format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def two_hour_flac() -> bytes:
    """A FLAC holding 2 h of 8 kHz mono digital silence (~0.2 MB)."""
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", HOURS_RATE, 1, format="FLAC", subtype="PCM_16") as out:
        ten_minutes = np.zeros(600 * HOURS_RATE, np.int16)
        for _ in range(12):
            out.write(ten_minutes)
    return buffer.getvalue()


def without_length(flac: bytes) -> bytes:
    """``flac`` with STREAMINFO's total sample count set to 0, "unknown", as a streaming encoder leaves it."""
    data = bytearray(flac)
    field = slice(FLAC_TOTAL_OFFSET, FLAC_TOTAL_OFFSET + 8)
    data[field] = (int.from_bytes(data[field], "big") & ~((1 << 36) - 1)).to_bytes(8, "big")
    return bytes(data)


def refusal(data: bytes, max_duration_s: float) -> tuple[audio.TooLongError, float, int]:
    """The ``TooLongError`` ``load_audio`` raises for ``data``, the seconds it took and the
    peak bytes numpy (and Python) allocated meanwhile."""
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(audio.TooLongError) as err:
        audio.load_audio(data, max_duration_s)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return err.value, elapsed, peak


def peak_hz(samples: np.ndarray) -> float:
    """Frequency in Hz of the largest FFT magnitude of 16 kHz audio."""
    return float(np.argmax(np.abs(np.fft.rfft(samples))) * SR / len(samples))


def assert_tone(decoded: np.ndarray, length_tolerance_s: float = 0.0) -> None:
    assert decoded.dtype == np.float32 and decoded.ndim == 1
    assert abs(len(decoded) - TONE_S * SR) <= length_tolerance_s * SR
    assert abs(peak_hz(decoded) - TONE_HZ) < PEAK_TOLERANCE_HZ


# --- formats ----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, subtype",
                         [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("FLAC", None), ("OGG", "VORBIS")])
def test_soundfile_formats(fmt, subtype):
    assert_tone(audio.load_audio(soundfile_bytes(tone(), fmt=fmt, subtype=subtype)))


@pytest.mark.parametrize("container, codec, codec_rate", [
    ("mp3", "mp3", SR),  # the av wheel's FFmpeg has libmp3lame
    ("ipod", "aac", SR),  # .m4a
    ("webm", "libopus", 48_000),
])
def test_ffmpeg_formats(container, codec, codec_rate):
    data = av_bytes(tone(), container, codec, codec_rate)
    assert_tone(audio.load_audio(data), CODEC_LENGTH_TOLERANCE_S)


def test_path_and_file_object_load_like_bytes(tmp_path):
    data = soundfile_bytes(tone(), fmt="FLAC")
    path = tmp_path / "tone.flac"
    path.write_bytes(data)
    expected = audio.load_audio(data)
    np.testing.assert_array_equal(audio.load_audio(path), expected)
    np.testing.assert_array_equal(audio.load_audio(str(path)), expected)
    np.testing.assert_array_equal(audio.load_audio(io.BytesIO(data)), expected)


def test_48k_stereo_is_downmixed_and_resampled():
    left = tone(rate=48_000)
    stereo = np.stack([left, 0.5 * left], axis=1)  # in phase: the mean keeps the tone
    decoded = audio.load_audio(soundfile_bytes(stereo, rate=48_000, subtype="PCM_16"))
    assert_tone(decoded)  # exactly 2 s of samples at 16 kHz
    rms = float(np.sqrt(np.mean(decoded[SR // 4 : -SR // 4] ** 2)))
    assert rms == pytest.approx(0.75 * 0.3 / np.sqrt(2), rel=0.01)


def test_block_by_block_resampling_matches_one_shot():
    """Streaming through soxr in blocks gives the samples one whole-clip resample gives."""
    left = tone(3.0, rate=48_000)  # 144000 frames: three blocks of stereo
    stereo = np.stack([left, 0.5 * left], axis=1)
    expected = soxr.resample(stereo.mean(axis=1), 48_000, SR, quality="HQ")
    decoded = audio.load_audio(soundfile_bytes(stereo, rate=48_000, subtype="FLOAT"))
    np.testing.assert_allclose(decoded, expected, atol=1e-6)


def test_int16_wav_is_scaled_to_plus_minus_one():
    samples = np.array([0, 16384, -16384, -32768, 32767, 1] * 3000, dtype=np.int16)  # no DC to remove
    decoded = audio.load_audio(soundfile_bytes(samples, subtype="PCM_16"))
    assert decoded[:5].tolist() == pytest.approx([0.0, 0.5, -0.5, -1.0, 32767 / 32768])


# --- errors -------------------------------------------------------------------------------
def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(audio.AudioError, match="missing.wav does not exist"):
        audio.load_audio(tmp_path / "missing.wav")


@pytest.mark.parametrize("data", [
    np.random.default_rng(0).bytes(5000),
    b"Dear diary, this is a text file and not a recording.\n" * 20,
    b"\x89PNG\r\n\x1a\n" + bytes(200),
], ids=["random bytes", "text", "png header"])
def test_not_audio(data):
    with pytest.raises(audio.NotAudioError) as err:
        audio.load_audio(data)
    assert "audio" in str(err.value)


def test_empty_bytes():
    with pytest.raises(audio.EmptyAudioError, match="empty"):
        audio.load_audio(b"")


def test_truncated_flac_is_reported_as_damaged():
    data = soundfile_bytes(tone(), fmt="FLAC")
    with pytest.raises(audio.NotAudioError, match="damaged"):
        audio.load_audio(data[: len(data) // 2])


def test_wav_header_without_samples():
    """A WAV cut right after its 44-byte header, and a WAV written with no samples."""
    for data in (soundfile_bytes(tone(), subtype="PCM_16")[:44], soundfile_bytes(np.zeros(0, np.float32))):
        with pytest.raises(audio.EmptyAudioError, match="no audio samples"):
            audio.load_audio(data)


def test_too_short():
    with pytest.raises(audio.TooShortError, match=r"0\.30 s long; at least 0\.5 s"):
        audio.load_audio(soundfile_bytes(tone(0.3)))


def test_too_long():
    with pytest.raises(audio.TooLongError, match="is 2 s long; the studio analyses up to 1 s"):
        audio.load_audio(soundfile_bytes(tone()), max_duration_s=1.0)


# --- long input: refused early, at a bounded cost -----------------------------------------------
@pytest.fixture(scope="module")
def hours_flac() -> bytes:
    return two_hour_flac()


def test_hours_are_refused_from_the_header_without_decoding(hours_flac, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("samples were decoded")

    monkeypatch.setattr(sf.SoundFile, "read", no_decoding)
    err, elapsed, peak = refusal(hours_flac, STUDIO_LIMIT_S)
    assert str(err) == ("This recording is 2 h 0 min long; the studio analyses up to 2 min. "
                        "Trim it and try again.")
    assert elapsed < HEADER_REFUSAL_S
    assert peak < 100_000  # bytes (measured ~4 kB): the header alone is read


def test_hours_without_a_stated_length_stop_at_the_limit(hours_flac):
    """With no length in the header, decoding stops just past the limit: memory stays within a
    few times that of the longest clip allowed, not the 460 MB that 2 h at 16 kHz would take."""
    err, _, peak = refusal(without_length(hours_flac), STUDIO_LIMIT_S)
    assert str(err) == ("This recording is longer than 2 min, the most the studio analyses. "
                        "Trim it and try again.")
    limit_bytes = STUDIO_LIMIT_S * SR * np.dtype(np.float32).itemsize
    assert peak < 3 * limit_bytes


def test_ffmpeg_stream_stops_decoding_at_the_limit(monkeypatch):
    """A webm states no length: FFmpeg decodes frame by frame and stops just past the limit."""
    decoded = []
    av_blocks = audio._av_blocks

    def counted(container):
        for block in av_blocks(container):
            decoded.append(len(block))
            yield block

    monkeypatch.setattr(audio, "_av_blocks", counted)
    with pytest.raises(audio.TooLongError, match="longer than 1 s"):
        audio.load_audio(av_bytes(tone(), "webm", "libopus", 48_000), max_duration_s=1.0)
    assert sum(decoded) <= 1.1 * SR  # of 2 s: one 20 ms Opus frame past the limit


@pytest.mark.parametrize("claim", ["unknown", "4 GiB"])
def test_files_with_a_wrong_or_missing_length_still_load(claim):
    """A FLAC with no sample count, and a WAV whose data size says 4 GiB (as recorders that
    stream leave them): what is there is read, and nothing is refused for the claim."""
    if claim == "unknown":
        data = without_length(soundfile_bytes(tone(), fmt="FLAC"))
    else:
        wav = bytearray(soundfile_bytes(tone(), subtype="PCM_16"))
        wav[40:44] = struct.pack("<I", 0xFFFFFFFF)  # the data chunk's size field
        data = bytes(wav)
    assert_tone(audio.load_audio(data, max_duration_s=3.0), CODEC_LENGTH_TOLERANCE_S)


@pytest.mark.parametrize("seconds, spoken", [
    (1.0, "1 s"), (1.5, "1.5 s"), (45.0, "45 s"), (120.0, "2 min"), (150.0, "2 min 30 s"),
    (120.2, "2 min 1 s"), (7200.0, "2 h 0 min"), (5430.0, "1 h 31 min"),
])
def test_spoken_duration(seconds, spoken):
    assert audio.spoken_duration(seconds) == spoken


def test_nan_samples():
    samples = tone()
    samples[100] = np.nan
    with pytest.raises(audio.NotAudioError, match="not numbers"):
        audio.load_audio(soundfile_bytes(samples, subtype="FLOAT"))


@pytest.mark.parametrize("scale", [config.MAX_SAMPLE_PEAK * 1.01 / 0.3, 32767.0, 1e30])
def test_absurdly_loud_float_samples_are_refused(scale):
    with pytest.raises(audio.NotAudioError, match="times full scale"):
        audio.load_audio(soundfile_bytes(tone() * scale, subtype="FLOAT"))


def test_float_samples_past_full_scale_are_clipped_to_it():
    hot = tone() * (config.MAX_SAMPLE_PEAK / 0.3)  # peak exactly at the limit
    loaded = audio.load_audio(soundfile_bytes(hot, subtype="FLOAT"))
    expected = np.clip(hot, -1.0, 1.0)
    assert np.abs(loaded).max() <= 1.0 + 1e-6
    np.testing.assert_allclose(loaded, expected - expected.mean(), atol=1e-6)


def test_subnormal_samples_are_flushed_and_a_dc_offset_removed():
    samples = tone() + np.float32(0.5)
    samples[:SR // 2] = np.float32(1e-40)
    loaded = audio.load_audio(soundfile_bytes(samples, subtype="FLOAT"))
    assert abs(loaded.mean()) < 1e-6
    assert np.all(loaded[:SR // 2] == loaded[0])  # one value: the flushed zeros less the clip's mean
    assert np.ptp(loaded[SR // 2:]) == pytest.approx(np.ptp(tone()), rel=1e-5)


def test_every_error_is_a_value_error_with_a_sentence():
    """The app and the CLI show ``str(err)``: one sentence, never empty."""
    with pytest.raises(ValueError) as err:
        audio.load_audio(b"")
    assert str(err.value).endswith(".")


# --- speech activity ----------------------------------------------------------------------
def test_silence_has_no_speech():
    assert not audio.speech_activity(np.zeros(2 * SR, np.float32)).has_speech


def test_steady_noise_has_no_speech():
    noise = 0.1 * np.random.default_rng(0).standard_normal(3 * SR).astype(np.float32)
    activity = audio.speech_activity(noise)
    assert activity.peak_dbfs > -30  # loud, yet flat
    assert not activity.has_speech


def test_speech_like_signal_has_speech(make_speech):
    speech = make_speech(3.0)
    activity = audio.speech_activity(speech)
    assert activity.has_speech
    assert 0.5 < activity.speech_s < 3.0  # the pauses between syllables are not speech
    assert activity.mask.shape == audio.frame_dbfs(speech).shape


def test_example_clip_has_speech(example_clip):
    assert audio.speech_activity(audio.load_audio(example_clip)).has_speech


def test_speech_span_trims_leading_and_trailing_silence(make_speech):
    speech = make_speech(1.5)
    padded = np.concatenate([np.zeros(SR, np.float32), speech, np.zeros(2 * SR, np.float32)])
    start, end = audio.speech_span(padded, margin_s=0.1)
    assert SR - 0.12 * SR <= start <= SR  # the margin reaches back into the silence
    assert 2.5 * SR - 0.3 * SR <= end <= 2.5 * SR + 0.15 * SR
    assert len(audio.trim_to_speech(padded)) == end - start


def test_speech_span_of_silence_is_the_whole_clip():
    assert audio.speech_span(np.zeros(SR, np.float32)) == (0, SR)


# --- windows ------------------------------------------------------------------------------
@pytest.mark.parametrize("duration_s", [0.5, 4.0, 4.1, 7.3, 10.0, 61.0])
def test_windows_cover_the_clip(duration_s):
    n = int(duration_s * SR)
    spans = audio.windows(n)
    covered = np.zeros(n, bool)
    for start, end in spans:
        assert 0 <= start < end <= n
        assert end - start == min(n, int(config.WINDOW_S * SR))
        covered[start:end] = True
    assert covered.all()
    assert spans[0][0] == 0 and spans[-1][1] == n


def test_message_for_names_the_file_once(tmp_path):
    missing = tmp_path / "missing.wav"
    with pytest.raises(audio.AudioError) as err:
        audio.load_audio(missing)
    assert audio.message_for(missing, err.value) == str(err.value)
    assert audio.message_for("a.wav", audio.TooShortError("Too short.")) == "a.wav: Too short."

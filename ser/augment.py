"""Waveform augmentation for real microphones: training copies of clean clips as a
presenter's laptop mic in a room would record them.

Every function takes float32 16 kHz mono audio of shape ``(n_samples,)`` and
returns float32 of the same shape unless stated. Finite input gives finite output,
its peak within [-1, 1]: a step whose result would pass full scale is scaled
down as a whole (never clipped), so it adds no distortion of its own. Random steps
draw only from the ``numpy.random.Generator`` they are given, so a seed fixes the
result.
"""

from __future__ import annotations

import io

import numpy as np
import scipy.signal
import soxr

from ser import config

SAMPLE_RATE = config.SAMPLE_RATE

# --- noise --------------------------------------------------------------------------
# Power spectral density ~ 1 / f**exponent.
NOISE_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
# Below this the 1/f shapes would pour most of the noise power into inaudible rumble
# and the stated SNR would overstate what a listener (or a model) hears.
NOISE_FLOOR_HZ = config.FMIN_HZ

# --- telephone band and microphone colouring ----------------------------------------
TELEPHONE_BAND_HZ = (300.0, 3400.0)
BAND_LIMIT_ORDER = 8  # steep enough for > 20 dB less power above the band (zero-phase doubles it)
MIC_HIGHPASS_RANGE_HZ = (100.0, 250.0)  # small laptop/phone capsules lose the bass here
MIC_HIGHPASS_ORDER = 2
MIC_EQ_N_BANDS = (1, 3)  # inclusive: a few resonances of the capsule and its casing
MIC_EQ_FREQ_RANGE_HZ = (1_000.0, 6_000.0)
MIC_EQ_GAIN_RANGE_DB = (-6.0, 6.0)
MIC_EQ_Q_RANGE = (0.7, 3.0)

# --- room ---------------------------------------------------------------------------
DIRECT_TO_REVERB_DB = 6.0  # default: the speaker well inside the room's critical distance

# --- codecs -------------------------------------------------------------------------
# codec -> (container, FFmpeg encoder). Both containers record the encoder's priming
# (Ogg's pre-skip, MP3's LAME tag), which FFmpeg's decoders then drop.
CODECS = {"opus": ("ogg", "libopus"), "mp3": ("mp3", "libmp3lame")}
CODEC_BITRATE_BPS = 32_000

# --- random_chain: a presenter's laptop mic in a room -------------------------------
# Probability of each step and what it draws, in the order the steps are applied.
SPEED_PROB = 0.2
SPEED_FACTORS = (0.9, 1.1)
REVERB_PROB = 0.5
RT60_RANGE_S = (0.2, 0.8)
DIRECT_TO_REVERB_RANGE_DB = (0.0, 12.0)
NOISE_PROB = 0.7
SNR_RANGE_DB = (5.0, 30.0)  # colour drawn evenly from NOISE_EXPONENTS
MIC_EQ_PROB = 0.5
BAND_LIMIT_PROB = 0.15  # a telephone band in place of the mic colouring, never both
GAIN_PROB = 0.8
GAIN_RANGE_DB = (-12.0, 6.0)
CODEC_PROB = 0.2  # codec drawn evenly, then one of its bitrates
CODEC_BITRATES_BPS = {"opus": (12_000, 16_000, 24_000, 32_000), "mp3": (32_000, 48_000, 64_000)}


class CodecUnavailableError(RuntimeError):
    """The FFmpeg inside PyAV on this machine has no encoder for the codec asked for."""


def _within_full_scale(audio: np.ndarray) -> np.ndarray:
    """``audio`` as float32, scaled down as a whole only if its peak passes 1."""
    audio = np.asarray(audio, dtype=np.float32)
    peak = float(np.max(np.abs(audio), initial=0.0))
    return audio / np.float32(peak) if peak > 1.0 else audio


def gain(audio: np.ndarray, db: float) -> np.ndarray:
    """``audio`` made ``db`` decibels louder (negative: quieter), amplitude times ``10**(db / 20)``."""
    return _within_full_scale(np.asarray(audio, dtype=np.float32) * np.float32(10.0 ** (db / 20.0)))


def coloured_noise(n_samples: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of unit RMS, float32 of shape ``(n_samples,)``.

    ``colour`` sets the power spectral density: "white" is flat, "pink" falls 3 dB
    and "brown" 6 dB per octave, both levelling off below ``NOISE_FLOOR_HZ``.
    """
    if colour not in NOISE_EXPONENTS:
        raise ValueError(f"colour must be one of {sorted(NOISE_EXPONENTS)}, not {colour!r}.")
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs_hz = np.fft.rfftfreq(n_samples, d=1.0 / SAMPLE_RATE)
    spectrum *= np.maximum(freqs_hz, NOISE_FLOOR_HZ) ** (-NOISE_EXPONENTS[colour] / 2.0)
    noise = np.fft.irfft(spectrum, n=n_samples)
    return (noise / np.sqrt(np.mean(np.square(noise)))).astype(np.float32)


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator,
              colour: str = "white") -> np.ndarray:
    """``audio`` plus ``coloured_noise`` at a signal-to-noise ratio of ``snr_db`` dB.

    The signal power is the mean over the whole clip, pauses included, so the SNR
    during speech is somewhat higher than ``snr_db``. Silence stays silent.
    """
    audio = np.asarray(audio, dtype=np.float32)
    signal_power = float(np.mean(np.square(audio, dtype=np.float64)))
    noise_rms = np.sqrt(signal_power / 10.0 ** (snr_db / 10.0))
    return _within_full_scale(audio + np.float32(noise_rms) * coloured_noise(len(audio), colour, rng))


def room_impulse_response(rt60_s: float, rng: np.random.Generator,
                          direct_to_reverb_db: float = DIRECT_TO_REVERB_DB) -> np.ndarray:
    """A synthetic room: float32 of shape ``(1 + round(rt60_s * SAMPLE_RATE),)``.

    Tap 0 is the direct path (1.0); the rest is Gaussian noise whose energy decays
    by 60 dB over ``rt60_s`` seconds, scaled so that the direct path carries
    ``direct_to_reverb_db`` dB more energy than the whole tail.
    """
    if rt60_s <= 0:
        raise ValueError(f"rt60_s must be positive, not {rt60_s}.")
    n_tail = max(1, round(rt60_s * SAMPLE_RATE))
    t_s = np.arange(1, n_tail + 1) / SAMPLE_RATE
    tail = rng.standard_normal(n_tail) * 10.0 ** (-3.0 * t_s / rt60_s)  # amplitude: half the dB of energy
    tail *= np.sqrt(10.0 ** (-direct_to_reverb_db / 10.0) / np.sum(np.square(tail)))
    return np.concatenate([[1.0], tail]).astype(np.float32)


def reverberate(audio: np.ndarray, rt60_s: float, rng: np.random.Generator,
                direct_to_reverb_db: float = DIRECT_TO_REVERB_DB) -> np.ndarray:
    """``audio`` played in a room with reverberation time ``rt60_s`` seconds.

    Convolved with ``room_impulse_response``; the direct path has no delay, so the
    output stays aligned with the input, and the tail ringing past the end is cut.
    """
    audio = np.asarray(audio, dtype=np.float32)
    rir = room_impulse_response(rt60_s, rng, direct_to_reverb_db)
    return _within_full_scale(scipy.signal.fftconvolve(audio, rir)[: len(audio)])


def band_limit(audio: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """``audio`` kept to the band ``low_hz``..``high_hz`` Hz, e.g. ``TELEPHONE_BAND_HZ``.

    A Butterworth band-pass of order ``BAND_LIMIT_ORDER`` run forwards and
    backwards: zero phase, so nothing moves in time, and twice the attenuation in dB.
    """
    if not 0 < low_hz < high_hz < SAMPLE_RATE / 2:
        raise ValueError(f"Need 0 < low_hz < high_hz < {SAMPLE_RATE / 2:g} Hz, not {low_hz}..{high_hz}.")
    sos = scipy.signal.butter(BAND_LIMIT_ORDER, [low_hz, high_hz], btype="bandpass",
                              fs=SAMPLE_RATE, output="sos")
    return _within_full_scale(scipy.signal.sosfiltfilt(sos, np.asarray(audio, dtype=np.float32)))


def draw_mic_eq(rng: np.random.Generator) -> dict:
    """Random ``equalise`` settings for a laptop or phone microphone, JSON-able.

    ``{"highpass_hz": float, "bands": [{"freq_hz": float, "gain_db": float, "q": float}, ...]}``
    """
    n_bands = int(rng.integers(MIC_EQ_N_BANDS[0], MIC_EQ_N_BANDS[1] + 1))
    log_freq_range = np.log(MIC_EQ_FREQ_RANGE_HZ)
    return {
        "highpass_hz": float(rng.uniform(*MIC_HIGHPASS_RANGE_HZ)),
        # Log-uniform: resonances are as likely in each octave, not crowded at the top.
        "bands": [{"freq_hz": float(np.exp(rng.uniform(*log_freq_range))),
                   "gain_db": float(rng.uniform(*MIC_EQ_GAIN_RANGE_DB)),
                   "q": float(rng.uniform(*MIC_EQ_Q_RANGE))} for _ in range(n_bands)],
    }


def _peaking_sos(freq_hz: float, gain_db: float, q: float) -> np.ndarray:
    """One peaking-EQ biquad (RBJ Audio EQ Cookbook) as a ``(1, 6)`` sos row."""
    amplitude = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * freq_hz / SAMPLE_RATE
    alpha = np.sin(w0) / (2.0 * q)
    b = [1.0 + alpha * amplitude, -2.0 * np.cos(w0), 1.0 - alpha * amplitude]
    a = [1.0 + alpha / amplitude, -2.0 * np.cos(w0), 1.0 - alpha / amplitude]
    return np.concatenate([b, a])[None, :] / a[0]


def equalise(audio: np.ndarray, highpass_hz: float, bands: list[dict]) -> np.ndarray:
    """``audio`` through a Butterworth high-pass at ``highpass_hz`` Hz and peaking EQ ``bands``.

    Each band is ``{"freq_hz", "gain_db", "q"}``: ``gain_db`` dB at ``freq_hz`` Hz,
    bandwidth set by ``q``. Filtered causally, as a real microphone is: its phase
    shifts are part of the colouring.
    """
    highpass = scipy.signal.butter(MIC_HIGHPASS_ORDER, highpass_hz, btype="highpass",
                                   fs=SAMPLE_RATE, output="sos")
    sos = np.vstack([highpass, *(_peaking_sos(**band) for band in bands)])
    return _within_full_scale(scipy.signal.sosfilt(sos, np.asarray(audio, dtype=np.float32)))


def mic_eq(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``audio`` coloured like a random laptop or phone microphone (``draw_mic_eq``, ``equalise``)."""
    return equalise(audio, **draw_mic_eq(rng))


def codec_round_trip(audio: np.ndarray, codec: str = "opus",
                     bitrate_bps: int = CODEC_BITRATE_BPS) -> np.ndarray:
    """``audio`` encoded as ``codec`` ("opus" or "mp3") at ``bitrate_bps`` bits/s and decoded, in memory.

    The output is time-aligned with the input: FFmpeg drops the encoder's priming
    samples that the container records (measured: no lag at 16-64 kbps, 2 samples
    for Opus at 8 kbps), so no cross-correlation search is needed. Opus decodes at
    48 kHz and is resampled back to 16 kHz; the end is trimmed or zero-padded to
    the input's length, undoing the codec's padding to whole frames. The level is
    the codec's own: LAME's MP3 comes back 0.45 dB quieter (measured at 32-128 kbps).

    Raises ``ValueError`` for another codec and ``CodecUnavailableError`` when
    PyAV's FFmpeg lacks the encoder.
    """
    import av  # imported here: most augmented copies never go through a codec

    if codec not in CODECS:
        raise ValueError(f"codec must be one of {sorted(CODECS)}, not {codec!r}.")
    container_format, encoder = CODECS[codec]
    if encoder not in av.codecs_available:
        raise CodecUnavailableError(
            f"This PyAV build's FFmpeg has no {encoder} encoder, so {codec} cannot be simulated here; "
            f"use another codec or a PyAV wheel built with {encoder}."
        )
    audio = np.asarray(audio, dtype=np.float32)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_format) as container:
        stream = container.add_stream(encoder, rate=SAMPLE_RATE, layout="mono")
        stream.bit_rate = bitrate_bps
        frame = av.AudioFrame.from_ndarray(audio[None, :], format="flt", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:  # PyAV re-frames to the encoder's size
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        stream = container.streams.audio[0]
        decoded = np.concatenate([frame.to_ndarray().reshape(-1) for frame in container.decode(stream)])
        decoded_rate = stream.codec_context.sample_rate
    if decoded_rate != SAMPLE_RATE:
        decoded = soxr.resample(decoded, decoded_rate, SAMPLE_RATE, quality="HQ")
    decoded = decoded[: len(audio)]
    return _within_full_scale(np.pad(decoded, (0, len(audio) - len(decoded))))


def speed_perturb(audio: np.ndarray, factor: float) -> np.ndarray:
    """``audio`` played ``factor`` times as fast, float32 of shape ``(round(n_samples / factor),)``.

    Duration and pitch change together, as in Kaldi's speed perturbation (sox
    ``speed``): the samples are read as if taken at ``factor * SAMPLE_RATE`` Hz and
    resampled to 16 kHz with soxr.
    """
    if factor <= 0:
        raise ValueError(f"factor must be positive, not {factor}.")
    audio = np.asarray(audio, dtype=np.float32)
    return _within_full_scale(soxr.resample(audio, factor * SAMPLE_RATE, SAMPLE_RATE, quality="HQ"))


def draw_chain(rng: np.random.Generator) -> dict:
    """A random ``apply_chain`` recipe: step name -> that step's keyword arguments, JSON-able.

    Steps are drawn with the module's ``*_PROB`` constants from its ranges, and
    appear in the order they are applied; a step not drawn is absent.
    """
    chain = {}
    if rng.random() < SPEED_PROB:
        chain["speed"] = {"factor": float(rng.choice(SPEED_FACTORS))}
    if rng.random() < REVERB_PROB:
        chain["reverb"] = {"rt60_s": float(rng.uniform(*RT60_RANGE_S)),
                           "direct_to_reverb_db": float(rng.uniform(*DIRECT_TO_REVERB_RANGE_DB))}
    if rng.random() < NOISE_PROB:
        chain["noise"] = {"snr_db": float(rng.uniform(*SNR_RANGE_DB)),
                          "colour": str(rng.choice(list(NOISE_EXPONENTS)))}
    microphone = rng.random()
    if microphone < MIC_EQ_PROB:
        chain["mic_eq"] = draw_mic_eq(rng)
    elif microphone < MIC_EQ_PROB + BAND_LIMIT_PROB:
        chain["band_limit"] = {"low_hz": TELEPHONE_BAND_HZ[0], "high_hz": TELEPHONE_BAND_HZ[1]}
    if rng.random() < GAIN_PROB:
        chain["gain"] = {"db": float(rng.uniform(*GAIN_RANGE_DB))}
    if rng.random() < CODEC_PROB:
        codec = str(rng.choice(list(CODEC_BITRATES_BPS)))
        chain["codec"] = {"codec": codec, "bitrate_bps": int(rng.choice(CODEC_BITRATES_BPS[codec]))}
    return chain


def apply_chain(audio: np.ndarray, chain: dict, rng: np.random.Generator) -> np.ndarray:
    """``audio`` through the steps ``chain`` names (see ``draw_chain``), in a fixed order.

    The order is speed, reverb, noise, mic_eq or band_limit, gain, codec: the
    speaker's tempo first, so the room and microphone are not sped up with it; room
    noise before the microphone, which colours it along with the speech (``snr_db``
    holds where the noise enters); the recording level, then the transmission.
    ``rng`` draws the noise and the room. The output has the input's shape unless
    the chain has a speed step.
    """
    effects = {
        "speed": speed_perturb,
        "reverb": lambda x, **kwargs: reverberate(x, rng=rng, **kwargs),
        "noise": lambda x, **kwargs: add_noise(x, rng=rng, **kwargs),
        "mic_eq": equalise,
        "band_limit": band_limit,
        "gain": gain,
        "codec": codec_round_trip,
    }
    unknown = set(chain) - set(effects)
    if unknown:
        raise ValueError(f"Unknown augmentation steps {sorted(unknown)}; known: {list(effects)}.")
    audio = np.array(audio, dtype=np.float32)  # a copy, even when no step is drawn
    for name, effect in effects.items():
        if name in chain:
            audio = effect(audio, **chain[name])
    return audio


def random_chain(audio: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """``audio`` as a presenter's laptop microphone in a room might record it, and what was done.

    Returns ``(augmented, chain)``: float32 audio (shape ``(n_samples,)``, or
    ``(round(n_samples / factor),)`` with a speed step) and the JSON-able recipe of
    ``draw_chain`` that ``apply_chain`` followed, for logging. The same ``rng``
    state gives the same result.
    """
    chain = draw_chain(rng)
    return apply_chain(audio, chain, rng), chain

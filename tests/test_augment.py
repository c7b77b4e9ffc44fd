"""Waveform augmentation: each effect measured to do what it states, every output bounded and seeded."""

import json

import numpy as np
import pytest
import scipy.signal

from ser import augment, config

SR = config.SAMPLE_RATE
SNR_TOLERANCE_DB = 0.5
RT60_TOLERANCE = 0.1  # relative: one noise realisation's decay curve wobbles a few per cent


def power_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))


def band_power_db(x: np.ndarray, low_hz: float, high_hz: float) -> float:
    """Mean power spectral density (Welch) in ``low_hz``..``high_hz`` Hz, in dB."""
    freqs_hz, psd = scipy.signal.welch(x, SR, nperseg=1024)
    return 10 * np.log10(np.mean(psd[(freqs_hz >= low_hz) & (freqs_hz <= high_hz)]))


def sine(freq_hz: float, duration_s: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(duration_s * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def white(duration_s: float = 2.0, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(duration_s * SR))).astype(np.float32)


def check_bounded(out: np.ndarray, n_samples: int) -> None:
    assert out.dtype == np.float32
    assert out.shape == (n_samples,)
    assert np.all(np.isfinite(out))
    assert np.max(np.abs(out)) <= 1.0


def test_gain_is_exact_and_scales_down_only_past_full_scale(make_speech):
    speech = make_speech(1.0)  # peak ~0.26: +6 dB still fits
    for db in (-12.0, 0.0, 6.0):
        np.testing.assert_allclose(augment.gain(speech, db), speech * 10 ** (db / 20), rtol=1e-6)
    loud = augment.gain(speech, 40.0)
    check_bounded(loud, len(speech))
    assert np.max(np.abs(loud)) == 1.0
    np.testing.assert_allclose(loud, speech / np.max(np.abs(speech)), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("colour", ["white", "pink", "brown"])
@pytest.mark.parametrize("snr_db", [5.0, 20.0])
def test_add_noise_hits_the_stated_snr(make_speech, colour, snr_db):
    speech = make_speech(2.0)
    noisy = augment.add_noise(speech, snr_db, np.random.default_rng(1), colour=colour)
    check_bounded(noisy, len(speech))
    measured_db = power_db(speech) - power_db(noisy - speech)
    assert abs(measured_db - snr_db) < SNR_TOLERANCE_DB


@pytest.mark.parametrize("colour, slope_db_per_octave", [("white", 0.0), ("pink", -3.0), ("brown", -6.0)])
def test_noise_colours_have_their_spectral_slope(colour, slope_db_per_octave):
    noise = augment.coloured_noise(4 * SR, colour, np.random.default_rng(2))
    assert noise.dtype == np.float32
    assert np.sqrt(np.mean(np.square(noise))) == pytest.approx(1.0, rel=1e-4)
    # The two bands are two octaves apart.
    measured = band_power_db(noise, 2000, 4000) - band_power_db(noise, 500, 1000)
    assert measured == pytest.approx(2 * slope_db_per_octave, abs=1.0)


def test_noise_on_silence_and_on_a_full_scale_clip():
    silence = np.zeros(SR, np.float32)
    np.testing.assert_array_equal(augment.add_noise(silence, 10.0, np.random.default_rng(0)), silence)
    full_scale = sine(440.0, amplitude=1.0)
    check_bounded(augment.add_noise(full_scale, 0.0, np.random.default_rng(0)), len(full_scale))


def test_unknown_noise_colour_is_refused():
    with pytest.raises(ValueError, match="colour"):
        augment.coloured_noise(100, "purple", np.random.default_rng(0))


def schroeder_rt60_s(rir: np.ndarray) -> float:
    """RT60 from the tail's energy decay curve: the -5..-25 dB slope (T20) extended to 60 dB."""
    tail = rir[1:].astype(np.float64)
    decay = np.cumsum(np.square(tail)[::-1])[::-1]
    decay_db = 10 * np.log10(decay / decay[0])
    fit = (decay_db <= -5) & (decay_db >= -25)
    slope_db_per_s = np.polyfit(np.flatnonzero(fit) / SR, decay_db[fit], 1)[0]
    return -60.0 / slope_db_per_s


@pytest.mark.parametrize("rt60_s", [0.2, 0.5, 0.8])
def test_room_impulse_response_decays_at_the_stated_rt60(rt60_s):
    rir = augment.room_impulse_response(rt60_s, np.random.default_rng(3), direct_to_reverb_db=4.0)
    assert rir.dtype == np.float32
    assert len(rir) == 1 + round(rt60_s * SR)
    assert rir[0] == 1.0
    assert schroeder_rt60_s(rir) == pytest.approx(rt60_s, rel=RT60_TOLERANCE)
    assert 10 * np.log10(1.0 / np.sum(np.square(rir[1:], dtype=np.float64))) == pytest.approx(4.0, abs=0.01)


def test_reverberate_convolves_in_place_and_keeps_the_length():
    click = np.zeros(SR, np.float32)
    click[1000] = 0.5
    out = augment.reverberate(click, 0.3, np.random.default_rng(4))
    rir = augment.room_impulse_response(0.3, np.random.default_rng(4))
    check_bounded(out, len(click))
    np.testing.assert_allclose(out[:1000], 0.0, atol=1e-6)  # nothing before the direct sound
    np.testing.assert_allclose(out[1000:1000 + len(rir)], 0.5 * rir, atol=1e-6)
    np.testing.assert_allclose(out[1000 + len(rir):], 0.0, atol=1e-6)


def test_band_limit_removes_what_is_outside_the_band():
    noise = white()
    low_hz, high_hz = augment.TELEPHONE_BAND_HZ
    out = augment.band_limit(noise, low_hz, high_hz)
    check_bounded(out, len(noise))
    freqs_hz, before = scipy.signal.welch(noise, SR, nperseg=1024)
    _, after = scipy.signal.welch(out, SR, nperseg=1024)
    above = freqs_hz >= high_hz
    assert 10 * np.log10(after[above].sum() / before[above].sum()) < -20
    below = freqs_hz <= low_hz * 2 / 3
    assert 10 * np.log10(after[below].sum() / before[below].sum()) < -20
    assert band_power_db(out, 500, 3000) == pytest.approx(band_power_db(noise, 500, 3000), abs=0.5)


def test_band_limit_is_zero_phase():
    tone = sine(1000.0)
    out = augment.band_limit(tone, *augment.TELEPHONE_BAND_HZ)
    middle = slice(SR // 4, 3 * SR // 4)  # away from the edges' start-up
    np.testing.assert_allclose(out[middle], tone[middle], atol=0.01 * 0.3)


def test_band_limit_refuses_an_impossible_band():
    with pytest.raises(ValueError):
        augment.band_limit(white(0.1), 3400.0, 300.0)


@pytest.mark.parametrize("gain_db", [-6.0, 6.0])
def test_equalise_band_gain_at_its_centre(gain_db):
    tone = sine(2000.0, amplitude=0.1)
    out = augment.equalise(tone, 100.0, [{"freq_hz": 2000.0, "gain_db": gain_db, "q": 1.0}])
    steady = slice(SR // 10, None)
    assert power_db(out[steady]) - power_db(tone[steady]) == pytest.approx(gain_db, abs=0.2)


def test_equalise_high_pass_cuts_the_bass():
    hum = sine(50.0)
    out = augment.equalise(hum, 200.0, [])
    steady = slice(SR // 4, None)
    assert power_db(out[steady]) - power_db(hum[steady]) < -20


def test_mic_eq_draws_within_the_configured_ranges():
    rng = np.random.default_rng(5)
    for _ in range(200):
        params = augment.draw_mic_eq(rng)
        assert augment.MIC_HIGHPASS_RANGE_HZ[0] <= params["highpass_hz"] <= augment.MIC_HIGHPASS_RANGE_HZ[1]
        assert augment.MIC_EQ_N_BANDS[0] <= len(params["bands"]) <= augment.MIC_EQ_N_BANDS[1]
        for band in params["bands"]:
            assert augment.MIC_EQ_FREQ_RANGE_HZ[0] <= band["freq_hz"] <= augment.MIC_EQ_FREQ_RANGE_HZ[1]
            assert augment.MIC_EQ_GAIN_RANGE_DB[0] <= band["gain_db"] <= augment.MIC_EQ_GAIN_RANGE_DB[1]
            assert augment.MIC_EQ_Q_RANGE[0] <= band["q"] <= augment.MIC_EQ_Q_RANGE[1]


SEEDED = {  # every random effect, called with a seed
    "add_noise": lambda x, rng: augment.add_noise(x, 10.0, rng, colour="pink"),
    "reverberate": lambda x, rng: augment.reverberate(x, 0.5, rng),
    "mic_eq": augment.mic_eq,
}


@pytest.mark.parametrize("name", SEEDED)
def test_random_effects_are_bounded_and_fixed_by_the_seed(make_speech, name):
    effect = SEEDED[name]
    loud = make_speech(1.0) / 0.26  # peak ~1: any added energy must be scaled back
    first = effect(loud, np.random.default_rng(7))
    check_bounded(first, len(loud))
    np.testing.assert_array_equal(first, effect(loud, np.random.default_rng(7)))
    assert not np.array_equal(first, effect(loud, np.random.default_rng(8)))


def lag_samples(reference: np.ndarray, delayed: np.ndarray, max_lag: int = 800) -> int:
    """How many samples ``delayed`` lags ``reference`` (negative: leads), by cross-correlation."""
    lags = np.arange(-max_lag, max_lag + 1)
    middle = slice(max_lag, len(reference) - max_lag)
    scores = [np.dot(reference[middle], np.roll(delayed, -lag)[middle]) for lag in lags]
    return int(lags[np.argmax(scores)])


@pytest.mark.parametrize("codec", ["opus", "mp3"])
def test_codec_round_trip_is_aligned_and_keeps_the_length(make_speech, codec):
    speech = make_speech(1.2345)  # not a whole number of codec frames
    out = augment.codec_round_trip(speech, codec, bitrate_bps=32_000)
    check_bounded(out, len(speech))
    assert lag_samples(speech, out) == 0
    assert np.corrcoef(speech, out)[0, 1] > 0.9


def test_codec_bitrate_is_applied(make_speech):
    speech = make_speech(1.0)
    error_db = {bitrate: power_db(augment.codec_round_trip(speech, "opus", bitrate) - speech)
                for bitrate in (8_000, 64_000)}
    assert error_db[8_000] > error_db[64_000] + 10


def test_codec_round_trip_of_a_full_scale_clip_stays_within_full_scale(make_speech):
    loud = make_speech(1.0) / 0.26
    for codec in augment.CODECS:
        check_bounded(augment.codec_round_trip(loud, codec), len(loud))


def test_codec_round_trip_names_what_is_missing(monkeypatch):
    with pytest.raises(ValueError, match="codec"):
        augment.codec_round_trip(white(0.5), "aac")
    monkeypatch.setitem(augment.CODECS, "opus", ("ogg", "libopus_not_built"))
    with pytest.raises(augment.CodecUnavailableError, match="libopus_not_built"):
        augment.codec_round_trip(white(0.5), "opus")


def peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / SR)[np.argmax(spectrum)])


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturb_changes_duration_and_pitch_by_the_factor(factor):
    tone = sine(1000.0, duration_s=2.0)
    out = augment.speed_perturb(tone, factor)
    check_bounded(out, round(len(tone) / factor))
    assert peak_hz(out) == pytest.approx(1000.0 * factor, abs=2.0)  # bins are 0.5-0.6 Hz wide


def test_draw_chain_follows_the_configured_probabilities():
    rng = np.random.default_rng(10)
    chains = [augment.draw_chain(rng) for _ in range(4000)]
    expected = {"speed": augment.SPEED_PROB, "reverb": augment.REVERB_PROB, "noise": augment.NOISE_PROB,
                "mic_eq": augment.MIC_EQ_PROB, "band_limit": augment.BAND_LIMIT_PROB,
                "gain": augment.GAIN_PROB, "codec": augment.CODEC_PROB}
    for step, probability in expected.items():
        share = np.mean([step in chain for chain in chains])
        assert share == pytest.approx(probability, abs=4 * np.sqrt(probability * (1 - probability) / 4000))
    assert not any("mic_eq" in chain and "band_limit" in chain for chain in chains)
    for chain in chains:
        assert list(chain) == [step for step in expected if step in chain]  # listed in the order applied
        if "reverb" in chain:
            assert augment.RT60_RANGE_S[0] <= chain["reverb"]["rt60_s"] <= augment.RT60_RANGE_S[1]
        if "noise" in chain:
            assert augment.SNR_RANGE_DB[0] <= chain["noise"]["snr_db"] <= augment.SNR_RANGE_DB[1]
        if "gain" in chain:
            assert augment.GAIN_RANGE_DB[0] <= chain["gain"]["db"] <= augment.GAIN_RANGE_DB[1]
        if "speed" in chain:
            assert chain["speed"]["factor"] in augment.SPEED_FACTORS
        if "codec" in chain:
            assert chain["codec"]["bitrate_bps"] in augment.CODEC_BITRATES_BPS[chain["codec"]["codec"]]


def test_apply_chain_is_the_steps_in_order(make_speech):
    speech = make_speech(1.0)
    chain = {"gain": {"db": -6.0}, "band_limit": {"low_hz": 300.0, "high_hz": 3400.0}}  # listed out of order
    expected = augment.gain(augment.band_limit(speech, 300.0, 3400.0), -6.0)
    np.testing.assert_array_equal(augment.apply_chain(speech, chain, np.random.default_rng(0)), expected)
    with pytest.raises(ValueError, match="echo"):
        augment.apply_chain(speech, {"echo": {}}, np.random.default_rng(0))


def test_apply_chain_runs_every_step(make_speech):
    rng = np.random.default_rng(11)
    chain = {"speed": {"factor": 1.1}, "reverb": {"rt60_s": 0.5, "direct_to_reverb_db": 3.0},
             "noise": {"snr_db": 5.0, "colour": "brown"}, "mic_eq": augment.draw_mic_eq(rng),
             "gain": {"db": 6.0}, "codec": {"codec": "opus", "bitrate_bps": 16_000}}
    speech = make_speech(1.0) / 0.26
    check_bounded(augment.apply_chain(speech, chain, rng), round(len(speech) / 1.1))


def test_random_chain_is_bounded_logged_and_fixed_by_the_seed(make_speech):
    speech = make_speech(1.0)
    for seed in range(12):
        out, chain = augment.random_chain(speech, np.random.default_rng(seed))
        factor = chain.get("speed", {}).get("factor", 1.0)
        check_bounded(out, round(len(speech) / factor))
        assert json.loads(json.dumps(chain)) == chain
        again, same_chain = augment.random_chain(speech, np.random.default_rng(seed))
        np.testing.assert_array_equal(out, again)
        assert same_chain == chain
    first, _ = augment.random_chain(speech, np.random.default_rng(0))
    assert not np.array_equal(first, augment.random_chain(speech, np.random.default_rng(1))[0])

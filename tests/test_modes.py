"""Reading modes: the statistics each mode's head reads, and the guards that send it back to plain."""

import subprocess
import sys

import numpy as np
import pytest

from ser import config, modes

NEUTRAL, ANGRY = config.EMOTIONS.index("neutral"), config.EMOTIONS.index("angry")


def test_each_group_is_z_normalised_by_its_own_statistics():
    rng = np.random.default_rng(0)
    stats = np.concatenate([rng.normal(5, 2, (40, 2, 6)), rng.normal(-3, 0.5, (60, 2, 6))]).astype(np.float32)
    groups = np.array(["a"] * 40 + ["b"] * 60)
    out = modes.normalise_by_group(stats, groups)
    for g in "ab":
        assert np.allclose(out[groups == g].mean(0), 0, atol=1e-4)
        assert np.allclose(out[groups == g].std(0), 1, atol=1e-3)


def test_a_speaker_is_heard_against_their_neutral_clips_and_one_without_any_is_left_out():
    stats = np.array([[[1.0]], [[3.0]], [[10.0]], [[7.0]]], np.float32)
    speakers = np.array(["s1", "s1", "s1", "s2"])
    labels = np.array([NEUTRAL, NEUTRAL, ANGRY, ANGRY])
    out, kept = modes.subtract_neutral_means(stats, speakers, labels)
    assert out[:3, 0, 0].tolist() == [-1.0, 1.0, 8.0]
    assert kept.tolist() == [True, True, True, False]


def test_running_statistics_match_numpy_and_shrink_toward_the_prior():
    rng = np.random.default_rng(1)
    clips = rng.normal(2.0, 3.0, (50, 2, 4))
    prior = modes.SettingPrior(np.zeros((2, 4), np.float32), np.ones((2, 4), np.float32))
    heard = modes.SettingStatistics()
    mean, std = heard.normaliser(prior, shrink_clips=10)
    assert np.allclose(mean, 0) and np.allclose(std, 1, atol=1e-5)  # nothing heard: the prior
    for clip in clips:
        heard.add(clip)
    assert np.allclose(heard.stats.mean, clips.mean(0)) and np.allclose(heard.stats.var, clips.var(0))
    mean, std = heard.normaliser(prior, shrink_clips=10)
    w = 50 / 60
    assert np.allclose(mean, w * clips.mean(0))
    assert np.allclose(std ** 2, w * clips.var(0) + (1 - w), atol=1e-4)


def test_variety_tells_clips_read_differently_from_clips_read_alike():
    varied = np.eye(4)[np.arange(20) % 4]  # each clip read as another emotion
    alike = np.tile([0.7, 0.1, 0.1, 0.1], (20, 1))
    assert modes.variety(varied) == pytest.approx(4 * 0.25 * 0.75)
    assert modes.variety(alike) == pytest.approx(0.0)
    assert modes.variety(varied[:1]) == 0.0  # one clip: nothing to judge by


def test_the_guard_judges_the_last_clips_of_a_setting():
    rng = np.random.default_rng(2)
    heard = modes.SettingStatistics()
    clips = rng.normal(0, 1, (config.GUARD_CLIPS + 5, 2, 3)).astype(np.float32)
    for clip in clips:
        heard.add(clip)
    assert heard.n == len(clips)  # the normaliser has heard every clip
    assert np.array_equal(heard.recent(), clips[-config.GUARD_CLIPS:])  # the guard, the last


def test_the_voice_guard_reads_a_clip_against_the_voice_once_the_clips_heard_up_to_it_differ():
    """``experiment.read_voice`` as cross-validation measures it: clips in the order heard."""
    from ser.experiment import read_voice

    class Head:  # reads a clip's first statistic as the probability of angry, the rest neutral
        def predict_proba(self, stats):
            p = np.zeros((len(stats), len(config.EMOTIONS)))
            p[:, ANGRY] = stats[:, 0, 0]
            p[:, NEUTRAL] = 1 - stats[:, 0, 0]
            return p

    angry_neutral = np.array([1.0, 1.0, 0.0, 1.0, 0.0])[:, None, None]
    probs, used = read_voice(Head(), np.zeros((1, 1)), angry_neutral)
    assert probs[:, ANGRY].tolist() == angry_neutral[:, 0, 0].tolist()
    # The first clip has nothing to be judged by; the second reads as the first (no variety); the
    # third differs, and from then on the clips heard vary enough (variety 2 * 2/9 = 0.44 at the third).
    assert used.tolist() == [False, False, True, True, True]
    _, used = read_voice(Head(), np.zeros((1, 1)), np.ones((5, 1, 1)))  # one emotion: never
    assert not used.any()


def test_a_setting_heard_clip_by_clip_reads_each_clip_against_the_clips_heard_up_to_it(monkeypatch):
    """``experiment.read_adapted_one_by_one``, as cross-validation measures the Live page."""
    from ser.experiment import read_adapted_one_by_one

    class Head:  # reads a clip's normalised first statistic: above 0 angry, else neutral
        config = type("C", (), {"n_classes": len(config.EMOTIONS)})

        def predict_proba(self, stats):
            p = np.zeros((len(stats), len(config.EMOTIONS)))
            angry = stats[:, 0, 0] > 0
            p[angry, ANGRY], p[~angry, NEUTRAL] = 1.0, 1.0
            return p

    monkeypatch.setattr(config, "ADAPT_ONE_BY_ONE_SHRINK_CLIPS", 0)  # the setting's own moments alone
    prior = modes.SettingPrior(np.zeros((1, 1), np.float32), np.ones((1, 1), np.float32))
    clips = np.array([10.0, 12.0, 11.5, 30.0])[:, None, None]
    probs, used = read_adapted_one_by_one(Head(), prior, clips)
    assert not used[0] and np.isnan(probs[0]).all()  # one clip is no setting
    assert used[1:].all()
    # 11.5 is above the mean of the clips heard up to it (11.17), below the whole setting's (15.9).
    assert probs[1:].argmax(1).tolist() == [ANGRY, ANGRY, ANGRY]
    _, used = read_adapted_one_by_one(Head(), prior, np.full((5, 1, 1), 10.0))  # one emotion: never
    assert not used.any()


def test_a_setting_counts_clips_and_speech_per_model():
    setting = modes.Setting()
    setting.add({"a": np.ones((1, 2)), "b": np.zeros((1, 2))}, 2.5)
    setting.add({"a": np.ones((1, 2))}, 1.0)
    assert (setting.n_clips, setting.speech_s) == (2, 3.5)
    assert setting.of("a").n == 2 and setting.of("b").n == 1 and setting.of("c").n == 0


def test_calibration_and_evaluation_do_not_import_each_other():
    """The import circle calibration -> evaluation -> inference -> calibration is broken."""
    probe = ("import sys; import ser.calibration; "
             "print(' '.join(m for m in ('ser.evaluation', 'ser.inference') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=config.PROJECT_DIR).stdout.split()
    assert loaded == []


# --- the warm-up: four prompted clips, and the bias that makes them read as prompted ----------
PROMPTS = [config.EMOTIONS.index(e) for e in config.WARM_UP_PROMPTS]
DISGUST = config.EMOTIONS.index("disgust")


def leaning_readings() -> np.ndarray:
    """Four warm-up clips read by a model that leans to disgust (as on TESS), each clip's prompt
    ahead of the other prompts: the right emotion second."""
    probs = np.full((4, len(config.EMOTIONS)), 0.02)
    probs[:, DISGUST] = 0.6
    for row, k in enumerate(PROMPTS):
        probs[row, k] = 0.25
    return probs / probs.sum(1, keepdims=True)


def test_the_bias_makes_the_warm_up_read_as_prompted_and_pulls_the_leaning_class_down():
    probs = leaning_readings()
    assert not (probs.argmax(1) == PROMPTS).any()
    bias = modes.prompt_bias(probs, PROMPTS, l2=0.1)
    assert (modes.biased(probs, bias).argmax(1) == PROMPTS).all()
    assert bias[DISGUST] < 0 < min(bias[PROMPTS])


def test_the_bias_is_the_optimum_of_its_objective():
    """Newton's answer against a brute check: no small step in any direction does better."""
    probs = np.random.default_rng(3).dirichlet(np.ones(len(config.EMOTIONS)), size=4)
    l2 = modes.prompt_l2(PROMPTS, len(config.EMOTIONS), 0.1, 1.0)

    def objective(bias):
        logp = np.log(modes.biased(probs, bias))
        return -logp[np.arange(4), PROMPTS].sum() + (l2 * bias ** 2).sum()

    bias = modes.prompt_bias(probs, PROMPTS, l2)
    for k in range(len(config.EMOTIONS)):
        for step in (1e-3, -1e-3):
            moved = bias.copy()
            moved[k] += step
            assert objective(moved) >= objective(bias) - 1e-9


def test_a_stronger_pull_moves_less_and_no_bias_changes_nothing():
    probs = leaning_readings()
    weak, strong = (modes.prompt_bias(probs, PROMPTS, l2) for l2 in (0.1, 10.0))
    assert np.abs(strong).sum() < np.abs(weak).sum()
    assert np.allclose(modes.biased(probs, np.zeros(len(config.EMOTIONS))), probs)
    assert np.allclose(modes.biased(probs, weak).sum(1), 1.0)
    # A stronger pull on the emotions not prompted alone: disgust moves less, the prompts as far.
    per_class = modes.prompt_bias(probs, PROMPTS, modes.prompt_l2(PROMPTS, len(config.EMOTIONS), 0.1, 10.0))
    assert abs(per_class[DISGUST]) < abs(weak[DISGUST])


def test_agreement_is_one_when_each_clip_names_its_prompt_and_a_quarter_by_chance():
    named = np.eye(len(config.EMOTIONS))[PROMPTS] * 0.9 + 0.1 / len(config.EMOTIONS)
    assert modes.agreement(named, PROMPTS) > 0.9
    one_voice = np.tile(named[0], (4, 1))  # four clips read alike: one of them names its prompt
    assert modes.agreement(one_voice, PROMPTS) == pytest.approx(0.25, abs=0.01)


def test_a_warm_up_is_read_among_its_own_clips_with_its_bias():
    """``read_warm_up``: the normaliser of the four clips (shrunk toward the prior), the adapted
    readings at that normaliser, and the bias and agreement of those readings."""
    rng = np.random.default_rng(4)
    clips = rng.normal(3.0, 2.0, (4, 2, 3)).astype(np.float32)
    prior = modes.SettingPrior(np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32))
    seen = []

    def read_adapted(stats, normaliser):
        seen.append((stats, normaliser))
        return leaning_readings()

    reading = modes.read_warm_up(clips, PROMPTS, prior, read_adapted, shrink_clips=3, l2=(0.1, 0.1))
    heard = modes.SettingStatistics()
    for clip in clips:
        heard.add(clip)
    mean, std = heard.normaliser(prior, 3)
    assert np.allclose(reading.mean, mean) and np.allclose(reading.std, std)
    assert np.array_equal(seen[0][0], clips)
    assert np.allclose(reading.bias, modes.prompt_bias(leaning_readings(), PROMPTS, 0.1))
    assert reading.agreement == pytest.approx(modes.agreement(leaning_readings(), PROMPTS))
    assert np.array_equal(reading.takes, leaning_readings()) and reading.prompts == tuple(PROMPTS)


def test_a_warm_up_says_which_emotion_each_take_was_heard_as():
    """``WarmUpReading.heard_as``: among the prompts, so a take heard as disgust (not prompted)
    still names the prompt it sounded most like."""
    takes = np.eye(len(config.EMOTIONS))[list(PROMPTS)] * 0.5 + 0.5 / len(config.EMOTIONS)
    takes[2] = 0.01
    takes[2, DISGUST], takes[2, PROMPTS[0]] = 0.8, 0.1  # the third take: disgust, then the first prompt
    reading = modes.WarmUpReading(np.zeros(1), np.ones(1), np.zeros(len(config.EMOTIONS)), takes, tuple(PROMPTS))
    assert reading.heard_as() == [PROMPTS[0], PROMPTS[1], PROMPTS[0], PROMPTS[3]]
    assert reading.agreement == pytest.approx(modes.agreement(takes, PROMPTS))


def test_warm_up_cv_reads_each_speakers_other_clips_after_one_take_of_each_prompt(monkeypatch):
    """``experiment.warm_up_cv``: a speaker with every prompted emotion warms up on one clip of
    each and is read on the rest; a speaker without one is never read so; a warm-up not acted
    (four clips of one emotion) falls back to plain by its guard."""
    from ser import experiment

    class Head:  # names each clip by its first statistic, untouched by the warm-up's normaliser
        def predict_proba(self, stats):
            return np.eye(len(config.EMOTIONS))[stats[:, 0, 0].astype(int)]

    def warm_up_of(head, prior, stats):  # acted: four emotions, which the guard lets through
        acted = len(set(stats[:, 0, 0].tolist())) == len(PROMPTS)
        heard = np.eye(len(config.EMOTIONS))[list(PROMPTS) if acted else [PROMPTS[0]] * len(PROMPTS)]
        return modes.WarmUpReading(np.zeros((1, 1)), np.ones((1, 1)), np.zeros(len(config.EMOTIONS)),
                                   heard, tuple(PROMPTS))

    monkeypatch.setattr(experiment, "warm_up_of", warm_up_of)
    sad, fearful = config.EMOTIONS.index("sad"), config.EMOTIONS.index("fearful")
    # Speaker a: six clips of each prompted emotion and of fearful; b: the prompted ones but sad.
    labels = np.array([k for k in [*PROMPTS, fearful] for _ in range(6)]
                      + [k for k in PROMPTS if k != sad for _ in range(6)])
    speakers = np.array(["a"] * 30 + ["b"] * 18)
    stats = labels[:, None, None].astype(np.float32)
    plain = np.eye(len(config.EMOTIONS))[np.full(len(labels), NEUTRAL)]
    probs, used, one_emotion, not_acted = experiment.warm_up_cv(
        Head(), None, stats, labels, speakers, plain, config.WARM_UP_PROMPTS, np.random.default_rng(0))
    assert used[:30].sum() == 26 and not used[30:].any()  # a's clips but its four warm-up takes
    assert (probs[used].argmax(1) == labels[used]).all()
    # a's one-emotion sessions: five clips left of each prompted emotion, six of fearful (not
    # prompted), all right against the warm-up; plain names neutral only.
    assert one_emotion == [(5, 5, 5, True)] + [(5, 5, 0, True)] * 3 + [(6, 6, 0, False)]
    # Not acted, measured on the same speakers: a's guard reads its other 26 clips plain.
    [(clips, in_mode, right_plain, _)] = not_acted
    assert clips == 26 and in_mode == right_plain

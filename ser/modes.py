"""Reading modes: how much beyond the clip itself a reading rests on.

- ``plain``: the clip alone.
- ``adapted``: the clip among the others heard in the same setting (a batch of uploads,
  a live session): each clip's statistics are z-normalised by the setting's, shrunk
  toward the training corpora's while little has been heard. No labels are needed.
- ``voice``: the clip against a reference of its speaker's plain, everyday voice
  (a sentence read aloud): the statistics minus the reference's.
- ``warmed_up``: the clip against an acted warm-up, one sentence said as each of
  ``config.WARM_UP_PROMPTS`` asks (plainly, happily, sadly, angrily): the adapted head
  with the warm-up's clips as its setting, and a per-emotion bias on its log-probabilities
  fitted so that the warm-up's clips read as prompted (``prompt_bias``).

Each mode has its own head, trained on statistics normalised the same way (a
training corpus stands for a setting; a speaker's neutral clips for their plain
voice), and its own temperature fitted on left-out corpora. Both adaptations assume
something a user can get wrong: that the setting holds more than one emotion, that
the reference is plain. Each has a guard that reads plain when its assumption visibly
fails: the readings the mode gives of the recent clips (the setting's, or the voice's)
vary too little (``variety``): one emotion, most likely, which the normalising took away.
The warm-up's guard is how well its clips, read adapted to each other, name their own
prompts (``agreement``): a warm-up not acted names them no better than chance.
Statistics are clip statistics ``(n_layers, 2 * dim)`` (``onnx_heads.clip_statistics``),
or a stack of them ``(n_clips, n_layers, 2 * dim)``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ser import config

PLAIN, ADAPTED, VOICE, WARMED_UP = "plain", "adapted", "voice", "warmed_up"
MODES = (PLAIN, ADAPTED, VOICE, WARMED_UP)
EPS = 1e-6


# --- training: statistics normalised as each mode reads them -------------------------------
def normalise_by_group(stats: np.ndarray, groups) -> np.ndarray:
    """Each group's clips (a training corpus: one setting) z-normalised by that group's mean
    and standard deviation over its clips; ``(n_clips, L, 2D)`` float32."""
    stats, groups = np.asarray(stats, np.float32), np.asarray(groups)
    out = np.empty_like(stats)
    for group in np.unique(groups):
        rows = groups == group
        out[rows] = (stats[rows] - stats[rows].mean(0)) / (stats[rows].std(0) + EPS)
    return out


def subtract_neutral_means(stats: np.ndarray, speakers, labels) -> tuple[np.ndarray, np.ndarray]:
    """Each clip's statistics minus the mean of its speaker's neutral clips, and which clips
    have such a reference (bool ``(n_clips,)``: speakers with no neutral clip have none)."""
    stats, speakers = np.asarray(stats, np.float32), np.asarray(speakers)
    neutral = np.asarray(labels) == config.EMOTIONS.index("neutral")
    out, kept = np.zeros_like(stats), np.zeros(len(stats), bool)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        if (rows & neutral).any():
            out[rows] = stats[rows] - stats[rows & neutral].mean(0)
            kept[rows] = True
    return out, kept


def variety(probs: np.ndarray) -> float:
    """How differently a setting's clips read: the total variance of their probabilities
    ``(n_clips, C)`` (0 for fewer than two clips). Read adapted, a setting of one emotion
    reads alike (its emotion is what normalising took away), a mixed one does not; read
    against a reference spoken in the clips' one emotion, likewise. Both modes' guard
    (docs/experiments.md, round 3, section 4)."""
    probs = np.asarray(probs, np.float64)
    return float(probs.var(0).sum()) if len(probs) >= 2 else 0.0


def prompt_bias(probs: np.ndarray, prompts, l2) -> np.ndarray:
    """Per-class bias ``(C,)`` on log-probabilities that makes readings ``probs`` ``(n, C)`` of
    a warm-up read as their ``prompts`` (class indices, ``(n,)``): maximum likelihood minus
    ``l2`` (per class ``(C,)``, or one for all) times the squared bias. The problem is convex
    and eight-dimensional, so Newton's method with a halving step solves it in a few steps."""
    logp = np.log(np.clip(np.asarray(probs, np.float64), 1e-12, None))
    n_classes = logp.shape[1]
    target = np.eye(n_classes)[np.asarray(prompts)]
    l2 = np.broadcast_to(np.asarray(l2, np.float64), (n_classes,))

    def loss(bias):
        z = logp + bias
        top = z.max(1, keepdims=True)
        lse = (top + np.log(np.exp(z - top).sum(1, keepdims=True)))[:, 0]
        return float((lse - (z * target).sum(1)).sum() + (l2 * bias ** 2).sum())

    bias = np.zeros(n_classes)
    for _ in range(50):
        p = biased(np.exp(logp), bias)
        grad = (p - target).sum(0) + 2 * l2 * bias
        hessian = np.diag(p.sum(0) + 2 * l2) - p.T @ p
        step = np.linalg.solve(hessian, grad)
        size, before = 1.0, loss(bias)
        while loss(bias - size * step) > before and size > 1e-6:
            size /= 2
        bias = bias - size * step
        if np.abs(size * step).max() < 1e-8:
            break
    return bias


def biased(probs: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Probabilities ``(..., C)`` with ``bias`` ``(C,)`` added to their logarithms, renormalised."""
    logits = np.log(np.clip(probs, 1e-12, None)) + bias
    logits -= logits.max(-1, keepdims=True)
    return np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)


def among_prompts(probs: np.ndarray, prompts) -> np.ndarray:
    """A warm-up's readings ``probs`` ``(n, C)`` restricted to its ``prompts`` (``(n,)``, distinct
    classes) and renormalised: ``(n, n)``, row ``k`` the clip said as ``prompts[k]``."""
    among = np.asarray(probs)[:, list(prompts)]
    return among / among.sum(1, keepdims=True)


def agreement(probs: np.ndarray, prompts) -> float:
    """How far a warm-up's readings ``probs`` ``(n, C)`` name their own ``prompts``: the mean
    share of each clip's probability over the prompted emotions that falls on its own prompt
    (1 / n by chance)."""
    return float(np.mean(np.diag(among_prompts(probs, prompts))))


def prompt_l2(prompts, n_classes: int, prompted: float, unprompted: float) -> np.ndarray:
    """The bias's L2 strength per class ``(n_classes,)``: ``prompted`` on the warm-up's
    emotions, ``unprompted`` on the rest, which the warm-up can only push down."""
    l2 = np.full(n_classes, float(unprompted))
    l2[list(prompts)] = prompted
    return l2


@dataclass(frozen=True)
class SettingPrior:
    """What a setting is assumed to sound like before any of it is heard: the mean over
    training corpora of each corpus's mean and variance, each ``(L, 2D)`` float32."""

    mean: np.ndarray
    var: np.ndarray

    @classmethod
    def of(cls, stats: np.ndarray, groups) -> SettingPrior:
        stats, groups = np.asarray(stats, np.float64), np.asarray(groups)
        names = np.unique(groups)
        mean = np.mean([stats[groups == g].mean(0) for g in names], axis=0)
        var = np.mean([stats[groups == g].var(0) for g in names], axis=0)
        return cls(mean.astype(np.float32), var.astype(np.float32))


# --- inference: one setting's running statistics ---------------------------------------------
@dataclass
class Running:
    """Running mean and variance (Welford) of arrays of one shape."""

    n: int = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None

    def add(self, value: np.ndarray) -> None:
        value = np.asarray(value, np.float64)
        if self.mean is None:
            self.mean, self.m2 = np.zeros_like(value), np.zeros_like(value)
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (value - self.mean)

    @property
    def var(self) -> np.ndarray:
        return self.m2 / self.n


@dataclass
class SettingStatistics:
    """What one model heard in one setting: the running moments of its clips' statistics,
    and the statistics of the last ``config.GUARD_CLIPS`` clips (``recent``, for the
    guard). Belongs to one visitor's session or one CLI run, never to a shared cache."""

    stats: Running = field(default_factory=Running)
    last: deque = field(default_factory=lambda: deque(maxlen=config.GUARD_CLIPS))

    @property
    def n(self) -> int:
        return self.stats.n

    def add(self, stats: np.ndarray) -> None:
        """One clip's statistics ``(L, 2D)``."""
        self.stats.add(stats)
        self.last.append(np.asarray(stats, np.float32))

    def recent(self) -> np.ndarray:
        """The last clips' statistics ``(n, L, 2D)``, n ≤ ``config.GUARD_CLIPS``."""
        return np.stack(self.last)

    def normaliser(self, prior: SettingPrior, shrink_clips: float) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std ``(L, 2D)`` to z-normalise a clip of this setting: the setting's own,
        shrunk toward ``prior`` as if ``shrink_clips`` clips of the prior had been heard too."""
        if self.n == 0:
            return prior.mean, np.sqrt(prior.var) + EPS
        w = self.n / (self.n + shrink_clips)
        mean = w * self.stats.mean + (1 - w) * prior.mean
        var = w * self.stats.var + (1 - w) * prior.var
        return mean.astype(np.float32), (np.sqrt(var) + EPS).astype(np.float32)


@dataclass
class Setting:
    """The clips heard in one setting (``inference.hear``): each model's running statistics,
    and how much speech they rest on."""

    models: dict[str, SettingStatistics] = field(default_factory=dict)
    n_clips: int = 0
    speech_s: float = 0.0
    # Heard clip by clip, each clip read when it comes (a live session), rather than a batch
    # read at once: the adapted mode then takes its guard's "one_by_one" settings.
    one_by_one: bool = False

    def add(self, heard: dict[str, np.ndarray], speech_s: float) -> None:
        """One clip: ``heard`` maps model id -> its clip statistics ``(L, 2D)``."""
        for model_id, stats in heard.items():
            self.models.setdefault(model_id, SettingStatistics()).add(stats)
        self.n_clips += 1
        self.speech_s += speech_s

    def of(self, model_id: str) -> SettingStatistics:
        return self.models.get(model_id, SettingStatistics())


@dataclass(frozen=True)
class WarmUpReading:
    """What one model takes from a warm-up: the normaliser of its clips' statistics (mean, std,
    each ``(L, 2D)``), the bias ``(C,)`` that makes them read as prompted, and how it heard
    them before that bias: ``takes`` ``(n, C)``, uncalibrated, the clip said as ``prompts[k]``
    in row ``k``."""

    mean: np.ndarray
    std: np.ndarray
    bias: np.ndarray
    takes: np.ndarray
    prompts: tuple[int, ...]

    @property
    def agreement(self) -> float:
        """How well the takes named their own prompts (``agreement``): the guard's measure."""
        return agreement(self.takes, self.prompts)

    def heard_as(self) -> list[int]:
        """The prompted emotion each take was heard as, among the prompts (class indices, in
        ``prompts`` order): the take's own prompt where the model heard it as asked."""
        return [self.prompts[k] for k in among_prompts(self.takes, self.prompts).argmax(1)]


def read_warm_up(stats: np.ndarray, prompts, prior: SettingPrior, read_adapted, shrink_clips: float,
                 l2: tuple[float, float]) -> WarmUpReading:
    """One model's reading of a warm-up: its clips' statistics ``(n, L, 2D)``, said as ``prompts``
    (class indices ``(n,)``), z-normalised by their own moments shrunk toward ``prior`` as if
    ``shrink_clips`` clips of it had been heard too; ``read_adapted(stats, (mean, std))`` gives
    the adapted head's uncalibrated probabilities ``(n, C)``; ``l2``: (prompted, not prompted)."""
    heard = SettingStatistics()
    for clip in stats:
        heard.add(clip)
    mean, std = heard.normaliser(prior, shrink_clips)
    probs = read_adapted(np.asarray(stats, np.float32), (mean, std))
    bias = prompt_bias(probs, prompts, prompt_l2(prompts, probs.shape[1], *l2))
    return WarmUpReading(mean, std, bias, probs, tuple(int(p) for p in prompts))


@dataclass(frozen=True)
class WarmUp:
    """A speaker's acted warm-up (``inference.warm_up_reference``): model id -> its reading of
    the warm-up, and the warm-up's seconds of speech."""

    models: dict[str, WarmUpReading]
    speech_s: float


@dataclass(frozen=True)
class VoiceReference:
    """A speaker's plain voice (``inference.voice_reference``): model id -> mean clip
    statistics ``(L, 2D)`` of the reference, and its seconds of speech."""

    stats: dict[str, np.ndarray]
    speech_s: float

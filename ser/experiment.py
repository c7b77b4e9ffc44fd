"""The experiment end to end: corpora in, cross-validated, calibrated, saved models out.

index the corpora -> clip statistics per backbone (cached) -> folds by speaker inside
every corpus, and leave-one-corpus-out -> a temperature fitted on the left-out
corpora -> the final ensemble on every clip -> ``models/<id>/`` with its card and
out-of-fold predictions, with a head per reading mode (``ser.modes``: adapted to the
setting, calibrated to the voice), each measured on the left-out corpora as it is
used, guards included. ``fit_fusion`` then stacks the saved models.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ser import calibration, config, evaluation, familiarity, featurestore, modes
from ser.backbones import REGISTRY, get_backbone
from ser.cards import BackboneInfo, Calibration, Familiar, ModelCard, ReadingMode
from ser.corpora import CORPORA, citations, index_corpora
from ser.heads import HeadConfig, HeadEnsemble
from ser.labels import allowed_mask, fold_absent
from ser.models import save_model
from ser.reports import CV_PREDICTIONS_FILE, FUSION_FILE, fusion_report
from ser.training import TrainConfig, cross_validate, fit_ensemble, with_copies


@dataclass(frozen=True)
class Corpora:
    clips: pd.DataFrame  # ser.corpora.COLUMNS, one row per clip
    labels: np.ndarray  # emotion index into config.EMOTIONS, (n_clips,)
    allowed: np.ndarray  # classes each clip's corpus can name, bool (n_clips, n_classes)
    sha256: str  # of the file names and contents: which data a model saw

    @property
    def corpora(self) -> np.ndarray:
        return self.clips["corpus"].to_numpy()

    @property
    def speakers(self) -> np.ndarray:
        return self.clips["speaker"].to_numpy()

    @property
    def corpus_ids(self) -> list[str]:
        return sorted(set(self.corpora.tolist()))

    @property
    def description(self) -> str:
        parts = [f"{CORPORA[c].name} {int((self.corpora == c).sum())} clips, "
                 f"{len(set(self.speakers[self.corpora == c]))} speakers" for c in self.corpus_ids]
        return "; ".join(parts)


def corpus_emotions(corpus_ids) -> dict[str, tuple[str, ...]]:
    return {c: CORPORA[c].emotions for c in corpus_ids}


def data_sha256(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode())
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


def load_corpora(root: str | Path, only: list[str] | None = None) -> Corpora:
    """Every clip of the corpora in ``root`` (one corpus folder, or a folder of them),
    or of the corpora named in ``only``."""
    clips = index_corpora(root).clips
    if only:
        clips = clips[clips["corpus"].isin(only)].reset_index(drop=True)
    if clips.empty:
        raise ValueError(f"{root}: no clips of a known corpus found")
    labels = clips["emotion"].map(config.EMOTIONS.index).to_numpy()
    allowed = allowed_mask(clips["corpus"], corpus_emotions(clips["corpus"].unique()))
    return Corpora(clips, labels, allowed, data_sha256(clips["path"].tolist()))


def head_config(kind: str, checkpoint: str | None = None) -> HeadConfig:
    backbone = get_backbone(kind, checkpoint)
    return HeadConfig(n_layers=backbone.n_layers, dim=backbone.dim, n_classes=len(config.EMOTIONS))


@dataclass(frozen=True)
class CvResult:
    speaker_probs: np.ndarray | None  # out-of-fold, folds by speaker in every corpus, (n_clips, n_classes)
    corpus_probs: np.ndarray | None  # leave-one-corpus-out (None with a single corpus)


def clip_stats(kind: str, data: Corpora, checkpoint: str | None = None, progress: bool = True) -> np.ndarray:
    """Clip statistics ``(n_clips, L, 2D)`` of every clip of ``data`` (cached)."""
    return featurestore.dataset_statistics(get_backbone(kind, checkpoint), data.clips["path"], progress)


def augmented_stats(kind: str, data: Corpora, n_copies: int, checkpoint: str | None = None,
                    progress: bool = True) -> list[np.ndarray]:
    """Clip statistics of ``n_copies`` augmented copies of every clip of ``data``, each
    ``(n_clips, L, 2D)`` (cached; ``featurestore.augmented_statistics``)."""
    backbone = get_backbone(kind, checkpoint) if n_copies else None
    return [featurestore.augmented_statistics(backbone, data.clips["path"], k, progress) for k in range(n_copies)]


@dataclass(frozen=True)
class PlainConfidence:
    """How a plain reading is calibrated (``cards.Familiar``): clips at or above familiarity
    ``above`` at ``familiar_t`` and unsure under ``config.UNSURE_BELOW``, the others at
    ``unfamiliar_t`` and unsure under ``unsure_below``."""

    above: float
    familiar_t: float
    unfamiliar_t: float
    unsure_below: float

    def read(self, probs: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Uncalibrated probabilities ``(n, n_classes)`` of clips of familiarity ``scores``
        ``(n,)``: calibrated, and each clip's unsure threshold ``(n,)``."""
        familiar = scores >= self.above
        calibrated = np.where(familiar[:, None], calibration.sharpen(probs, self.familiar_t),
                              calibration.sharpen(probs, self.unfamiliar_t))
        return calibrated, np.where(familiar, config.UNSURE_BELOW, self.unsure_below)


@dataclass(frozen=True)
class HeldOutScores:
    """Every clip's cross-validated plain reading and familiarity, as a model that never heard
    its speaker, and one that never heard its corpus, gives them (``familiarity.held_out``)."""

    speaker_probs: np.ndarray  # (n_clips, n_classes), uncalibrated
    corpus_probs: np.ndarray
    new_speaker: np.ndarray  # (n_clips,)
    new_corpus: np.ndarray


def fit_plain_confidence(scores: HeldOutScores, data: Corpora, rows: np.ndarray) -> PlainConfidence:
    """The plain reading's calibration from the clips in ``rows`` only: the familiarity
    threshold that tells new speakers of known corpora from corpora never heard, a temperature
    for each, and the unsure threshold at which unfamiliar clips of corpora never heard read
    right ``config.SURE_ACCURACY`` of the time."""
    emotions = corpus_emotions(data.corpus_ids)
    y, corpora = data.labels, data.corpora
    above = familiarity.threshold(scores.new_speaker[rows], scores.new_corpus[rows])
    familiar_t = calibration.fit_temperature(scores.speaker_probs[rows], y[rows], corpora[rows], emotions)
    unfamiliar_t = calibration.fit_temperature(scores.corpus_probs[rows], y[rows], corpora[rows], emotions)
    strange = rows & (scores.new_corpus < above)
    cut = calibration.sure_threshold(calibration.sharpen(scores.corpus_probs[strange], unfamiliar_t),
                                     y[strange], corpora[strange], emotions)
    return PlainConfidence(round(above, 4), round(familiar_t, 4), round(unfamiliar_t, 4), cut)


def plain_readings(scores: HeldOutScores, data: Corpora) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each clip's plain reading, calibrated with its unsure threshold, by a rule fitted
    without its corpus (so no corpus calibrates its own score): ``"transfer"`` (leave-one-
    corpus-out) and ``"speaker_folds"``, each ``(probs (n_clips, n_classes), thresholds (n_clips,))``."""
    out = {kind: (np.zeros_like(scores.corpus_probs), np.zeros(len(data.labels)))
           for kind in ("transfer", "speaker_folds")}
    for c in data.corpus_ids:
        rows = data.corpora == c
        rule = fit_plain_confidence(scores, data, ~rows)
        for kind, probs, familiar in (("transfer", scores.corpus_probs, scores.new_corpus),
                                      ("speaker_folds", scores.speaker_probs, scores.new_speaker)):
            out[kind][0][rows], out[kind][1][rows] = rule.read(probs[rows], familiar[rows])
    return out


def transfer_reports(readings: tuple[np.ndarray, np.ndarray], data: Corpora) -> dict:
    """Per left-out corpus: ``evaluation.transfer_score`` of its calibrated readings and
    unsure thresholds (``plain_readings``)."""
    probs, thresholds = readings
    return {c: evaluation.transfer_score(data.labels[rows], probs[rows], CORPORA[c].emotions, thresholds[rows])
            for c in data.corpus_ids for rows in [data.corpora == c]}


def speaker_fold_reports(readings: tuple[np.ndarray, np.ndarray], data: Corpora) -> dict:
    """Folds by speaker: a transfer report per corpus of the calibrated readings and their
    unsure thresholds (``plain_readings``), and RAVDESS scored on its 8 emotions per actor as
    in the literature."""
    probs, thresholds = readings
    reports = {"corpora": {}, "folds": f"{evaluation.N_FOLDS} folds by speaker inside every corpus"}
    for c in data.corpus_ids:
        rows = data.corpora == c
        reports["corpora"][c] = evaluation.transfer_score(data.labels[rows], probs[rows],
                                                          CORPORA[c].emotions, thresholds[rows])
        common = rows & data.clips["common_sentence"].to_numpy(bool)
        if common.sum() < rows.sum():  # where texts give the emotion away (ASED), the common ones do not
            reports["corpora"][c]["common_sentences"] = evaluation.transfer_score(
                data.labels[common], probs[common], CORPORA[c].emotions)
    if "ravdess" in data.corpus_ids:
        rows = data.corpora == "ravdess"
        actors = data.speakers[rows]
        reports["ravdess_8_class"] = evaluation.score(data.labels[rows], probs[rows].argmax(1),
                                                      [int(a.split("_")[1]) for a in actors])
    return reports


def predictions_frame(data: Corpora, result: CvResult) -> pd.DataFrame:
    """One row per clip: file, corpus, speaker, true emotion and both out-of-fold
    probabilities (uncalibrated), kept so models can be stacked clip by clip."""
    frame = data.clips[["path", "corpus", "speaker", "emotion"]].copy()
    frame["path"] = [str(Path(p).relative_to(Path(p).parents[1])) for p in frame["path"]]
    parts = [frame.reset_index(drop=True)]
    if result.speaker_probs is not None:
        parts.append(pd.DataFrame(result.speaker_probs, columns=[f"speaker_fold:{e}" for e in config.EMOTIONS]))
    if result.corpus_probs is not None:
        parts.append(pd.DataFrame(result.corpus_probs, columns=[f"corpus_out:{e}" for e in config.EMOTIONS]))
    return pd.concat(parts, axis=1)


# --- the three reading modes (ser.modes), each measured on corpora it never heard ---------------
def mode_inputs(stats: np.ndarray, data: Corpora, rows: np.ndarray) -> dict[str, tuple]:
    """Each mode's training set from the clips in ``rows``: ``(stats, rows kept)``."""
    voice, kept = modes.subtract_neutral_means(stats[rows], data.speakers[rows], data.labels[rows])
    everyone = np.ones(rows.sum(), bool)
    return {modes.PLAIN: (stats[rows], everyone),
            modes.ADAPTED: (modes.normalise_by_group(stats[rows], data.corpora[rows]), everyone),
            modes.VOICE: (voice, kept)}


def fit_modes(stats: np.ndarray, data: Corpora, rows: np.ndarray, head_cfg: HeadConfig,
              cfg: TrainConfig, copies=()) -> dict[str, HeadEnsemble]:
    """One head per mode, trained on the clips in ``rows`` normalised as that mode reads them
    (none for the voice where no speaker there has a neutral clip); the plain head also on
    those clips' augmented ``copies``. The other modes have none: a copy's room and
    microphone are drawn per clip, so the copies of a corpus are no one setting."""
    heads = {}
    for mode, (x, kept) in mode_inputs(stats, data, rows).items():
        if not kept.any():
            continue
        idx = np.flatnonzero(rows)[kept]
        x = x[kept]
        if mode == modes.PLAIN:
            x, idx = with_copies(stats, copies, idx)
        heads[mode] = fit_ensemble(x, data.labels[idx], data.allowed[idx], data.corpora[idx], head_cfg, cfg)
    return heads


def settings_of(speakers: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Test settings of a left-out corpus: each speaker's clips in random order, cut into
    groups of ``config.ADAPT_EVAL_CLIPS`` (a batch of uploads, or a session, of one voice)."""
    groups = []
    for speaker in np.unique(speakers):
        clips = rng.permutation(np.flatnonzero(speakers == speaker))
        n = max(1, round(len(clips) / config.ADAPT_EVAL_CLIPS))
        groups += np.array_split(clips, n)
    return groups


def one_emotion_sessions(speakers: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    """The failure case of both adaptations: each speaker's clips of one emotion (at least
    ``config.ONE_EMOTION_MIN_CLIPS``, at most ``config.ADAPT_EVAL_CLIPS``)."""
    sessions = []
    for speaker in np.unique(speakers):
        for label in np.unique(labels[speakers == speaker]):
            clips = np.flatnonzero((speakers == speaker) & (labels == label))[:config.ADAPT_EVAL_CLIPS]
            if len(clips) >= config.ONE_EMOTION_MIN_CLIPS:
                sessions.append(clips)
    return sessions


def read_adapted(head, prior: modes.SettingPrior, stats: np.ndarray) -> np.ndarray | None:
    """Probabilities ``(n, C)`` of a setting's clips ``(n, L, 2D)`` read adapted to each other,
    or None where the guard reads them plain: those readings too alike (one emotion, most
    likely)."""
    heard = modes.SettingStatistics()
    for clip in stats:
        heard.add(clip)
    mean, std = heard.normaliser(prior, config.ADAPT_SHRINK_CLIPS)
    probs = head.predict_proba((stats - mean) / std)
    return probs if modes.variety(probs[-config.GUARD_CLIPS:]) >= config.ADAPT_MIN_VARIETY else None


def read_adapted_one_by_one(head, prior: modes.SettingPrior, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities ``(n, C)`` of a setting's clips ``(n, L, 2D)`` heard one by one, as the Live
    page hears a session: each clip read adapted to the clips heard up to it, itself included,
    and which of them the guard let read so (bool ``(n,)``); the first never, as one clip is no
    setting (``inference.Context.mode_of``). The guard's settings are those for a setting heard so
    (``config.ADAPT_ONE_BY_ONE_*``). The clips read plain have NaN rows."""
    heard = modes.SettingStatistics()
    probs = np.full((len(stats), head.config.n_classes), np.nan, np.float32)
    for k, clip in enumerate(stats):
        heard.add(clip)
        if heard.n < 2:
            continue
        mean, std = heard.normaliser(prior, config.ADAPT_ONE_BY_ONE_SHRINK_CLIPS)
        readings = head.predict_proba((heard.recent() - mean) / std)
        if modes.variety(readings) >= config.ADAPT_ONE_BY_ONE_MIN_VARIETY:
            probs[k] = readings[-1]
    return probs, ~np.isnan(probs).any(1)


def read_voice(head, reference: np.ndarray, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities ``(n, C)`` of one speaker's clips ``(n, L, 2D)``, in the order heard, read
    against their reference ``(L, 2D)``, and which of them the guard lets read so (bool
    ``(n,)``): a clip, where the voice readings of the clips heard up to it (the last
    ``config.GUARD_CLIPS``) vary by at least ``config.VOICE_MIN_VARIETY``; the first never."""
    probs = head.predict_proba(stats - reference)
    heard_by = [probs[max(0, k + 1 - config.GUARD_CLIPS):k + 1] for k in range(len(probs))]
    return probs, np.array([modes.variety(heard) >= config.VOICE_MIN_VARIETY for heard in heard_by], bool)


WARM_UP_PROMPTS = tuple(config.EMOTIONS.index(e) for e in config.WARM_UP_PROMPTS)


def warm_up_of(head, prior: modes.SettingPrior, stats: np.ndarray) -> modes.WarmUpReading:
    """The adapted ``head``'s reading (``modes.read_warm_up``) of a warm-up's clips ``(n, L, 2D)``,
    said as ``config.WARM_UP_PROMPTS`` in order, with the shipped settings."""
    return modes.read_warm_up(stats, WARM_UP_PROMPTS, prior,
                              lambda x, norm: head.predict_proba((x - norm[0]) / norm[1]),
                              config.WARM_UP_SHRINK_CLIPS, config.WARM_UP_L2)


def read_warmed_up(head, warm_up: modes.WarmUpReading, stats: np.ndarray) -> np.ndarray | None:
    """Probabilities ``(n, C)`` of clips ``(n, L, 2D)`` read against ``warm_up``, or None where
    its guard reads them plain: its clips named their own prompts too little (not acted)."""
    if warm_up.agreement < config.WARM_UP_MIN_AGREEMENT:
        return None
    return modes.biased(head.predict_proba((stats - warm_up.mean) / warm_up.std), warm_up.bias)


def n_right(probs: np.ndarray, labels: np.ndarray, emotions: tuple[str, ...]) -> int:
    """How many of the clips ``probs`` ``(n, C)`` read as their ``labels``, in a corpus's label space."""
    return int((fold_absent(probs, emotions).argmax(1) == labels).sum())


ONE_BY_ONE = "adapted_one_by_one"  # the adapted settings heard clip by clip, as on the Live page


@dataclass
class ModeCv:
    """Leave-one-corpus-out predictions of one mode as it is used (uncalibrated): ``probs``
    ``(n_clips, C)``; ``used``: clips read in the mode, the rest fell back to plain."""

    probs: np.ndarray
    used: np.ndarray
    one_emotion: dict | None = None
    # Adapted only: the same settings heard one by one (``read_adapted_one_by_one``).
    one_by_one: ModeCv | None = None


def warm_up_cv(head, prior: modes.SettingPrior, stats: np.ndarray, labels: np.ndarray,
               speakers: np.ndarray, plain: np.ndarray, emotions: tuple[str, ...], rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, list, list]:
    """The warmed-up mode on one left-out corpus (clip statistics ``(n, L, 2D)``, their labels,
    speakers and plain readings ``(n, C)``): each speaker with a clip of every prompted emotion
    warms up with one of each, drawn at random, and the rest of their clips are read against it.
    Returns the probabilities ``(n, C)`` (NaN rows: warm-up clips, and speakers never read so),
    which clips were read in the mode, and two failure cases as (clips, right in the mode, right
    plain, whether its emotion was prompted): one-emotion sessions after an acted warm-up (each
    speaker's other clips of one emotion), and a warm-up not acted (four clips of one of the
    speaker's emotions, named as the four prompts; the speaker's other clips read)."""
    probs = np.full(plain.shape, np.nan, np.float32)
    one_emotion, not_acted = [], []
    for speaker in np.unique(speakers):
        mine = np.flatnonzero(speakers == speaker)
        if any(not (labels[mine] == k).any() for k in WARM_UP_PROMPTS):
            continue
        warm = np.array([rng.choice(mine[labels[mine] == k]) for k in WARM_UP_PROMPTS])
        rest = np.setdiff1d(mine, warm)
        read = read_warmed_up(head, warm_up_of(head, prior, stats[warm]), stats[rest])
        if read is not None:
            probs[rest] = read
        readings = plain[rest] if read is None else read
        for k in np.unique(labels[rest]):
            alike = (labels[rest] == k).nonzero()[0][:config.ADAPT_EVAL_CLIPS]
            if len(alike) >= config.ONE_EMOTION_MIN_CLIPS:
                one_emotion.append((len(alike), n_right(readings[alike], labels[rest[alike]], emotions),
                                    n_right(plain[rest[alike]], labels[rest[alike]], emotions),
                                    k in WARM_UP_PROMPTS))
        pool = mine[labels[mine] == rng.choice(np.unique(labels[mine]))]
        if len(pool) > len(WARM_UP_PROMPTS):
            warm = rng.choice(pool, len(WARM_UP_PROMPTS), replace=False)
            rest = np.setdiff1d(mine, warm)
            read = read_warmed_up(head, warm_up_of(head, prior, stats[warm]), stats[rest])
            not_acted.append((len(rest), n_right(plain[rest] if read is None else read, labels[rest], emotions),
                              n_right(plain[rest], labels[rest], emotions), True))
    return probs, ~np.isnan(probs).any(1), one_emotion, not_acted


def sessions_report(rows: list) -> dict | None:
    """(clips, right in the mode, right plain, …) per session, as accuracies over all their clips."""
    if not rows:
        return None
    clips, in_mode, plain_right = np.array([row[:3] for row in rows]).sum(0)
    return {"sessions": len(rows), "clips": int(clips), "accuracy": round(float(in_mode / clips), 4),
            "plain_accuracy": round(float(plain_right / clips), 4)}


def corpus_cv(stats: np.ndarray, data: Corpora, head_cfg: HeadConfig, cfg: TrainConfig,
              copies=()) -> dict[str, ModeCv]:
    """Leave-one-corpus-out for the four modes. On each left-out corpus: plain; adapted, each
    setting (``settings_of``) z-normalised by its own clips; voice, each speaker with enough
    neutral clips referenced by ``config.VOICE_REFERENCE_CLIPS`` of them and scored on the
    rest; warmed up (``warm_up_cv``). The adapted settings are also heard one by one
    (``ModeCv.one_by_one``). Each adaptation is also run on one-emotion sessions against plain;
    for the warm-up those of emotions it did not ask for apart too (``one_emotion["not_prompted"]``),
    and a warm-up not acted (``one_emotion["not_acted"]``). The plain heads also learn
    from the training clips' augmented ``copies`` (``fit_modes``)."""
    rng = np.random.default_rng(cfg.seed)
    # Its own draws, so that the other modes' figures stay those measured before it was added.
    warm_rng = np.random.default_rng(cfg.seed + 1)
    n, n_classes = len(stats), head_cfg.n_classes
    out = {m: ModeCv(np.full((n, n_classes), np.nan, np.float32), np.zeros(n, bool)) for m in modes.MODES}
    one_by_one = out[modes.ADAPTED].one_by_one = ModeCv(np.full((n, n_classes), np.nan, np.float32),
                                                        np.zeros(n, bool))
    # (clips, right in mode, right plain) per session
    failures = {m: [] for m in (modes.ADAPTED, modes.VOICE, modes.WARMED_UP, ONE_BY_ONE)}
    not_prompted, not_acted = [], []  # the warm-up's: sessions of an emotion it did not ask for; not acted
    neutral = config.EMOTIONS.index("neutral")
    fold_cfg = replace(cfg, n_members=cfg.cv_members)
    for c in data.corpus_ids:
        test = np.flatnonzero(data.corpora == c)
        heads = fit_modes(stats, data, data.corpora != c, head_cfg, fold_cfg, copies)
        prior = modes.SettingPrior.of(stats[data.corpora != c], data.corpora[data.corpora != c])
        plain = heads[modes.PLAIN].predict_proba(stats[test])
        for m in modes.MODES:
            out[m].probs[test] = plain
        one_by_one.probs[test] = plain
        out[modes.PLAIN].used[test] = True
        y, speakers = data.labels[test], data.speakers[test]
        for group in settings_of(speakers, rng):
            probs = read_adapted(heads[modes.ADAPTED], prior, stats[test[group]])
            if probs is not None:
                out[modes.ADAPTED].probs[test[group]], out[modes.ADAPTED].used[test[group]] = probs, True
            probs, used = read_adapted_one_by_one(heads[modes.ADAPTED], prior, stats[test[group]])
            read = test[group[used]]
            one_by_one.probs[read], one_by_one.used[read] = probs[used], True
        for speaker in np.unique(speakers):
            mine = np.flatnonzero(speakers == speaker)
            calm = mine[y[mine] == neutral]
            if len(calm) <= config.VOICE_REFERENCE_CLIPS:
                continue
            ref = rng.choice(calm, config.VOICE_REFERENCE_CLIPS, replace=False)
            rest = rng.permutation(np.setdiff1d(mine, ref))  # the order they are heard in
            if modes.VOICE in heads:
                probs, used = read_voice(heads[modes.VOICE], stats[test[ref]].mean(0), stats[test[rest]])
                read = test[rest[used]]
                out[modes.VOICE].probs[read], out[modes.VOICE].used[read] = probs[used], True
        emotions = CORPORA[c].emotions
        probs, used, alike, unacted = warm_up_cv(heads[modes.ADAPTED], prior, stats[test], y, speakers, plain,
                                                 emotions, warm_rng)
        out[modes.WARMED_UP].probs[test[used]], out[modes.WARMED_UP].used[test[used]] = probs[used], True
        failures[modes.WARMED_UP] += alike
        not_prompted += [row for row in alike if not row[3]]
        not_acted += unacted
        for session in one_emotion_sessions(speakers, y):
            probs = read_adapted(heads[modes.ADAPTED], prior, stats[test[session]])
            failures[modes.ADAPTED].append((len(session), n_right(plain[session] if probs is None else probs,
                                                                  y[session], emotions),
                                            n_right(plain[session], y[session], emotions)))
            probs, used = read_adapted_one_by_one(heads[modes.ADAPTED], prior, stats[test[session]])
            failures[ONE_BY_ONE].append((len(session), n_right(np.where(used[:, None], probs, plain[session]),
                                                               y[session], emotions),
                                         n_right(plain[session], y[session], emotions)))
            ref, rest = session[:config.VOICE_REFERENCE_CLIPS], session[config.VOICE_REFERENCE_CLIPS:]
            probs = plain[rest]
            if modes.VOICE in heads:
                voice, used = read_voice(heads[modes.VOICE], stats[test[ref]].mean(0), stats[test[rest]])
                probs = np.where(used[:, None], voice, probs)
            failures[modes.VOICE].append((len(rest), n_right(probs, y[rest], emotions),
                                          n_right(plain[rest], y[rest], emotions)))
    for m, rows in failures.items():
        (one_by_one if m == ONE_BY_ONE else out[m]).one_emotion = sessions_report(rows)
    if out[modes.WARMED_UP].one_emotion:
        out[modes.WARMED_UP].one_emotion |= {"not_prompted": sessions_report(not_prompted),
                                             "not_acted": sessions_report(not_acted)}
    return out


def calibrate_mode(cv: ModeCv, plain: tuple[np.ndarray, np.ndarray], data: Corpora, guard: dict) -> ReadingMode:
    """A mode's temperature (fitted on its left-out readings), the unsure threshold at which
    those readings are right ``config.SURE_ACCURACY`` of the time, and its transfer report as
    used: each left-out corpus calibrated by a temperature and threshold fitted without it, its
    fallback clips read plain (``plain``: their calibrated readings and thresholds from
    ``plain_readings``)."""
    emotions = corpus_emotions(data.corpus_ids)
    used = cv.used

    def fitted(rows: np.ndarray) -> tuple[float, float]:
        if not rows.any():  # no reading in the mode to calibrate on
            return 1.0, config.UNSURE_BELOW
        t = calibration.fit_temperature(cv.probs[rows], data.labels[rows], data.corpora[rows], emotions)
        cut = calibration.sure_threshold(calibration.sharpen(cv.probs[rows], t), data.labels[rows],
                                         data.corpora[rows], emotions)
        return t, cut

    def report(readings: ModeCv, c: str, mode_t: float, cut: float) -> dict:
        rows = data.corpora == c
        in_mode = readings.used[rows]
        calibrated = np.where(in_mode[:, None], calibration.sharpen(readings.probs[rows], mode_t), plain[0][rows])
        thresholds = np.where(in_mode, cut, plain[1][rows])
        return evaluation.transfer_score(data.labels[rows], calibrated, CORPORA[c].emotions, thresholds) | {
            "temperature": round(mode_t, 4), "unsure_below": cut, "read_in_mode": round(float(in_mode.mean()), 4)}

    temperature, unsure_below = fitted(used)
    reports, one_by_one = {}, {}
    for c in data.corpus_ids:
        rows = data.corpora == c
        mode_t, cut = fitted(used & ~rows)
        reports[c] = report(cv, c, mode_t, cut)
        if cv.one_by_one is not None:  # calibrated as the mode is: on readings of whole settings
            one_by_one[c] = report(cv.one_by_one, c, mode_t, cut)
    # A guard that let no left-out clip read in the mode leaves it plain there, as it is used.
    fitted_on = ("leave-one-corpus-out readings of " if used.any()
                 else "not fitted: never read in this mode on the left-out corpora of ")
    fitted_on += ", ".join(data.corpus_ids)
    heard = ({"transfer": one_by_one, "one_emotion": cv.one_by_one.one_emotion}
             if cv.one_by_one is not None else None)
    return ReadingMode(Calibration(round(temperature, 4), unsure_below, fitted_on), None, reports,
                       cv.one_emotion, guard, heard)


def mode_guard(mode: str) -> dict:
    """A mode's guard settings, recorded in the card: inference reads them from there."""
    if mode == modes.ADAPTED:
        return {"shrink_clips": config.ADAPT_SHRINK_CLIPS, "min_variety": config.ADAPT_MIN_VARIETY,
                "one_by_one": {"shrink_clips": config.ADAPT_ONE_BY_ONE_SHRINK_CLIPS,
                               "min_variety": config.ADAPT_ONE_BY_ONE_MIN_VARIETY}}
    if mode == modes.WARMED_UP:
        return {"prompts": list(config.WARM_UP_PROMPTS), "shrink_clips": config.WARM_UP_SHRINK_CLIPS,
                "l2": list(config.WARM_UP_L2), "min_agreement": config.WARM_UP_MIN_AGREEMENT}
    return {"min_variety": config.VOICE_MIN_VARIETY}


def train_model(kind: str, data: Corpora, models_dir: Path = config.MODELS_DIR,
                checkpoint: str | None = None, with_cv: bool = True,
                train_config: TrainConfig | None = None, progress: bool = True) -> Path:
    """Cross-validate, calibrate and train the final model of ``kind`` on all of ``data``, one
    head per reading mode (``ser.modes``); save them under ``models_dir/<kind>``."""
    cfg = train_config or TrainConfig()
    backbone = get_backbone(kind, checkpoint)
    head_cfg = head_config(kind, checkpoint)
    stats = clip_stats(kind, data, checkpoint, progress)
    copies = augmented_stats(kind, data, cfg.augmented_copies, checkpoint, progress)
    calibrations = {m: Calibration() for m in modes.MODES}
    speaker_probs = speaker_report = transfer = familiar = familiar_to = None
    # With one corpus there are no left-out corpora to calibrate a mode on: plain only.
    cards: dict[str, ReadingMode | None] = {modes.ADAPTED: None, modes.VOICE: None, modes.WARMED_UP: None}
    cv = None
    if with_cv:
        folds = evaluation.speaker_folds(data.corpora, data.speakers)
        speaker_probs = cross_validate(stats, data.labels, data.allowed, data.corpora, folds, head_cfg, cfg,
                                       copies)
    if with_cv and len(data.corpus_ids) > 1:
        cv = corpus_cv(stats, data, head_cfg, cfg, copies)
        scores = HeldOutScores(speaker_probs, cv[modes.PLAIN].probs,
                               *familiarity.held_out(stats, data.corpora, folds))
        rule = fit_plain_confidence(scores, data, np.ones(len(stats), bool))
        names = ", ".join(data.corpus_ids)
        calibrations[modes.PLAIN] = Calibration(rule.unfamiliar_t, rule.unsure_below,
                                                "leave-one-corpus-out predictions of " + names)
        familiar = Familiar(rule.above, Calibration(rule.familiar_t, config.UNSURE_BELOW,
                                                    "folds by speaker inside " + names),
                            {"speaker_folds": round(float(np.mean(scores.new_speaker >= rule.above)), 4),
                             "transfer": round(float(np.mean(scores.new_corpus >= rule.above)), 4)})
        familiar_to = familiarity.fit(stats, data.corpora)
        readings = plain_readings(scores, data)
        transfer = transfer_reports(readings["transfer"], data)
        speaker_report = speaker_fold_reports(readings["speaker_folds"], data)
        for m in cards:
            cards[m] = calibrate_mode(cv[m], readings["transfer"], data, mode_guard(m))
            calibrations[m] = cards[m].calibration
    elif speaker_probs is not None:  # one corpus: none left out to calibrate on
        speaker_report = speaker_fold_reports((speaker_probs, np.full(len(stats), config.UNSURE_BELOW)), data)
    if not with_cv:  # uncalibrated heads for every mode, with their guards
        cards = {m: ReadingMode(Calibration(), guard=mode_guard(m)) for m in cards}
    heads = fit_modes(stats, data, np.ones(len(stats), bool), head_cfg, cfg, copies)
    # The warm-up reads with the adapted head: it needs no head of its own.
    reads_with = {modes.WARMED_UP: modes.ADAPTED}
    cards = {m: card if reads_with.get(m, m) in heads else None for m, card in cards.items()}
    for m, head in heads.items():
        head.temperature.fill_(calibrations[m].temperature)
    entry = REGISTRY[kind]
    card = ModelCard(
        id=kind,
        name=entry.model_name,
        labels=list(config.EMOTIONS),
        backbone=BackboneInfo(kind, backbone.id, backbone.name, backbone.source, backbone.n_layers,
                              backbone.dim, backbone.frame_rate_hz, checkpoint),
        head={"config": head_cfg.to_dict(), "n_members": cfg.n_members,
              "layer_weights": [[round(w, 4) for w in m.layer_weights()] for m in heads[modes.PLAIN].members]},
        training={"corpora": data.corpus_ids, "data": data.description, "data_sha256": data.sha256,
                  "config": cfg.to_dict()},
        calibration=calibrations[modes.PLAIN],
        familiar=familiar,
        speaker_folds=speaker_report,
        transfer=transfer,
        adapted=cards[modes.ADAPTED],
        voice=cards[modes.VOICE],
        warmed_up=cards[modes.WARMED_UP],
        citations=citations(data.corpus_ids),
    )
    prior = modes.SettingPrior.of(stats, data.corpora)
    mode_heads = {m: heads[m] for m in cards if cards[m] is not None and m in heads}
    folder = save_model(Path(models_dir) / kind, heads[modes.PLAIN], card, mode_heads, prior, familiar_to)
    if with_cv:
        result = CvResult(speaker_probs, cv[modes.PLAIN].probs if cv else None)
        predictions_frame(data, result).round(5).to_csv(folder / CV_PREDICTIONS_FILE, index=False)
    return folder


def fit_fusion(models_dir: Path = config.MODELS_DIR) -> Path | None:
    """Stack the saved models' leave-one-corpus-out predictions into fusion weights, write
    ``models_dir/fusion.json`` (weights, and the fused verdict's transfer report with each
    corpus scored by weights fitted without it); None with fewer than two such models."""
    import json

    folders = [p.parent for p in sorted(Path(models_dir).glob(f"*/{CV_PREDICTIONS_FILE}"))]
    frames = {f.name: pd.read_csv(f / CV_PREDICTIONS_FILE) for f in folders}
    out_cols = [f"corpus_out:{e}" for e in config.EMOTIONS]
    frames = {k: f for k, f in frames.items() if set(out_cols) <= set(f.columns)}
    if len(frames) < 2:
        return None
    first = next(iter(frames.values()))
    if any(not f["path"].equals(first["path"]) for f in frames.values()):
        raise ValueError("the models were cross-validated on different clips; retrain them together")
    ids = list(frames)
    probs = [frames[k][out_cols].to_numpy() for k in ids]
    labels = first["emotion"].map(config.EMOTIONS.index).to_numpy()
    corpora = first["corpus"].to_numpy()
    emotions = corpus_emotions(sorted(set(corpora)))
    weights = calibration.fit_fusion(probs, labels, corpora, emotions)
    held_out = {}
    for c in sorted(set(corpora)):
        rows = corpora == c
        w = calibration.fit_fusion([p[~rows] for p in probs], labels[~rows], corpora[~rows], emotions)
        fused = calibration.fuse([p[rows] for p in probs], w)
        held_out[c] = evaluation.transfer_score(labels[rows], fused, emotions[c], config.UNSURE_BELOW)
        held_out[c]["weights"] = dict(zip(ids, np.round(w, 4).tolist()))
    path = Path(models_dir) / FUSION_FILE
    path.write_text(json.dumps(fusion_report(ids, weights, held_out), indent=2) + "\n")
    return path

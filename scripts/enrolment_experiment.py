"""An acted warm-up measured on corpora the models never heard (docs/experiments.md, round 3,
section 10): what four prompted sentences of a new speaker give before their other clips are read.

The protocol a presenter could follow: say a sentence four times, as the page asks, plainly
(neutral), happily, sadly and angrily. Those four clips are labelled by their prompts, so beyond
what an unlabelled setting gives (``ser.modes``: z-normalising by the clips heard) they tell the
models which way this voice, room and microphone lean: a per-emotion bias on the log-probabilities,
fitted so that the four clips read as prompted (L2 toward no bias). Leave-one-corpus-out, one
plain and one adapted head per left-out corpus and seed (one member, the shipped recipe), each
speaker of the left-out corpus with all four emotions:

- *acted*: the warm-up is one clip of each prompted emotion, drawn at random; every other clip of
  the speaker is read (``plain``; ``adapted``: normalised by the four; ``+bias``); and the next
  ``config.ADAPT_EVAL_CLIPS`` of them as a live session heard clip by clip (the Live page's
  adapted mode with its guard), with and without the warm-up heard first, and with its bias;
- *not acted*: the failure case, a speaker who says all four prompts in one voice: four clips of
  one emotion of theirs, named as the four prompts.

Also printed: a guard that uses the warm-up only where its clips name their own prompts
(``agreement``), how well it tells the two cases apart, the main readings calibrated as a
mode would be (a temperature and unsure threshold fitted on the other left-out corpora), and
one-emotion sessions heard live after an acted warm-up (the issue's "no mode below plain").

Usage: ``python scripts/enrolment_experiment.py --data ../shared/data [--model whisper-base]
[--seeds 0 1] [--prompts neutral happy sad angry] [--json OUT]``; per seed about ten minutes on
one core for Whisper base, its features cached by ``python -m ser train``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ser import calibration, config, experiment, modes  # noqa: E402
from ser.corpora import CORPORA  # noqa: E402
from ser.evaluation import transfer_score  # noqa: E402
from ser.modes import agreement, biased, prompt_bias, prompt_l2  # noqa: E402
from ser.training import TrainConfig, fit_ensemble  # noqa: E402

# What a page would ask for, in order: the four emotions every corpus here has.
PROMPTS = tuple(config.EMOTIONS.index(e) for e in ("neutral", "happy", "sad", "angry"))
# Strength of the pull toward no bias, in squared log-probability: on the prompted emotions, and on
# the others, which the warm-up can only push down.
BIAS_L2 = ((0.1, 0.1), (0.3, 0.3), (0.1, 1.0), (0.1, 3.0))
# The one the live sessions and the guard use (one of BIAS_L2): the first measurements' choice.
# The shipped one, config.WARM_UP_L2, was chosen by this script's one-emotion sessions.
LIVE_BIAS_L2 = (0.1, 0.1)
# A guard against a warm-up not acted: use it only where the four clips, read adapted to each
# other (before any bias), give their own prompts at least this share of the prompts' probability.
GUARD_AGREEMENT = (0.30, 0.35, 0.40)
# Calibrated as a mode would be: a temperature and unsure threshold fitted on the other corpora.
CALIBRATED = ("plain", "adapted to the warm-up + its bias (L2 0.1/0.1)", "live session, adapted (shipped)",
              "live session, adapted after the warm-up + its bias")


def live_session(heads, prior, warm_up: np.ndarray | None, session: np.ndarray, plain: np.ndarray,
                 l2: float | None, prompts=PROMPTS) -> np.ndarray:
    """The Live page's adapted mode over ``session`` ``(n, L, 2D)`` heard clip by clip after the
    ``warm_up`` clips ``(4, L, 2D)`` (or none), its guard's plain fallback from ``plain`` ``(n, C)``;
    with ``l2`` (prompted, not prompted), each reading also biased by the warm-up read in the same
    normalisation."""
    if l2 is None:
        seq = session if warm_up is None else np.concatenate([warm_up, session])
        probs, used = experiment.read_adapted_one_by_one(heads[modes.ADAPTED], prior, seq)
        probs, used = probs[-len(session):], used[-len(session):]
        return np.where(used[:, None], probs, plain)
    heard, out = modes.SettingStatistics(), np.empty_like(plain)
    for clip in warm_up:
        heard.add(clip)
    for k, clip in enumerate(session):
        heard.add(clip)
        mean, std = heard.normaliser(prior, config.ADAPT_ONE_BY_ONE_SHRINK_CLIPS)
        bias = prompt_bias(heads[modes.ADAPTED].predict_proba((warm_up - mean) / std), prompts,
                           prompt_l2(prompts, plain.shape[1], *l2))
        out[k] = biased(heads[modes.ADAPTED].predict_proba((clip - mean) / std)[None], bias)[0]
    return out


def measure(kind: str, data: experiment.Corpora, seed: int, prompts=PROMPTS) -> tuple[dict, dict, list, list]:
    """For one seed: {protocol: {corpus: transfer report (uar, per-class recall, ...)}}, the same
    readings as {protocol: {corpus: (labels, probabilities)}}, each warm-up's (tag,
    ``agreement``), and for each one-emotion session heard live after an acted warm-up (the
    speaker's other clips of one emotion) its emotion, size and clips right plain, in the shipped
    adapted mode, after the warm-up with its bias, and so behind the guard at its lowest setting,
    and read against the warm-up alone with its bias at each ``BIAS_L2`` (no clip of the session
    in the normalising).
    A speaker without a clip of every emotion in ``prompts`` is left out."""
    stats = experiment.clip_stats(kind, data, progress=False)
    head_cfg = experiment.head_config(kind)
    cfg = replace(TrainConfig(seed=seed), n_members=1)
    rng = np.random.default_rng(1000 + seed)
    reports: dict[str, dict] = {}
    pooled: dict[str, dict] = {}
    agreements, one_emotion = [], []
    for c in data.corpus_ids:
        train = data.corpora != c
        heads = {}
        for mode, (x, _) in experiment.mode_inputs(stats, data, train).items():
            if mode in (modes.PLAIN, modes.ADAPTED):
                idx = np.flatnonzero(train)
                heads[mode] = fit_ensemble(x, data.labels[idx], data.allowed[idx], data.corpora[idx],
                                           head_cfg, cfg)
        prior = modes.SettingPrior.of(stats[train], data.corpora[train])
        test = np.flatnonzero(data.corpora == c)
        y, speakers, x_test = data.labels[test], data.speakers[test], stats[test]
        plain = heads[modes.PLAIN].predict_proba(x_test)
        readings: dict[str, tuple[list, list]] = {}

        def put(name, rows, probs):
            readings.setdefault(name, ([], []))[0].append(rows)
            readings[name][1].append(probs)

        for speaker in np.unique(speakers):
            mine = np.flatnonzero(speakers == speaker)
            if any(not (y[mine] == k).any() for k in prompts):
                continue
            for acted in (True, False):
                if acted:
                    warm = np.array([rng.choice(mine[y[mine] == k]) for k in prompts])
                else:
                    pool = mine[y[mine] == rng.choice(np.unique(y[mine]))]
                    if len(pool) <= len(prompts):
                        continue
                    warm = rng.choice(pool, len(prompts), replace=False)
                tag = "acted" if acted else "not acted"
                rest = rng.permutation(np.setdiff1d(mine, warm))
                heard = modes.SettingStatistics()
                for clip in x_test[warm]:
                    heard.add(clip)
                mean, std = heard.normaliser(prior, config.ADAPT_ONE_BY_ONE_SHRINK_CLIPS)
                adapted = heads[modes.ADAPTED].predict_proba((x_test[rest] - mean) / std)
                adapted_warm = heads[modes.ADAPTED].predict_proba((x_test[warm] - mean) / std)
                put(f"{tag}: plain", rest, plain[rest])
                put(f"{tag}: adapted to the warm-up", rest, adapted)
                agreed = agreement(adapted_warm, prompts)
                agreements.append((tag, agreed))
                against_warm_up = {}  # L2 -> readings adapted to the warm-up, with its bias
                for l2 in BIAS_L2:
                    per_class = prompt_l2(prompts, plain.shape[1], *l2)
                    put(f"{tag}: plain + warm-up bias (L2 {l2[0]}/{l2[1]})", rest,
                        biased(plain[rest], prompt_bias(plain[warm], prompts, per_class)))
                    against_warm_up[l2] = biased(adapted, prompt_bias(adapted_warm, prompts, per_class))
                    put(f"{tag}: adapted to the warm-up + its bias (L2 {l2[0]}/{l2[1]})", rest,
                        against_warm_up[l2])
                session = rest[:config.ADAPT_EVAL_CLIPS]
                put(f"{tag}: live session, plain", session, plain[session])
                shipped = live_session(heads, prior, None, x_test[session], plain[session], None)
                put(f"{tag}: live session, adapted (shipped)", session, shipped)
                put(f"{tag}: live session, adapted after the warm-up", session,
                    live_session(heads, prior, x_test[warm], x_test[session], plain[session], None))
                warmed = live_session(heads, prior, x_test[warm], x_test[session], plain[session],
                                      LIVE_BIAS_L2, prompts)
                put(f"{tag}: live session, adapted after the warm-up + its bias", session, warmed)
                static = against_warm_up[LIVE_BIAS_L2]
                position = np.zeros(len(test), int)  # where each of the speaker's clips stands in ``rest``
                position[rest] = np.arange(len(rest))
                for k in np.unique(y[rest]) if acted else ():
                    alike = rest[y[rest] == k][:config.ADAPT_EVAL_CLIPS]
                    if len(alike) < config.ONE_EMOTION_MIN_CLIPS:
                        continue
                    readings_alike = (
                        plain[alike], live_session(heads, prior, None, x_test[alike], plain[alike], None),
                        live_session(heads, prior, x_test[warm], x_test[alike], plain[alike], LIVE_BIAS_L2,
                                     prompts))
                    # read against the warm-up alone, at each L2
                    readings_alike += tuple(against_warm_up[l2][position[alike]] for l2 in BIAS_L2)
                    right = [experiment.n_right(r, y[alike], CORPORA[c].emotions) for r in readings_alike]
                    one_emotion.append((config.EMOTIONS[k], len(alike), *right[:3],
                                        right[2] if agreed >= GUARD_AGREEMENT[0] else right[1], *right[3:]))
                for cut in GUARD_AGREEMENT:
                    put(f"{tag}: adapted to the warm-up + its bias, guarded at {cut}", rest,
                        static if agreed >= cut else plain[rest])
                    put(f"{tag}: live session after the warm-up + its bias, guarded at {cut}", session,
                        warmed if agreed >= cut else shipped)
        for name, (rows, probs) in readings.items():
            rows, probs = np.concatenate(rows), np.concatenate(probs)
            pooled.setdefault(name, {})[c] = (y[rows], probs)
            report = transfer_score(y[rows], probs, CORPORA[c].emotions)
            report["right"] = int(round(report["accuracy"] * report["n"]))
            reports.setdefault(name, {})[c] = report
        print(f"{kind} seed {seed}: {c} done", file=sys.stderr, flush=True)
    return reports, pooled, agreements, one_emotion


def calibrated(pooled: dict) -> dict:
    """Each corpus's readings ``pooled`` ({corpus: (labels, probs)}) at a temperature and unsure
    threshold fitted on the other corpora's (``experiment.calibrate_mode``'s protocol): their
    calibration error, unsure share and accuracy when sure."""
    emotions = {c: CORPORA[c].emotions for c in pooled}
    out = {}
    for c, (y, probs) in pooled.items():
        others = [d for d in pooled if d != c]
        y_o = np.concatenate([pooled[d][0] for d in others])
        p_o = np.concatenate([pooled[d][1] for d in others])
        corpora = np.concatenate([[d] * len(pooled[d][0]) for d in others])
        t = calibration.fit_temperature(p_o, y_o, corpora, emotions)
        cut = calibration.sure_threshold(calibration.sharpen(p_o, t), y_o, corpora, emotions)
        out[c] = transfer_score(y, calibration.sharpen(probs, t), emotions[c], cut) | {"temperature": t,
                                                                                        "unsure_below": cut}
    return out


def table(per_seed: list[dict]) -> str:
    """Mean UAR per left-out corpus and over them (seeds averaged), each seed's mean, and the
    range of sad recall over corpora."""
    corpus_ids = sorted(next(iter(per_seed[0].values())))
    names = " | ".join(CORPORA[c].name for c in corpus_ids)
    lines = [f"| protocol | {names} | mean (per seed) | sad recall |",
             "|---|" + "---:|" * (len(corpus_ids) + 2)]
    for name in per_seed[0]:
        uar = np.array([[seed[name][c]["uar"] for c in corpus_ids] for seed in per_seed])
        sad = np.mean([[seed[name][c]["per_class_recall"]["sad"] for c in corpus_ids]
                       for seed in per_seed], 0)
        seeds = " / ".join(f"{u:.3f}" for u in uar.mean(1))
        lines.append(f"| {name} | " + " | ".join(f"{u:.3f}" for u in uar.mean(0))
                     + f" | {uar.mean():.3f} ({seeds}) | {sad.min():.2f}–{sad.max():.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", default="whisper-base", choices=config.SHIPPED_MODELS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--prompts", nargs="+", default=[config.EMOTIONS[k] for k in PROMPTS],
                        choices=config.EMOTIONS, help="the emotions the warm-up asks for, in order")
    parser.add_argument("--json", help="also write every report here")
    args = parser.parse_args()
    data = experiment.load_corpora(args.data)
    prompts = tuple(config.EMOTIONS.index(e) for e in args.prompts)
    runs = [measure(args.model, data, seed, prompts) for seed in args.seeds]
    per_seed = [reports for reports, *_ in runs]
    print(table(per_seed))
    print()
    for tag in ("acted", "not acted"):
        for name in CALIBRATED:
            per = [calibrated(pooled[f"{tag}: {name}"]) for _, pooled, *_ in runs]
            mean = {k: [r[k] for seed in per for r in seed.values() if r[k] is not None]
                    for k in ("ece", "unsure_share", "sure_accuracy")}
            sure = f"{np.mean(mean['sure_accuracy']):.2f}" if mean["sure_accuracy"] else "never sure"
            print(f"{tag}: {name}, calibrated on the other corpora: calibration error "
                  f"{np.mean(mean['ece']):.3f}, unsure {np.mean(mean['unsure_share']):.2f}, "
                  f"right when sure {sure}")
    from sklearn.metrics import roc_auc_score

    tags, values = zip(*[pair for _, _, agreements, _ in runs for pair in agreements])
    acted = np.array(tags) == "acted"
    print(f"warm-up agreement: acted median {np.median(np.array(values)[acted]):.2f}, not acted "
          f"{np.median(np.array(values)[~acted]):.2f}, AUROC {roc_auc_score(acted, values):.3f}; "
          + ", ".join(f"acted kept at {cut}: {np.mean(np.array(values)[acted] >= cut):.2f}, not acted "
                      f"{np.mean(np.array(values)[~acted] >= cut):.2f}" for cut in GUARD_AGREEMENT))
    for seed, (*_, sessions) in zip(args.seeds, runs):
        for which, chosen in (("prompted", True), ("not prompted", False)):
            rows = [r for r in sessions if (config.EMOTIONS.index(r[0]) in prompts) == chosen]
            clips, plain, shipped, warmed, guarded, *alone = np.array([r[1:] for r in rows]).sum(0)
            print(f"seed {seed}, one-emotion live sessions after an acted warm-up, {which} emotions "
                  f"({len(rows)} sessions, {clips} clips), clips right: plain {plain}, shipped adapted "
                  f"{shipped - plain:+d}, after the warm-up + its bias {warmed - plain:+d}, the same guarded "
                  f"at {GUARD_AGREEMENT[0]} {guarded - plain:+d}, against the warm-up alone + its bias at L2 "
                  + ", ".join(f"{a}/{b}: {right - plain:+d}" for (a, b), right in zip(BIAS_L2, alone)))
    if args.json:
        record = {"model": args.model, "seeds": args.seeds, "prompts": args.prompts, "reports": per_seed}
        Path(args.json).write_text(json.dumps(record, default=float))


if __name__ == "__main__":
    main()

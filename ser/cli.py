"""Command line: ``python -m ser <command> ...``.

One small function per command, registered in ``build_parser``. Errors a user can
cause (bad folder, network, checksum, unreadable audio or model) print one line to
stderr and exit 2.
To add a command: write ``cmd_x(args) -> int``, add a parser in ``build_parser``
with ``set_defaults(func=cmd_x)``.

Heavy modules (torch, onnxruntime, transformers, pandas, scikit-learn) are imported
inside the commands that need them, so ``--help`` starts in a fraction of a second
and ``predict`` loads only what analysing a clip takes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ser import config
from ser.audio import AudioError
from ser.backbones import BACKBONE_KINDS, REGISTRY
from ser.cards import CardError, ModelCard, model_folders, read_card
from ser.corpora import CORPORA, CorpusIndex, index_corpora
from ser.dataset import RAVDESS_MD5, RAVDESS_URL, DownloadError, fetch_ravdess

if TYPE_CHECKING:
    import pandas as pd

    from ser.inference import ClipAnalysis

EXIT_OK = 0
EXIT_SOME_FILES_FAILED = 1  # predict: the other files were still analysed
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # shell convention for Ctrl-C
MD5_RE = re.compile(r"^[0-9a-fA-F]{32}$")
CHECKPOINT_KINDS = tuple(k for k, e in REGISTRY.items() if e.checkpoint_choice)  # --backbone picks weights
WHISPER_ONNX_FACTORY = "ser.backbones.whisper_onnx:whisper_backbone"  # backbones with an exported encoder


class UserError(Exception):
    """A mistake in the command's input that the message tells the user how to fix."""


# Failures the user can fix (paths, permissions, network, bad archives, audio, models):
# one line, no traceback.
USER_ERRORS = (UserError, DownloadError, AudioError, OSError)


# --- output -----------------------------------------------------------------------------
def _counts(labels: pd.Series, order) -> str:
    """One ``label count`` line per value in ``order`` (0 for absent values)."""
    counts = labels.value_counts().reindex(order, fill_value=0)
    return "\n".join(f"  {name:<10} {n:>5}" for name, n in counts.items())


def summary(index: CorpusIndex) -> str:
    """Human-readable counts per corpus, emotion and speaker, then every problem."""
    clips = index.clips
    lines = [f"{len(clips)} clips, {clips['speaker'].nunique()} speakers, "
             f"{clips['corpus'].nunique()} corpora, {len(index.problems)} problems"]
    for corpus, rows in clips.groupby("corpus"):
        genders = rows.drop_duplicates("speaker")["gender"].value_counts()
        lines += [f"{CORPORA[corpus].name}: {len(rows)} clips, {rows['speaker'].nunique()} speakers "
                  f"({genders.get('M', 0)} male, {genders.get('F', 0)} female)", "  per emotion:",
                  _counts(rows["emotion"], CORPORA[corpus].emotions), "  per speaker:",
                  _counts(rows["speaker"], sorted(rows["speaker"].unique()))]
    if index.problems:
        lines += ["problems:", *(f"  {p}" for p in index.problems)]
    return "\n".join(line for line in lines if line)


def cv_headline(card: ModelCard) -> str:
    """One line of a card's headline figures: transfer to unseen corpora, then RAVDESS."""
    from ser.reports import NOT_CROSS_VALIDATED

    if card.transfer is None and card.ravdess_uar is None:
        return NOT_CROSS_VALIDATED
    parts = [f"{CORPORA[c].name} UAR {r['uar']:.3f}" for c, r in (card.transfer or {}).items()]
    transfer = f"left-out corpora: {', '.join(parts)}" if parts else ""
    ravdess = f"RAVDESS folds by actor, 8 emotions: UAR {card.ravdess_uar:.3f}" if card.ravdess_uar else ""
    return "; ".join(p for p in (transfer, ravdess) if p)


def modes_line(card: ModelCard) -> str | None:
    """One line of a card's reading modes: each one's mean UAR on left-out corpora, and why a
    mode the model does not use (``ReadingMode.holds``) is not used; None without modes."""
    from ser.modes import ADAPTED, VOICE, WARMED_UP
    from ser.reports import MODE_TITLES, mean_uar

    parts = []
    for mode in (ADAPTED, VOICE, WARMED_UP):
        reading = getattr(card, mode)
        if reading is None or not reading.transfer:
            continue
        part = f"{MODE_TITLES[mode].lower()} UAR {mean_uar(reading.transfer):.3f}"
        if not reading.holds:
            case, report = reading.worst_failure()
            part += (f" (not used: {case}, accuracy {report['accuracy']:.3f} against "
                     f"{report['plain_accuracy']:.3f} plain)")
        parts.append(part)
    return ", ".join(parts) or None


def _reading(p) -> str:
    """One model's reading: the label, or "label or runner-up?" when unsure, its confidence,
    and the mode it was read in where that is not plain."""
    text = f"{p.label} or {p.runner_up}?" if p.unsure else p.label
    mode = "" if p.mode == "plain" else f"  ({p.mode})"
    return f"{text:<22} {p.confidence:.0%}{mode}"


def prediction_text(path: str, analysis: ClipAnalysis) -> str:
    """A ``ClipAnalysis`` as a few readable lines: the reading that measures best first, then
    the others, then the timeline of the fused verdict."""
    head = f"{path}  {analysis.duration_s:.2f} s"
    if not analysis.speech:
        return f"{head}  no speech detected"
    readings = dict(analysis.models, fused=analysis.fused)
    order = [analysis.lead] + [k for k in readings if k != analysis.lead]
    lines = [head] + [f"  {k:<13} {_reading(readings[k])}" for k in order]
    for w in analysis.timeline:
        verdict = _reading(w.fused) if w.fused else "no speech"
        lines.append(f"  {w.start_s:6.2f}-{w.end_s:6.2f} s  {verdict}")
    return "\n".join(lines)


def unscored_text(report: dict) -> str:
    """The clips of an ``evaluate_models`` report that got no prediction, one per line, and why."""
    from ser.evaluation import NO_SPEECH

    if not report["unscored"]:
        return "Every clip was scored."
    no_speech = sum(reason == NO_SPEECH for reason in report["unscored"].values())
    lines = [f"{no_speech} clips with no speech detected and {len(report['unscored']) - no_speech} "
             "unreadable, scored as wrong:"]
    return "\n".join(lines + [f"  {path}: {reason}" for path, reason in report["unscored"].items()])


def _write(path: str, text: str) -> None:
    Path(path).write_text(text if text.endswith("\n") else text + "\n")
    print(f"wrote {path}", file=sys.stderr)


# --- loading, with the user's mistakes as UserError ------------------------------------------
def _load_models(models_dir: str):
    """Every model under ``models_dir`` (list of ``EmotionModel``, display order)."""
    from ser.models import ModelError, load_models

    try:
        models = load_models(Path(models_dir))
    except ModelError as err:
        raise UserError(str(err)) from None
    if not models:
        raise UserError(f"{models_dir}: no models found (expected folders holding card.json)")
    return models


def _load_data(data_dir: str, only: list[str] | None = None):
    """The labelled clips of the corpora in ``data_dir`` (``experiment.Corpora``)."""
    from ser.experiment import load_corpora

    try:
        return load_corpora(data_dir, only)
    except ValueError as err:  # a folder without a known corpus
        raise UserError(str(err)) from None


def _one_torch_thread() -> None:
    """Run PyTorch on one thread for inference, where a backbone fell back to it (inference
    runs ONNX Runtime and loads PyTorch only then; call this after loading the models).

    The models run a clip as a chain of small operations, where a second thread
    gains little and waits a lot whenever the other core is busy: on 2 shared cores
    one thread analysed a 4 s clip 3-10x faster than the default two.
    """
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _check_backbone(args: argparse.Namespace) -> None:
    others = [k for k in (args.model or config.SHIPPED_MODELS) if k not in CHECKPOINT_KINDS]
    if args.backbone and others:
        raise UserError(f"--backbone chooses weights only for {', '.join(CHECKPOINT_KINDS)}, "
                        f"not {', '.join(others)}")


# --- commands -----------------------------------------------------------------------------
def cmd_data_download(args: argparse.Namespace) -> int:
    fetch_ravdess(args.dest, url=args.url, md5=args.md5)
    print(summary(index_corpora(args.dest)))
    return EXIT_OK


def cmd_data_index(args: argparse.Namespace) -> int:
    try:
        index = index_corpora(args.dir)
    except ValueError as err:
        raise UserError(str(err)) from None
    print(summary(index))
    if args.csv:
        index.clips.to_csv(args.csv, index=False)
        print(f"wrote {len(index.clips)} rows to {args.csv}")
    return EXIT_OK


def _train_all(args: argparse.Namespace, models_dir: Path) -> list[Path]:
    """Train (with both cross-validations) each requested model, then stack them."""
    from ser.experiment import TrainConfig, fit_fusion, train_model

    _check_backbone(args)
    if args.augmented_copies < 0:
        raise UserError("--augmented-copies must be 0 or more")
    recipe = TrainConfig(augmented_copies=args.augmented_copies)
    data = _load_data(args.data, args.corpora)
    kinds = args.model or list(config.SHIPPED_MODELS)
    folders = []
    for kind in kinds:
        print(f"{kind}: features, cross-validation, calibration, final model …", file=sys.stderr, flush=True)
        folders.append(train_model(kind, data, models_dir, checkpoint=args.backbone, with_cv=not args.no_cv,
                                   train_config=recipe))
    if len(kinds) > 1 and not args.no_cv:
        fit_fusion(models_dir)
    return folders


def _results(models_dir: Path, kinds: list[str]) -> str:
    from ser.reports import read_fusion, results_markdown

    cards = [read_card(f) for f in model_folders(models_dir) if f.name in kinds]
    fusion = read_fusion(models_dir) if len(kinds) > 1 else None
    return results_markdown(cards, fusion)


def cmd_train(args: argparse.Namespace) -> int:
    models_dir = Path(args.models_dir)
    folders = _train_all(args, models_dir)
    for folder in folders:
        print(f"wrote {folder}: {cv_headline(read_card(folder))}")
    if not args.no_cv:
        print(_results(models_dir, [f.name for f in folders]))
    return EXIT_OK


def cmd_cv(args: argparse.Namespace) -> int:
    import tempfile

    args.no_cv, args.models_dir = False, None
    with tempfile.TemporaryDirectory(prefix="ser-cv-") as scratch:  # the models are not kept
        folders = _train_all(args, Path(scratch))
        markdown = _results(Path(scratch), [f.name for f in folders])
    print(markdown)
    if args.markdown:
        _write(args.markdown, markdown)
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ser.evaluation import evaluate_models

    data = _load_data(args.data)  # first: a wrong folder is reported before the models load
    from ser.reports import read_fusion

    models = _load_models(args.models)
    _one_torch_thread()
    reports = evaluate_models(data, models, read_fusion(Path(args.models)))
    if args.json:
        print(json.dumps(reports, indent=2))
        return EXIT_OK
    for corpus in data.corpus_ids:
        print(f"{CORPORA[corpus].name}:")
        for model_id, by_corpus in reports.items():
            if model_id in ("unscored", "data_sha256"):
                continue
            r = by_corpus[corpus]
            neutral = "–" if r["neutral_recall"] is None else f"{r['neutral_recall']:.3f}"
            print(f"  {model_id:<13} UAR {r['uar']:.3f}  neutral recall {neutral}  "
                  f"calibration error {r['ece']:.3f}  unsure {r['unsure_share']:.0%}")
    print(unscored_text(reports))
    return EXIT_OK


def _analyse_file(path: str, models, fusion: dict | None, voice, setting) -> ClipAnalysis:
    """The analysis of the audio file at ``path``; ``AudioError`` for a file that cannot be
    analysed, whatever the reason, so that one file neither stops the rest nor prints a traceback."""
    from ser.audio import load_audio
    from ser.inference import analyse

    try:
        return analyse(load_audio(path), models, fusion, voice, setting)
    except AudioError:
        raise
    except Exception as err:  # noqa: BLE001 -- the models' failures share no base class
        raise AudioError(f"The analysis failed ({type(err).__name__}: {err}).") from err


def cmd_predict(args: argparse.Namespace) -> int:
    from ser.audio import message_for
    from ser.reports import read_fusion

    models = _load_models(args.models)
    _one_torch_thread()
    fusion = read_fusion(Path(args.models))
    voice = _voice(args, models) or _warm_up(args, models)
    # The voice's guard judges its reference by how the FILEs read against it: they are its clips.
    setting = _setting(args, models) if args.adapt or args.calibrate_with else None
    failed = 0
    for path in args.files:
        try:
            analysis = _analyse_file(path, models, fusion, voice, setting)
        except AudioError as err:
            failed += 1
            if args.format == "json":
                print(json.dumps({"path": path, "error": str(err)}), flush=True)
            else:
                print(f"error: {message_for(path, err)}", file=sys.stderr, flush=True)
            continue
        if args.format == "json":
            print(json.dumps({"path": path, **analysis.to_dict()}), flush=True)
        else:
            print(prediction_text(path, analysis), flush=True)
    return EXIT_SOME_FILES_FAILED if failed else EXIT_OK


def _setting(args: argparse.Namespace, models):
    """Every FILE heard as one setting (``inference.hear``); files that do not load are left
    out here and reported when they are analysed. Each file is decoded and heard again when it
    is analysed: keeping every file's frames would hold memory in proportion to the batch."""
    from ser.audio import load_audio
    from ser.inference import hear
    from ser.modes import Setting

    setting = Setting()
    for path in args.files:
        try:
            hear(load_audio(path), models, setting)
        except AudioError:
            continue
    return setting


def _voice(args: argparse.Namespace, models):
    """The speaker's plain voice from --calibrate-with, or None."""
    from ser.audio import load_audio, message_for
    from ser.inference import voice_reference

    if not args.calibrate_with:
        return None
    recordings = []
    for path in args.calibrate_with:
        try:
            recordings.append(load_audio(path))
        except AudioError as err:  # a reference the user chose must load
            raise UserError(f"calibration: {message_for(path, err)}") from None
    return voice_reference(recordings, models)


def _warm_up(args: argparse.Namespace, models):
    """The speaker's acted warm-up from --warm-up EMOTION=FILE …, or None."""
    from ser.audio import load_audio, message_for
    from ser.inference import warm_up_reference

    if not args.warm_up:
        return None
    takes = {}
    for item in args.warm_up:
        emotion, _, path = item.partition("=")
        if emotion not in config.WARM_UP_PROMPTS or not path:
            raise UserError(f"--warm-up: {item!r} is not EMOTION=FILE with EMOTION one of "
                            + ", ".join(config.WARM_UP_PROMPTS))
        try:
            takes[emotion] = load_audio(path)
        except AudioError as err:  # a warm-up the user chose must load
            raise UserError(f"warm-up: {message_for(path, err)}") from None
    try:
        warm_up = warm_up_reference(takes, models)
    except AudioError as err:
        raise UserError(f"warm-up: {err}") from None
    for model in models:  # on stderr, so that JSON on stdout stays one object a line
        print(f"warm-up: {model.id} {_warm_up_note(model, warm_up)}", file=sys.stderr, flush=True)
    return warm_up


def _warm_up_note(model, warm_up) -> str:
    """How ``model`` takes the warm-up: whether it reads against it, and how it heard each take."""
    from ser.inference import uses_warm_up

    reading = warm_up.models.get(model.id)
    if reading is None:
        held = model.card.warmed_up is not None and not model.card.warmed_up.holds
        return ("reads plain: in testing its warm-ups read worse than plain on voices it never heard" if held
                else "reads plain: it cannot read against a warm-up")
    heard = ", ".join(f"{config.EMOTIONS[p]} as {config.EMOTIONS[h]}"
                      for p, h in zip(reading.prompts, reading.heard_as(), strict=True))
    verdict = "reads against it" if uses_warm_up(model, warm_up) else "reads plain: the takes did not sound acted"
    return f"{verdict}; heard {heard}"


def cmd_models(args: argparse.Namespace) -> int:
    folders = model_folders(Path(args.models))
    if not folders:
        raise UserError(f"{args.models}: no models found (expected folders holding card.json)")
    for folder in folders:
        try:
            card = read_card(folder)
            lines = [f"{card.id}: {card.name}", f"  backbone: {card.backbone.name}",
                     f"  source:   {card.backbone.source}", f"  trained:  {card.training['data']}",
                     f"  measured: {cv_headline(card)}",
                     *([f"  modes:    {modes}"] if (modes := modes_line(card)) else []),
                     f"  unsure below {card.calibration.unsure_below:.0%} (temperature "
                     f"{card.calibration.temperature:.2f}, fitted on {card.calibration.fitted_on})"]
            if card.familiar:  # clips that sound like the training corpora
                familiar = card.familiar.calibration
                lines.append(f"  familiar clips: unsure below {familiar.unsure_below:.0%} (temperature "
                             f"{familiar.temperature:.2f}, fitted on {familiar.fitted_on})")
        except CardError as err:
            lines = [f"{folder.name}: unreadable card ({err})"]
        print("\n".join(lines))
    return EXIT_OK


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from ser.backbones.whisper_onnx import ensure_exported
    from ser.models import export_heads

    folders = model_folders(Path(args.models))
    if not folders:
        raise UserError(f"{args.models}: no models found (expected folders holding card.json)")
    try:
        cards = [read_card(folder) for folder in folders]
    except CardError as err:
        raise UserError(str(err)) from None
    kinds = {card.backbone.kind for card in cards}
    for kind in sorted(k for k in kinds if k in REGISTRY and REGISTRY[k].factory == WHISPER_ONNX_FACTORY):
        print(f"{kind}: {ensure_exported(REGISTRY[kind].params['variant'])}", file=sys.stderr)
    if args.heads:
        for folder in folders:
            for path in export_heads(folder):
                print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


# --- parser -------------------------------------------------------------------------------
def _md5(value: str) -> str:
    if not MD5_RE.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a 32-digit hex MD5")
    return value.lower()


def _add_data(commands) -> None:
    data = commands.add_parser("data", help="get and inspect the emotional-speech corpora")
    sub = data.add_subparsers(dest="subcommand", required=True)

    download = sub.add_parser("download", help="download, verify and extract the RAVDESS speech archive")
    download.add_argument("dest", metavar="DEST", help="folder to extract into (created if missing)")
    download.add_argument("--url", default=RAVDESS_URL, help="archive URL (default: Zenodo record 1188976)")
    download.add_argument("--md5", type=_md5, default=RAVDESS_MD5, metavar="HEX",
                          help="expected MD5 of the archive (default: the published MD5 of the Zenodo file)")
    download.set_defaults(func=cmd_data_download)

    known = ", ".join(c.name for c in CORPORA.values())
    index = sub.add_parser("index", help="count clips per corpus, emotion and speaker; list files that "
                                         "break a naming scheme")
    index.add_argument("dir", metavar="DIR", help=f"one corpus folder or a folder of corpora ({known})")
    index.add_argument("--csv", metavar="OUT", help="also write the index as CSV")
    index.set_defaults(func=cmd_data_index)


def _add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """--data, --model, --corpora and --backbone, shared by train and cv."""
    known = ", ".join(CORPORA)
    parser.add_argument("--data", required=True, metavar="DIR",
                        help=f"one corpus folder or a folder of corpora ({known})")
    parser.add_argument("--model", action="append", choices=BACKBONE_KINDS,
                        help="a backbone; repeat for several (default: the shipped ones, "
                             f"{', '.join(config.SHIPPED_MODELS)}, then their fused verdict)")
    parser.add_argument("--corpora", nargs="+", choices=list(CORPORA), metavar="ID",
                        help=f"use only these corpora of DIR ({known})")
    parser.add_argument("--backbone", metavar="ID",
                        help="wav2vec2 only: a transformers checkpoint id or local folder "
                             "(default facebook/wav2vec2-base)")
    parser.add_argument("--augmented-copies", type=int, default=0, metavar="N",
                        help="also train the plain heads on N copies of every clip as a laptop "
                             "microphone in a room might record it (cached; each copy costs a "
                             "feature pass; default 0, as the shipped models)")


def _add_models(commands) -> None:
    train = commands.add_parser("train", help="cross-validate, calibrate, then train and save models")
    _add_recipe_arguments(train)
    train.add_argument("--models-dir", default=str(config.MODELS_DIR), metavar="DIR",
                       help="where the model folders are written (default: %(default)s)")
    train.add_argument("--no-cv", action="store_true",
                       help="skip cross-validation (the card then has no figures and no calibration)")
    train.set_defaults(func=cmd_train)

    cv = commands.add_parser("cv", help="the results table: folds by speaker inside every corpus and "
                                        "leave-one-corpus-out, per model and fused (nothing is saved)")
    _add_recipe_arguments(cv)
    cv.add_argument("--markdown", metavar="OUT", help="also write the markdown tables")
    cv.set_defaults(func=cmd_cv)

    evaluate = commands.add_parser("evaluate", help="score the shipped models on every clip of a corpus "
                                                    "they never heard (e.g. a kept-back test set)")
    evaluate.add_argument("--data", required=True, metavar="DIR", help="one corpus folder or a folder of corpora")
    evaluate.add_argument("--models", default=str(config.MODELS_DIR), metavar="DIR",
                          help="models folder (default: %(default)s)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    evaluate.set_defaults(func=cmd_evaluate)

    predict = commands.add_parser("predict", help="the emotion in audio files, by every model and fused")
    predict.add_argument("files", nargs="+", metavar="FILE",
                         help="audio files (wav, flac, ogg, mp3, m4a, webm), each at most "
                              f"{config.MAX_DURATION_S:g} s long; set SER_MAX_DURATION_S to change the limit")
    predict.add_argument("--format", choices=("json", "text"), default="json",
                         help="json: one JSON object per line (default), with \"unsure\" per model and "
                              "for the fused verdict; text: readable lines")
    predict.add_argument("--models", default=str(config.MODELS_DIR), metavar="DIR",
                         help="models folder (default: %(default)s)")
    mode = predict.add_mutually_exclusive_group()
    mode.add_argument("--calibrate-with", nargs="+", metavar="REF",
                      help="read every FILE against the speaker's plain voice: REF are recordings of "
                           "that speaker reading plainly, in their everyday voice (at least "
                           f"{config.MIN_CALIBRATION_SPEECH_S:g} s of speech; about 10 s is enough). "
                           "FILEs that all read alike against REF (one emotion, or a REF spoken in it) "
                           "are read plain, as is a single FILE")
    mode.add_argument("--adapt", action="store_true",
                      help="treat all FILEs as one setting (same room, microphone, speakers) and read "
                           "each among the others; files too alike to adapt to (one emotion, most "
                           "likely) are read plain. JSON says per reading which \"mode\" it used")
    mode.add_argument("--warm-up", nargs="+", metavar="EMOTION=FILE",
                      help="read every FILE against the speaker's acted warm-up: one recording of a "
                           "sentence said " + ", ".join(f"{how} ({e}=FILE)" for e, how in config.WARM_UP_HOW.items())
                           + ". A warm-up whose takes do not sound like the emotions asked for is not "
                           "used: the FILEs are then read plain. Put -- between the takes and the FILEs")
    predict.set_defaults(func=cmd_predict)

    listing = commands.add_parser("models", help="list the models with their backbone and measured scores")
    listing.add_argument("--models", default=str(config.MODELS_DIR), metavar="DIR",
                         help="models folder (default: %(default)s)")
    listing.set_defaults(func=cmd_models)

    export = commands.add_parser("export-onnx", help="the ONNX files inference runs: export the Whisper "
                                                     "encoder the models use, once per checkpoint")
    export.add_argument("--models", default=str(config.MODELS_DIR), metavar="DIR",
                        help="models folder (default: %(default)s)")
    export.add_argument("--heads", action="store_true",
                        help="also export every model's heads again from their safetensors "
                             "(training writes them; nothing is retrained)")
    export.set_defaults(func=cmd_export_onnx)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ser", description="Speech emotion recognition studio.")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_data(commands)
    _add_models(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (argparse's own for usage errors and --help)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # usage errors and --help: argparse already printed why
        return exit_.code if isinstance(exit_.code, int) else EXIT_USER_ERROR
    try:
        return args.func(args)
    except USER_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted; a rerun resumes a partial download and reuses cached features", file=sys.stderr)
        return EXIT_INTERRUPTED

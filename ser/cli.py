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
from ser.backbones import BACKBONE_KINDS
from ser.dataset import RAVDESS_MD5, RAVDESS_URL, DatasetIndex, DownloadError, fetch_ravdess, index_dataset

if TYPE_CHECKING:
    import pandas as pd

    from ser.inference import ClipAnalysis

EXIT_OK = 0
EXIT_SOME_FILES_FAILED = 1  # predict: the other files were still analysed
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # shell convention for Ctrl-C
MD5_RE = re.compile(r"^[0-9a-fA-F]{32}$")
CHECKPOINT_KINDS = ("wav2vec2",)  # the backbone kinds whose weights --backbone can choose


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


def summary(index: DatasetIndex) -> str:
    """Human-readable counts per emotion and per actor, then every problem."""
    clips = index.clips
    actors = clips["actor"].map(lambda a: f"Actor_{a:02d}")
    genders = clips.drop_duplicates("actor")["gender"].value_counts()
    lines = [
        f"{len(clips)} clips, {actors.nunique()} actors ({genders.get('male', 0)} male, "
        f"{genders.get('female', 0)} female), {len(index.problems)} problems",
        "per emotion:",
        _counts(clips["emotion"], config.EMOTIONS),
        "per actor:",
        _counts(actors, sorted(actors.unique())),
    ]
    if index.problems:
        lines += ["problems:", *(f"  {p}" for p in index.problems)]
    return "\n".join(line for line in lines if line)


def cv_headline(cv: dict | None) -> str:
    """One line of a cross-validation report's headline figures."""
    from ser.evaluation import NOT_CROSS_VALIDATED

    if not cv:
        return NOT_CROSS_VALIDATED
    return (f"accuracy {cv['accuracy']:.3f}, UAR {cv['uar']:.3f}, macro-F1 {cv['macro_f1']:.3f} "
            f"({cv['n']} clips, {cv.get('folds', 'cross-validated')})")


def prediction_text(path: str, analysis: ClipAnalysis) -> str:
    """A ``ClipAnalysis`` as a few readable lines: the fused verdict, each model, the timeline."""
    head = f"{path}  {analysis.duration_s:.2f} s"
    if not analysis.speech:
        return f"{head}  no speech detected"
    lines = [f"{head}  fused: {analysis.fused.label} {analysis.fused.confidence:.2f}"]
    lines += [f"  {model_id:<12} {p.label:<10} {p.confidence:.2f}" for model_id, p in analysis.models.items()]
    for w in analysis.timeline:
        verdict = f"{w.fused.label} {w.fused.confidence:.2f}" if w.fused else "no speech"
        lines.append(f"  {w.start_s:6.2f}-{w.end_s:6.2f} s  {verdict}")
    return "\n".join(lines)


def unscored_text(report: dict) -> str:
    """The clips of an ``evaluate_models`` report that got no prediction, one per line, and why."""
    if not report["unscored"]:
        return "Every clip was scored."
    lines = [f"{report['no_speech']} clips with no speech detected and {report['unreadable']} unreadable, "
             "scored as wrong:"]
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


def _load_data(data_dir: str):
    """The labelled speech clips of a RAVDESS folder (``experiment.LabelledData``)."""
    from ser.experiment import load_labelled

    try:
        return load_labelled(data_dir)
    except ValueError as err:  # a folder without RAVDESS clips
        raise UserError(str(err)) from None


def _one_torch_thread() -> None:
    """Run PyTorch on one thread for inference.

    The models run a clip as a chain of small operations, where a second thread
    gains little and waits a lot whenever the other core is busy: on 2 shared cores
    one thread analysed a 4 s clip 3-10x faster than the default two.
    """
    import torch

    torch.set_num_threads(1)


def _check_backbone(args: argparse.Namespace) -> None:
    if args.backbone and args.model not in CHECKPOINT_KINDS:
        raise UserError(f"--backbone chooses weights only for {', '.join(CHECKPOINT_KINDS)}, "
                        f"not {args.model}")


# --- commands -----------------------------------------------------------------------------
def cmd_data_download(args: argparse.Namespace) -> int:
    index = fetch_ravdess(args.dest, url=args.url, md5=args.md5)
    print(summary(index))
    return EXIT_OK


def cmd_data_index(args: argparse.Namespace) -> int:
    index = index_dataset(args.dir)
    print(summary(index))
    if args.csv:
        index.clips.to_csv(args.csv, index=False)
        print(f"wrote {len(index.clips)} rows to {args.csv}")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from ser.experiment import train_model
    from ser.models import read_card

    _check_backbone(args)
    folder = train_model(args.model, _load_data(args.data), Path(args.models_dir),
                         checkpoint=args.backbone, with_cv=not args.no_cv)
    print(f"wrote {folder}")
    print(f"cross-validation: {cv_headline(read_card(folder)['cv'])}")
    return EXIT_OK


def cmd_cv(args: argparse.Namespace) -> int:
    from ser.evaluation import report_markdown
    from ser.experiment import run_cv

    _check_backbone(args)
    report, _ = run_cv(args.model, _load_data(args.data), checkpoint=args.backbone)
    name = f"{args.model} ({args.backbone})" if args.backbone else args.model
    markdown = report_markdown({name: report})
    print(markdown)
    if args.json:
        _write(args.json, json.dumps(report, indent=2))
    if args.markdown:
        _write(args.markdown, markdown)
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ser.evaluation import evaluate_models, report_markdown

    _one_torch_thread()
    data = _load_data(args.data)  # first: a wrong folder is reported before the models load
    reports = evaluate_models(data, _load_models(args.models))
    if args.json:
        print(json.dumps(reports, indent=2))
        return EXIT_OK
    print(report_markdown(reports))
    print()
    print(unscored_text(next(iter(reports.values()))))  # the same clips for every model
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    from ser.audio import load_audio, message_for
    from ser.inference import analyse

    _one_torch_thread()
    models = _load_models(args.models)
    failed = 0
    for path in args.files:
        try:
            analysis = analyse(load_audio(path), models)
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


def cmd_models(args: argparse.Namespace) -> int:
    from ser.models import ModelError, model_folders, read_card

    folders = model_folders(Path(args.models))
    if not folders:
        raise UserError(f"{args.models}: no models found (expected folders holding card.json)")
    for folder in folders:
        try:
            card = read_card(folder)
            backbone = card["backbone"]
            lines = [f"{card['id']}: {card['name']}", f"  backbone: {backbone['name']}",
                     f"  source:   {backbone['source']}", f"  CV:       {cv_headline(card.get('cv'))}"]
        except (ModelError, KeyError) as err:
            lines = [f"{folder.name}: unreadable card ({err})"]
        print("\n".join(lines))
    return EXIT_OK


# --- parser -------------------------------------------------------------------------------
def _md5(value: str) -> str:
    if not MD5_RE.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a 32-digit hex MD5")
    return value.lower()


def _add_data(commands) -> None:
    data = commands.add_parser("data", help="get and inspect the RAVDESS data")
    sub = data.add_subparsers(dest="subcommand", required=True)

    download = sub.add_parser("download", help="download, verify and extract the RAVDESS speech archive")
    download.add_argument("dest", metavar="DEST", help="folder to extract into (created if missing)")
    download.add_argument("--url", default=RAVDESS_URL, help="archive URL (default: Zenodo record 1188976)")
    download.add_argument("--md5", type=_md5, default=RAVDESS_MD5, metavar="HEX",
                          help="expected MD5 of the archive (default: the published MD5 of the Zenodo file)")
    download.set_defaults(func=cmd_data_download)

    index = sub.add_parser("index", help="count clips per emotion/actor and list files that break the scheme")
    index.add_argument("dir", metavar="DIR", help="a RAVDESS folder (Actor_XX/*.wav or *.flac)")
    index.add_argument("--csv", metavar="OUT", help="also write the index as CSV")
    index.set_defaults(func=cmd_data_index)


def _add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """--data, --model and --backbone, shared by train and cv."""
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="a RAVDESS folder (Actor_XX/*.wav or *.flac)")
    parser.add_argument("--model", required=True, choices=BACKBONE_KINDS, help="the backbone kind")
    parser.add_argument("--backbone", metavar="ID",
                        help="wav2vec2 only: a transformers checkpoint id or local folder "
                             "(default facebook/wav2vec2-base)")


def _add_models(commands) -> None:
    train = commands.add_parser("train",
                                help="cross-validate, then train and save a model on a RAVDESS folder")
    _add_recipe_arguments(train)
    train.add_argument("--models-dir", default=str(config.MODELS_DIR), metavar="DIR",
                       help="where the model folder is written (default: %(default)s)")
    train.add_argument("--no-cv", action="store_true", help="skip cross-validation (the card then has no CV)")
    train.set_defaults(func=cmd_train)

    cv = commands.add_parser("cv", help="speaker-independent cross-validation of a recipe (5 folds by actor)")
    _add_recipe_arguments(cv)
    cv.add_argument("--json", metavar="OUT", help="also write the report as JSON")
    cv.add_argument("--markdown", metavar="OUT", help="also write the markdown report")
    cv.set_defaults(func=cmd_cv)

    evaluate = commands.add_parser("evaluate", help="score the models on every clip of a RAVDESS folder")
    evaluate.add_argument("--data", required=True, metavar="DIR", help="a RAVDESS folder")
    evaluate.add_argument("--models", default=str(config.MODELS_DIR), metavar="DIR",
                          help="models folder (default: %(default)s)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of markdown")
    evaluate.set_defaults(func=cmd_evaluate)

    predict = commands.add_parser("predict", help="the emotion in audio files, by every model and fused")
    predict.add_argument("files", nargs="+", metavar="FILE",
                         help="audio files (wav, flac, ogg, mp3, m4a, webm), each at most "
                              f"{config.MAX_DURATION_S:g} s long; set SER_MAX_DURATION_S to change the limit")
    predict.add_argument("--format", choices=("json", "text"), default="json",
                         help="json: one JSON object per line (default); text: readable lines")
    predict.add_argument("--models", default=str(config.MODELS_DIR), metavar="DIR",
                         help="models folder (default: %(default)s)")
    predict.set_defaults(func=cmd_predict)

    listing = commands.add_parser("models", help="list the models with their backbone and CV scores")
    listing.add_argument("--models", default=str(config.MODELS_DIR), metavar="DIR",
                         help="models folder (default: %(default)s)")
    listing.set_defaults(func=cmd_models)


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

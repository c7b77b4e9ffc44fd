"""Command line: ``python -m ser <command> ...``.

One small function per command, registered in ``build_parser``. Errors a user can
cause (bad folder, network, checksum) print one line to stderr and exit 2.
To add a command: write ``cmd_x(args) -> int``, add a parser in ``build_parser``
with ``set_defaults(func=cmd_x)``.
"""

from __future__ import annotations

import argparse
import re
import sys

import pandas as pd

from ser import config
from ser.dataset import RAVDESS_MD5, RAVDESS_URL, DatasetIndex, DownloadError, fetch_ravdess, index_dataset

EXIT_OK = 0
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # shell convention for Ctrl-C
# Failures the user can fix (paths, permissions, network, bad archives): one line, no traceback.
USER_ERRORS = (DownloadError, OSError)
MD5_RE = re.compile(r"^[0-9a-fA-F]{32}$")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ser", description="Speech emotion recognition studio.")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_data(commands)
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
        print("interrupted; a partial download resumes on the next run", file=sys.stderr)
        return EXIT_INTERRUPTED

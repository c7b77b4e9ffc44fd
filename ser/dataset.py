"""RAVDESS on disk: parse the released file names, index a folder, fetch the archive.

Every RAVDESS clip is named ``MM-VV-EE-II-SS-RR-AA.ext`` (modality, vocal channel,
emotion, intensity, statement, repetition, actor; two digits each) and sits in an
``Actor_AA`` folder. Labels come from the name alone, so indexing never decodes audio.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tqdm import tqdm

from ser import config

if TYPE_CHECKING:  # imported where used: `python -m ser predict` and --help start ~0.3 s faster
    import pandas as pd

# --- file-name scheme (Livingstone & Russo 2018, Zenodo record 1188976) -----------
MODALITIES = {"01": "full-AV", "02": "video-only", "03": "audio-only"}
VOCAL_CHANNELS = {"01": "speech", "02": "song"}
EMOTION_CODES = {f"{i:02d}": name for i, name in enumerate(config.EMOTIONS, start=1)}
SONG_EMOTIONS = {"01", "02", "03", "04", "05", "06"}  # songs have no disgust or surprised
INTENSITIES = {"01": "normal", "02": "strong"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
REPETITIONS = {"01": 1, "02": 2}
N_ACTORS = 24
FIELD_NAMES = ("modality", "vocal channel", "emotion", "intensity", "statement", "repetition", "actor")
FIELD_RE = re.compile(r"^\d{2}$")
ACTOR_DIR_RE = re.compile(r"^Actor_(\d{2})$")
AUDIO_SUFFIXES = (".wav", ".flac")  # released WAV (48 kHz) and the project's 16 kHz FLAC

COLUMNS = (
    "path", "modality", "vocal_channel", "emotion", "emotion_code", "intensity",
    "statement", "repetition", "actor", "gender",
)

# --- the released speech archive ------------------------------------------------------
RAVDESS_URL = "https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1"
# Published MD5 of Audio_Speech_Actors_01-24.zip (208,468,073 bytes), as quoted by
# several public loaders that verify this exact archive.
RAVDESS_MD5 = "bc696df654c87fed845eb13823edef8a"
CHUNK_BYTES = 1 << 20  # read/write/hash granularity
TIMEOUT_S = 60.0  # per socket operation, not for the whole transfer
PART_SUFFIX = ".part"
USER_AGENT = "ser-studio (python urllib)"  # some hosts refuse urllib's default agent string
SKIPPED_MEMBER_PREFIXES = ("__MACOSX/",)  # Finder metadata some zips carry; never audio


@dataclass
class DatasetIndex:
    """One row per clip that follows the scheme, plus one line per file that does not.

    ``clips`` has the columns in ``COLUMNS``, one row per clip, sorted by path.
    ``problems`` lists every audio file left out of ``clips`` (or duplicated) and why.
    """

    clips: pd.DataFrame
    problems: list[str] = field(default_factory=list)


class DownloadError(Exception):
    """A download or extraction failed for a reason the user can act on."""


# --- parsing ----------------------------------------------------------------------------
def _code(fields: list[str], i: int, table: dict) -> str:
    """Field ``i`` of ``fields`` if ``table`` knows it; else a ValueError naming the field."""
    value = fields[i]
    if value not in table:
        raise ValueError(f"unknown {FIELD_NAMES[i]} code {value!r} (expected one of {', '.join(sorted(table))})")
    return value


def _actor(value: str) -> int:
    actor = int(value)
    if not 1 <= actor <= N_ACTORS:
        raise ValueError(f"actor {value!r} is outside 01..{N_ACTORS:02d}")
    return actor


def _check_folder(path: Path, actor: int) -> None:
    """A file inside an ``Actor_XX`` folder must name that actor (catches misfiled copies)."""
    match = ACTOR_DIR_RE.match(path.parent.name)
    if match and int(match.group(1)) != actor:
        raise ValueError(f"actor {actor:02d} is filed under folder {path.parent.name}")


def _labels(path: Path) -> dict:
    """``parse_filename`` without the file name in its error messages."""
    fields = path.stem.split("-")
    if len(fields) != len(FIELD_NAMES):
        raise ValueError(f"expected 7 dash-separated fields MM-VV-EE-II-SS-RR-AA, got {len(fields)}")
    for i, value in enumerate(fields):
        if not FIELD_RE.match(value):
            raise ValueError(f"{FIELD_NAMES[i]} field {value!r} is not two digits")
    modality = _code(fields, 0, MODALITIES)
    channel = _code(fields, 1, VOCAL_CHANNELS)
    emotion = _code(fields, 2, EMOTION_CODES)
    intensity = _code(fields, 3, INTENSITIES)
    statement = _code(fields, 4, STATEMENTS)
    repetition = _code(fields, 5, REPETITIONS)
    actor = _actor(fields[6])
    if emotion == "01" and intensity == "02":
        raise ValueError("neutral has no strong intensity (intensity must be 01)")
    if channel == "02" and emotion not in SONG_EMOTIONS:
        raise ValueError(f"song has no {EMOTION_CODES[emotion]} (song emotions are 01..06)")
    _check_folder(path, actor)
    return {
        "modality": MODALITIES[modality],
        "vocal_channel": VOCAL_CHANNELS[channel],
        "emotion": EMOTION_CODES[emotion],
        "emotion_code": int(emotion),
        "intensity": INTENSITIES[intensity],
        "statement": STATEMENTS[statement],
        "repetition": REPETITIONS[repetition],
        "actor": actor,
        "gender": "male" if actor % 2 else "female",
    }


def parse_filename(name: str | Path) -> dict:
    """Labels encoded in one RAVDESS file name, e.g. ``03-01-06-01-02-01-12.wav``.

    ``name`` is a bare file name or a path; when its parent folder is ``Actor_XX``,
    the folder must agree with the actor field. Raises ``ValueError`` naming the file
    and what is wrong when the name breaks the scheme.

    Returns a dict with the ``COLUMNS`` keys except ``path``.
    """
    path = Path(name)
    try:
        return _labels(path)
    except ValueError as err:
        raise ValueError(f"{path.name}: {err}") from None


# --- indexing ---------------------------------------------------------------------------
def _audio_files(root: Path) -> list[Path]:
    """Every .wav/.flac below ``root`` (any depth, so both layouts and a nested extract work)."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def _duplicates(clips: pd.DataFrame) -> list[str]:
    """One line per clip name that appears more than once (e.g. a WAV and a FLAC copy)."""
    stems = clips["path"].map(lambda p: Path(p).stem)
    repeated = clips[stems.duplicated(keep=False)].groupby(stems)["path"]
    return [f"{stem}: the same clip appears {len(paths)} times: {', '.join(paths)}" for stem, paths in repeated]


def index_dataset(root: str | Path) -> DatasetIndex:
    """Index every RAVDESS audio file under ``root`` from its name (no audio decoding).

    Accepts the released layout (``Actor_XX/*.wav``, 48 kHz) and ravdess-16k
    (``Actor_XX/*.flac``). Files that break the scheme are listed in ``problems``,
    never silently dropped. Raises ``NotADirectoryError`` when ``root`` is not a folder.
    """
    import pandas as pd

    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a folder")
    rows, problems = [], []
    for path in _audio_files(root):
        try:
            rows.append({"path": str(path), **_labels(path)})
        except ValueError as err:
            problems.append(f"{path.relative_to(root)}: {err}")
    # Sorted by the path string (Path ordering compares parts and can differ).
    clips = pd.DataFrame(rows, columns=list(COLUMNS)).sort_values("path", ignore_index=True)
    problems += _duplicates(clips)
    return DatasetIndex(clips=clips, problems=problems)


def speech_only(clips: pd.DataFrame) -> pd.DataFrame:
    """The audio-only speech rows of an index (what the speech archive holds), reindexed."""
    keep = (clips["modality"] == "audio-only") & (clips["vocal_channel"] == "speech")
    return clips[keep].reset_index(drop=True)


# --- download -----------------------------------------------------------------------------
def archive_name(url: str) -> str:
    """The file name at the end of ``url``'s path, e.g. ``Audio_Speech_Actors_01-24.zip``."""
    name = PurePosixPath(urlsplit(url).path).name
    if not name:
        raise DownloadError(f"{url}: the URL names no file")
    return name


def file_md5(path: Path) -> str:
    """Hex MD5 of the file at ``path``, read in ``CHUNK_BYTES`` blocks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def _open(url: str, offset: int):
    """An open response for ``url`` from byte ``offset`` (a Range request when > 0).

    Returns None when the server says nothing lies past ``offset`` (HTTP 416): the
    partial file is already whole, and the checksum decides whether it is right.
    """
    headers = {"User-Agent": USER_AGENT, **({"Range": f"bytes={offset}-"} if offset else {})}
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            return None
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, ValueError, OSError) as err:
        raise DownloadError(f"cannot reach {url}: {getattr(err, 'reason', err)}") from None


def _resume_offset(response, offset: int) -> int:
    """Where the body of ``response`` starts in the file: ``offset`` on 206, 0 when Range was ignored."""
    if response.status != 206:
        return 0  # a 200 carries the whole file: the server ignored Range, so start over
    content_range = response.headers.get("Content-Range", "")
    match = re.match(r"bytes (\d+)-", content_range)
    if not match or int(match.group(1)) != offset:
        raise DownloadError(f"server answered Range {offset}- with {content_range!r}; delete the .part file and retry")
    return offset


def _total_bytes(response, start: int) -> int | None:
    """Full file size in bytes, when the server says (Content-Length counts from ``start``)."""
    length = response.headers.get("Content-Length")
    return start + int(length) if length and length.isdigit() else None


def download(url: str, dest: Path, progress: bool = True) -> Path:
    """Fetch ``url`` into ``dest`` + ``.part``, resuming a partial file with an HTTP Range request.

    Returns the ``.part`` path, complete. A dropped connection leaves the ``.part`` file
    for the next call to resume; a server that ignores Range restarts it from byte 0.
    """
    part = dest.with_name(dest.name + PART_SUFFIX)
    offset = part.stat().st_size if part.exists() else 0
    response = _open(url, offset)
    if response is None:
        return part
    with response:
        start = _resume_offset(response, offset)
        total = _total_bytes(response, start)
        with open(part, "ab" if start else "wb") as out, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
            desc=dest.name, disable=not progress,
        ) as bar:
            try:
                for block in iter(lambda: response.read(CHUNK_BYTES), b""):
                    out.write(block)
                    bar.update(len(block))
            except OSError as err:
                raise DownloadError(f"download interrupted ({err}); run again to resume") from None
            size = out.tell()
    if total is not None and size != total:
        raise DownloadError(f"download stopped at {size} of {total} bytes; run again to resume")
    return part


def verify_md5(path: Path, md5: str) -> None:
    """Raise ``DownloadError`` (and delete ``path``) unless its MD5 is ``md5``.

    The file is deleted so that the next attempt downloads afresh instead of resuming
    onto corrupt bytes.
    """
    actual = file_md5(path)
    if actual != md5.lower():
        path.unlink()
        raise DownloadError(f"checksum mismatch for {path.name}: expected MD5 {md5.lower()}, got {actual}; "
                            "the file was deleted, run again to retry")


def _member_target(dest: Path, name: str) -> Path:
    """Where zip member ``name`` goes under ``dest``; ``DownloadError`` if it would escape it."""
    member = PurePosixPath(name)
    unsafe = member.is_absolute() or ".." in member.parts or "\\" in name or ":" in name
    target = (dest / member).resolve()
    if unsafe or not target.is_relative_to(dest):
        raise DownloadError(f"unsafe path in archive: {name!r}; nothing was extracted")
    return target


def extract_zip(archive: Path, dest: Path) -> int:
    """Extract ``archive`` into ``dest`` after checking every member stays inside it.

    All member paths are checked before anything is written, so an unsafe archive
    leaves ``dest`` untouched. Returns the number of files written.
    """
    dest = dest.resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.filename.startswith(SKIPPED_MEMBER_PREFIXES)]
            targets = [_member_target(dest, m.filename) for m in members]
            written = 0
            for member, target in zip(members, targets):
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK_BYTES)
                written += 1
    except zipfile.BadZipFile as err:
        raise DownloadError(f"{archive.name} is not a valid zip archive ({err})") from None
    return written


def fetch_ravdess(dest: str | Path, url: str = RAVDESS_URL, md5: str | None = RAVDESS_MD5,
                  progress: bool = True) -> DatasetIndex:
    """Download, verify and extract the RAVDESS speech archive into ``dest``; index the result.

    The verified archive stays in ``dest`` so a repeated call skips the download.
    ``md5=None`` skips verification (only for archives without a published checksum).
    """
    dest = Path(dest).expanduser().resolve()
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / archive_name(url)
    if not archive.is_file():
        part = download(url, archive, progress=progress)
        if md5:
            verify_md5(part, md5)
        part.replace(archive)
    elif md5:
        verify_md5(archive, md5)
    extract_zip(archive, dest)
    return index_dataset(dest)


def filter_clips(clips: pd.DataFrame, selections: dict[str, list]) -> pd.DataFrame:
    """The rows of an index whose value in each named column is among the selected
    ones (e.g. ``{"emotion": ["sad"], "actor": [3, 4]}``); an empty list keeps every value."""
    import pandas as pd

    keep = pd.Series(True, index=clips.index)
    for column, values in selections.items():
        if values:
            keep &= clips[column].isin(values)
    return clips[keep]

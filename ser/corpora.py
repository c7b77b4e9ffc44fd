"""Emotional-speech corpora indexed into one table, one small parser per naming convention.

Every corpus becomes rows with the columns in ``COLUMNS``: the file, the corpus,
a speaker id unique across corpora, gender, language, the emotion in the
project's label space (``config.EMOTIONS``), the corpus's own label, and the
sentence (which text was read: ASED ties most texts to one emotion, see ``ased``).
Labels come from file names, or from the ``labels.csv`` a corpus ships with, so
indexing never decodes audio.

To add a corpus: write ``parse_x(path) -> dict`` for one file name (or ship a
``labels.csv`` with ``LABELS_COLUMNS``) and add one ``Corpus`` entry to ``CORPORA``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ser import config, dataset

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("path", "corpus", "speaker", "gender", "language", "emotion", "orig_label", "sentence",
           "common_sentence")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus")
LABELS_FILE = "labels.csv"  # path (relative to the corpus folder), speaker, emotion, gender, …
LABELS_COLUMNS = ("path", "speaker", "emotion", "gender", "orig_label", "sentence", "common_sentence")


@dataclass(frozen=True)
class Corpus:
    id: str
    name: str
    language: str  # ISO 639-1
    emotions: tuple[str, ...]  # the emotions it holds, in config.EMOTIONS order
    citation: str
    licence: str
    folder_pattern: str  # regex on a speaker folder's name: how a corpus folder is recognised
    # One file -> speaker, gender, emotion, orig_label, sentence; None: the folder's labels.csv says.
    parse: Callable[[Path], dict] | None = None
    # Share of the training loss next to a corpus of weight 1 (each corpus weighs the same
    # whatever its size): lower for a corpus of very few voices, which would otherwise teach
    # the head those voices.
    weight: float = 1.0


# --- RAVDESS: Actor_XX/03-01-EE-II-SS-RR-AA -------------------------------------------------
def parse_ravdess(path: Path) -> dict:
    labels = dataset._labels(path)  # the problem list names the file itself
    if (labels["modality"], labels["vocal_channel"]) != ("audio-only", "speech"):
        raise ValueError("not an audio-only speech clip")
    return {"speaker": f"ravdess_{labels['actor']:02d}", "gender": labels["gender"][0].upper(),
            "emotion": labels["emotion"], "orig_label": f"{labels['emotion_code']:02d}",
            "sentence": labels["statement"], "common_sentence": True}


# --- ASED: ased_NN/E#-SS-RR-G-NN (emotion letter + folder number, sentence, repetition,
# gender 01 F / 02 M, speaker) ----------------------------------------------------------------
ASED_EMOTIONS = {"n": "neutral", "f": "fearful", "h": "happy", "s": "sad", "a": "angry"}
ASED_NAME = re.compile(r"^([nfhsa])\d-(\d{2})-(\d{2})-(0[12])-(\d{2})$", re.IGNORECASE)
# Sentences 01 and 02 are the two common texts read in all five emotions; 03-07 are
# emotion-specific texts, where the words alone give the emotion away. Inferred from
# the release: 01-02 are the only sentence numbers whose clip counts vary by emotion,
# as the stricter judging of common sentences (README) would make them.
ASED_COMMON_SENTENCES = {"01", "02"}


def parse_ased(path: Path) -> dict:
    match = ASED_NAME.match(path.stem)
    if not match:
        raise ValueError("expected E#-SS-RR-G-NN, e.g. a5-03-01-02-50")
    letter, sentence, _, gender, speaker = match.groups()
    return {"speaker": f"ased_{speaker}", "gender": "F" if gender == "01" else "M",
            "emotion": ASED_EMOTIONS[letter.lower()], "orig_label": letter.lower(),
            "sentence": f"{ASED_EMOTIONS[letter.lower()]}-{sentence}",
            "common_sentence": sentence in ASED_COMMON_SENTENCES}


# --- EMOVO: emovo_XX/eee-XX-ss (Italian emotion code, actor f1..m3, sentence) ---------------
EMOVO_EMOTIONS = {"neu": "neutral", "gio": "happy", "tri": "sad", "rab": "angry", "pau": "fearful",
                  "dis": "disgust", "sor": "surprised"}
EMOVO_NAME = re.compile(r"^([a-z]{3})-([fm][1-3])-([a-z]\d{1,2})$")


def parse_emovo(path: Path) -> dict:
    match = EMOVO_NAME.match(path.stem)
    if not match or match.group(1) not in EMOVO_EMOTIONS:
        raise ValueError(f"expected eee-XN-sN with eee one of {', '.join(EMOVO_EMOTIONS)}")
    code, actor, sentence = match.groups()
    return {"speaker": f"emovo_{actor}", "gender": actor[0].upper(), "emotion": EMOVO_EMOTIONS[code],
            "orig_label": code, "sentence": sentence, "common_sentence": True}


def _in_label_order(names) -> tuple[str, ...]:
    return tuple(e for e in config.EMOTIONS if e in set(names))


CORPORA: dict[str, Corpus] = {
    "ravdess": Corpus(
        "ravdess", "RAVDESS (English)", "en", config.EMOTIONS,
        "Livingstone SR, Russo FA (2018). The Ryerson Audio-Visual Database of Emotional Speech and "
        "Song (RAVDESS). PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391",
        "CC BY-NC-SA 4.0", r"^Actor_\d{2}$", parse_ravdess),
    "ased": Corpus(
        "ased", "ASED (Amharic)", "am", _in_label_order(ASED_EMOTIONS.values()),
        "Retta EA, Almekhlafi E, Sutcliffe R, Mhamed M, Ali H, Feng J (2023). A new Amharic speech "
        "emotion dataset and classification benchmark. ACM TALLIP. https://doi.org/10.1145/3529759",
        "research use (no licence stated)", r"^ased_\d{2}$", parse_ased),
    "emovo": Corpus(
        "emovo", "EMOVO (Italian)", "it", _in_label_order(EMOVO_EMOTIONS.values()),
        "Costantini G, Iaderola I, Paoloni A, Todisco M (2014). EMOVO Corpus: an Italian Emotional "
        "Speech Database. LREC 2014.",
        "research use", r"^emovo_[fm][1-3]$", parse_emovo),
    "nemo": Corpus(
        "nemo", "nEMO (Polish)", "pl", ("neutral", "happy", "sad", "angry", "fearful", "surprised"),
        "Christop I (2024). nEMO: Dataset of Emotional Speech in Polish. LREC-COLING 2024.",
        "CC BY-NC-SA 4.0", r"^nemo_[A-Z]{2}\d$"),
    "tess": Corpus(
        "tess", "TESS (English)", "en", ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"),
        "Pichora-Fuller MK, Dupuis K (2020). Toronto emotional speech set (TESS). Borealis. "
        "https://doi.org/10.5683/SP2/E8H2MF",
        "CC BY-NC-ND 4.0", r"^tess_(OAF|YAF)$", weight=0.5),  # two voices only
    "emotiontts-ko": Corpus(
        "emotiontts-ko", "EmotionTTS (Korean)", "ko", ("neutral", "happy", "sad", "angry"),
        "emotiontts_open_db, SELVAS AI under KAIST (project No. 10080667). "
        "https://github.com/emotiontts/emotiontts_open_db",
        "CC BY-NC-SA 4.0, research use only", r"^ko_[a-z]{3}$"),
}


def detect_corpus(root: Path) -> Corpus | None:
    """The corpus whose speaker folders sit directly in ``root``, or None."""
    names = [p.name for p in root.iterdir() if p.is_dir()]
    for corpus in CORPORA.values():
        if any(re.match(corpus.folder_pattern, name) for name in names):
            return corpus
    return None


def corpus_folders(root: str | Path) -> dict[str, Path]:
    """``root`` itself if it is one corpus, else each corpus folder directly inside it."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a folder")
    corpus = detect_corpus(root)
    if corpus:
        return {corpus.id: root}
    found = {}
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        corpus = detect_corpus(child)
        if corpus and corpus.id not in found:
            found[corpus.id] = child
    return found


@dataclass
class CorpusIndex:
    """``clips``: one row per clip (``COLUMNS``), sorted by corpus and path; ``problems``:
    every audio file left out and why."""

    clips: pd.DataFrame
    problems: list[str]


def index_corpora(root: str | Path) -> CorpusIndex:
    """Index one corpus folder, or every corpus folder inside ``root``.

    Raises ``NotADirectoryError`` for a missing folder and ``ValueError`` when no
    known corpus is found.
    """
    import pandas as pd

    folders = corpus_folders(root)
    if not folders:
        known = ", ".join(c.name for c in CORPORA.values())
        raise ValueError(f"{root}: no known corpus found ({known})")
    rows, problems = [], []
    for corpus_id, folder in folders.items():
        corpus = CORPORA[corpus_id]
        found, missed = (_from_labels(corpus, folder) if corpus.parse is None else _from_names(corpus, folder))
        rows += [{"corpus": corpus_id, "language": corpus.language, **row} for row in found]
        problems += [f"{corpus_id}/{p}" for p in missed]
    clips = pd.DataFrame(rows, columns=list(COLUMNS))
    return CorpusIndex(clips.sort_values(["corpus", "path"], ignore_index=True), problems)


def _from_names(corpus: Corpus, folder: Path) -> tuple[list[dict], list[str]]:
    """Rows of every audio file under ``folder`` whose name ``corpus.parse`` reads, and the rest."""
    rows, problems = [], []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        try:
            rows.append({"path": str(path), **corpus.parse(path)})
        except ValueError as err:
            problems.append(f"{path.relative_to(folder)}: {err}")
    return rows, problems


def _from_labels(corpus: Corpus, folder: Path) -> tuple[list[dict], list[str]]:
    """Rows of ``folder/labels.csv`` whose file exists and whose emotion the corpus holds, and the rest."""
    import pandas as pd

    try:
        table = pd.read_csv(folder / LABELS_FILE, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as err:
        return [], [f"{LABELS_FILE}: {err}"]
    if missing := set(LABELS_COLUMNS) - set(table.columns):
        return [], [f"{LABELS_FILE}: no column {', '.join(sorted(missing))}"]
    rows, problems = [], []
    for row in table[list(LABELS_COLUMNS)].to_dict("records"):
        path = folder / row["path"]
        if row["emotion"] not in corpus.emotions:
            problems.append(f"{row['path']}: emotion {row['emotion']!r} is not one of {', '.join(corpus.emotions)}")
        elif not path.is_file():
            problems.append(f"{row['path']}: listed in {LABELS_FILE} but missing")
        else:
            rows.append(row | {"path": str(path), "common_sentence": row["common_sentence"] == "True"})
    return rows, problems


def citations(corpus_ids) -> list[str]:
    """The citation and licence of each corpus, for wherever its results are shown."""
    return [f"{CORPORA[c].citation} ({CORPORA[c].licence})" for c in corpus_ids]

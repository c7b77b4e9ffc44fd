"""Emotional-speech corpora indexed into one table, one small parser per naming convention.

Every corpus becomes rows with the columns in ``COLUMNS``: the file, the corpus,
a speaker id unique across corpora, gender, language, the emotion in the
project's label space (``config.EMOTIONS``), the corpus's own label, and the
sentence (which text was read: ASED ties most texts to one emotion, see ``ased``).
Labels come from file names alone, so indexing never decodes audio.

To add a corpus: write ``parse_x(path) -> dict`` for one file name and add one
``Corpus`` entry to ``CORPORA``.
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
AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass(frozen=True)
class Corpus:
    id: str
    name: str
    language: str  # ISO 639-1
    emotions: tuple[str, ...]  # the emotions it holds, in config.EMOTIONS order
    citation: str
    licence: str
    folder_pattern: str  # regex on a speaker folder's name: how a corpus folder is recognised
    parse: Callable[[Path], dict]  # one file -> speaker, gender, emotion, orig_label, sentence


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
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
            try:
                rows.append({"path": str(path), "corpus": corpus_id, "language": corpus.language,
                             **corpus.parse(path)})
            except ValueError as err:
                problems.append(f"{corpus_id}/{path.relative_to(folder)}: {err}")
    clips = pd.DataFrame(rows, columns=list(COLUMNS))
    return CorpusIndex(clips.sort_values(["corpus", "path"], ignore_index=True), problems)


def citations(corpus_ids) -> list[str]:
    """The citation and licence of each corpus, for wherever its results are shown."""
    return [f"{CORPORA[c].citation} ({CORPORA[c].licence})" for c in corpus_ids]

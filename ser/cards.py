"""The model card: one typed record of what a shipped model is and how it measured.

Written as ``models/<id>/card.json`` beside the head's weights, read by the CLI, the
app and the reports; nothing reads a card by key outside this module. Reports
inside it (``speaker_folds``, ``transfer``) are the plain-JSON dicts that
``ser.evaluation`` produces.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ser import config

CARD_FILE = "card.json"


class CardError(ValueError):
    """A card.json that cannot be read; the message names the file and why."""


@dataclass(frozen=True)
class BackboneInfo:
    kind: str  # registry key (ser.backbones.REGISTRY)
    id: str  # what exactly runs, e.g. "openai/whisper-base"
    name: str
    source: str  # where its weights came from, with the licence
    n_layers: int
    dim: int
    frame_rate_hz: float
    checkpoint: str | None = None  # chosen weights where the backbone allows a choice


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0  # applied to the ensemble's log-probabilities
    unsure_below: float = config.UNSURE_BELOW  # calibrated top probability under which a reading is unsure
    fitted_on: str = "not calibrated"


@dataclass(frozen=True)
class Familiar:
    """How a plain reading of a clip that sounds like the corpora the model learnt on
    (``ser.familiarity`` score at or above ``above``) is calibrated: on new speakers of those
    corpora (folds by speaker), where the model is right far more often than on a corpus it
    never heard. Every other clip keeps the card's own calibration."""

    above: float
    calibration: Calibration
    # Measured: the share of clips counted familiar among new speakers' clips of the training
    # corpora ("speaker_folds") and among clips of corpora never heard ("transfer").
    share: dict = field(default_factory=dict)


# The warm-up's failure cases beside its one-emotion sessions (``ReadingMode.one_emotion``), named.
FAILURE_CASE_NAMES = {"not_prompted": "emotions not prompted", "not_acted": "not acted"}


@dataclass(frozen=True)
class ReadingMode:
    """A head that reads a clip in the light of more than the clip (``ser.modes``): its own
    calibration, how it measured, and the guard that sends it back to plain."""

    calibration: Calibration
    speaker_folds: dict | None = None
    # Leave-one-corpus-out, calibrated, as the mode is used: {corpus: transfer report}.
    transfer: dict | None = None
    # Its failure case, measured on left-out corpora: sessions of one speaker in one emotion,
    # {"sessions": n, "clips": n, "accuracy", "plain_accuracy": on the same clips}; warmed up,
    # after an acted warm-up, with the same for sessions of an emotion it did not ask for
    # ("not_prompted") and for a warm-up not acted ("not_acted": the speaker's other clips).
    one_emotion: dict | None = None
    # The guard's settings: adapted {"shrink_clips", "min_variety", "one_by_one": the same two
    # for a setting heard clip by clip}, voice {"min_variety"}: of the mode's uncalibrated
    # readings of the last clips heard (the setting's, or the voice's); warmed up
    # {"prompts", "shrink_clips", "l2": [prompted, not prompted], "min_agreement"}.
    guard: dict = field(default_factory=dict)
    # Adapted only: the same settings heard clip by clip, each clip read against the clips heard
    # up to it, as the Live page hears a session: {"transfer": {corpus: report}, "one_emotion": …}.
    one_by_one: dict | None = None

    def failure_cases(self) -> dict[str, dict]:
        """Each measured failure case by name ("one emotion", "emotions not prompted", "not acted",
        "one emotion, clip by clip"): ``{"accuracy", "plain_accuracy", …}``."""
        cases = {}
        for name, report in (("one emotion", self.one_emotion),
                             ("one emotion, clip by clip", (self.one_by_one or {}).get("one_emotion"))):
            if report:
                cases[name] = report
                cases |= {FAILURE_CASE_NAMES[k]: report[k] for k in FAILURE_CASE_NAMES if report.get(k)}
        return cases

    def worst_failure(self) -> tuple[str, dict] | None:
        """The failure case read furthest below plain, by name with its report, or None where
        none read below plain or none was measured."""
        below = {name: r for name, r in self.failure_cases().items() if r["accuracy"] < r["plain_accuracy"]}
        worst = max(below, key=lambda name: below[name]["plain_accuracy"] - below[name]["accuracy"], default=None)
        return (worst, below[worst]) if worst else None

    @property
    def holds(self) -> bool:
        """Whether the mode is used: no failure case read more than ``config.MODE_MAX_LOSS``
        below plain (accuracy on the same clips)."""
        worst = self.worst_failure()
        return worst is None or worst[1]["plain_accuracy"] - worst[1]["accuracy"] <= config.MODE_MAX_LOSS

    @classmethod
    def from_dict(cls, data: dict) -> ReadingMode:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known} | {
            "calibration": Calibration(**data["calibration"])})


@dataclass(frozen=True)
class ModelCard:
    id: str
    name: str
    labels: list[str]
    backbone: BackboneInfo
    head: dict  # {"config": HeadConfig dict, "n_members": int, "layer_weights": [[...], ...]}
    training: dict  # {"corpora": [...], "data": str, "data_sha256": str, "config": TrainConfig dict}
    calibration: Calibration = field(default_factory=Calibration)
    familiar: Familiar | None = None  # None: one calibration for every clip
    # Folds by speaker inside every corpus: {"corpora": {corpus: transfer report},
    # "ravdess_8_class": score report} or None when not cross-validated.
    speaker_folds: dict | None = None
    # Leave-one-corpus-out, calibrated: {corpus: transfer report} or None.
    transfer: dict | None = None
    adapted: ReadingMode | None = None  # None: the model cannot adapt to a setting
    voice: ReadingMode | None = None  # None: the model cannot be calibrated to a voice
    warmed_up: ReadingMode | None = None  # None: the model cannot read against a warm-up
    citations: list[str] = field(default_factory=list)

    @property
    def mean_transfer_uar(self) -> float | None:
        """Mean UAR over the left-out corpora: the figure that ranks models for a new voice."""
        if not self.transfer:
            return None
        return sum(r["uar"] for r in self.transfer.values()) / len(self.transfer)

    @property
    def ravdess_uar(self) -> float | None:
        """UAR over RAVDESS's 8 emotions, folds by actor (the figure comparable with the literature)."""
        return ((self.speaker_folds or {}).get("ravdess_8_class") or {}).get("uar")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> ModelCard:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["backbone"] = BackboneInfo(**data["backbone"])
        values["calibration"] = Calibration(**data.get("calibration", {}))
        if data.get("familiar"):
            values["familiar"] = Familiar(**data["familiar"] | {
                "calibration": Calibration(**data["familiar"]["calibration"])})
        for mode in ("adapted", "voice", "warmed_up"):
            values[mode] = ReadingMode.from_dict(data[mode]) if data.get(mode) else None
        return cls(**values)


def write_card(folder: Path, card: ModelCard) -> None:
    (Path(folder) / CARD_FILE).write_text(card.to_json())


def read_card(folder: Path) -> ModelCard:
    """The card of a model folder; raises ``CardError`` with a clear reason."""
    path = Path(folder) / CARD_FILE
    try:
        return ModelCard.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CardError(f"{folder}: not a readable model card ({type(err).__name__}: {err})") from err


def model_folders(models_dir: Path = config.MODELS_DIR) -> list[Path]:
    """Model folders under ``models_dir`` in the registry's display order."""
    from ser.backbones import REGISTRY

    folders = [p for p in Path(models_dir).glob("*") if (p / CARD_FILE).is_file()]
    rank = {kind: i for i, kind in enumerate(REGISTRY)}
    return sorted(folders, key=lambda p: (rank.get(p.name, len(rank)), p.name))


def read_cards(models_dir: Path = config.MODELS_DIR) -> list[ModelCard]:
    """The cards of every model under ``models_dir``, in display order, without loading
    weights or backbones (for pages that only describe the models)."""
    return [read_card(folder) for folder in model_folders(models_dir)]

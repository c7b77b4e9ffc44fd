"""Calibrating to a voice: subtract a speaker's mean clip statistics before the head.

Much of what separates corpora is who speaks and through which microphone, not
the emotion. A head trained on statistics minus each speaker's mean over their
clips hears only how a clip departs from that voice's usual sound. At inference
the mean comes from the same person: a few recordings of theirs, or every take of
a session so far (docs/experiments.md measures both).
"""

from __future__ import annotations

import numpy as np

from ser import audio as audio_io
from ser import config


def subtract_speaker_means(stats: np.ndarray, speakers) -> np.ndarray:
    """Clip statistics ``(n_clips, L, 2D)`` minus the mean over each speaker's clips."""
    stats, speakers = np.asarray(stats, np.float32), np.asarray(speakers)
    out = np.empty_like(stats)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        out[rows] = stats[rows] - stats[rows].mean(axis=0)
    return out


def reference_windows(audio: np.ndarray) -> list[np.ndarray]:
    """The speech of a calibration recording cut into clip-sized pieces.

    Training references average the statistics of clips of a few seconds, so a long
    recording is cut to ``config.WINDOW_S`` windows (hop ``config.HOP_S``) holding
    speech; a standard deviation over 30 s would not match one over 3 s.
    """
    speech = audio_io.trim_to_speech(audio)
    pieces = [speech[a:b] for a, b in audio_io.windows(len(speech))]
    return [p for p in pieces if audio_io.speech_activity(p).has_speech] or [speech]


def enough_speech(audios: list[np.ndarray]) -> bool:
    """Whether calibration recordings hold at least ``config.MIN_CALIBRATION_SPEECH_S`` of speech."""
    return sum(audio_io.speech_activity(a).speech_s for a in audios) >= config.MIN_CALIBRATION_SPEECH_S

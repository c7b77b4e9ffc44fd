"""A voice reference from recordings: the speaker's speech cut into clip-sized pieces.

The voice mode (``ser.modes``) hears a clip as its statistics minus those of the
speaker's plain voice; the reference is averaged over pieces as long as the training
clips, so its statistics mean what a training speaker's neutral clips meant.
"""

from __future__ import annotations

import numpy as np

from ser import audio as audio_io
from ser import config


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

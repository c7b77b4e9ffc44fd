"""Every constant the project shares, in one place.

Audio is handled at one sample rate everywhere after loading; feature and window
parameters are stated in seconds or samples at that rate.
"""

import json
import os
from pathlib import Path

# --- audio ------------------------------------------------------------------
SAMPLE_RATE = 16_000  # Hz; every backbone here expects 16 kHz mono
MIN_DURATION_S = 0.5  # shorter clips carry too little speech to classify
MAX_DURATION_S = float(os.environ.get("SER_MAX_DURATION_S", 120.0))  # longer input is refused
# Largest upload, in the browser's megabytes (10**6 bytes; Streamlit's server counts MiB, so
# with the same number in .streamlit/config.toml's maxUploadSize the browser's check is the
# one a visitor meets). Every clip within MAX_DURATION_S fits up to 96 kHz 32-bit float
# stereo: 120 s of it is 92.2 MB.
MAX_UPLOAD_MB = 100
# Float samples past full scale (1.0) are clipped to it up to this many times full scale
# (+20 dB of headroom, more than any mix leaves); a file beyond it is refused as damaged.
MAX_SAMPLE_PEAK = 10.0

# Energy speech detector: a frame is speech when its RMS is above both an absolute
# floor and a margin below the clip's loudest frames.
VAD_FRAME_S = 0.025
VAD_HOP_S = 0.010
VAD_FLOOR_DBFS = -60.0
VAD_RANGE_DB = 35.0
VAD_MIN_SPEECH_S = 0.25  # less voiced audio than this counts as "no speech"

# --- emotions (RAVDESS codes 01..08, in code order) ---------------------------
EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
EMOTION_COLOURS = {  # one colour per emotion in every chart of the app
    "neutral": "#9e9e9e",
    "calm": "#4db6ac",
    "happy": "#fdd835",
    "sad": "#1e88e5",
    "angry": "#e53935",
    "fearful": "#8e24aa",
    "disgust": "#7cb342",
    "surprised": "#fb8c00",
}

# --- features -----------------------------------------------------------------
N_FFT = 400  # 25 ms
HOP_LENGTH = 160  # 10 ms -> 100 frames/s
N_MELS = 64
N_MFCC = 20
FMIN_HZ = 20.0
FMAX_HZ = 8_000.0


def feature_parameters() -> dict:
    """The hand-crafted feature settings, recorded in every model card."""
    return {"sample_rate_hz": SAMPLE_RATE, "n_fft": N_FFT, "hop_length": HOP_LENGTH,
            "n_mels": N_MELS, "n_mfcc": N_MFCC, "fmin_hz": FMIN_HZ, "fmax_hz": FMAX_HZ}


# --- models ---------------------------------------------------------------------
# A calibrated top probability below this reads as "unsure": the model is then more
# likely wrong than right, so the app asks ("angry or sad?") instead of stating.
UNSURE_BELOW = 0.5
# Where that is not enough: a reading of a clip unlike the training corpora, or read in a mode,
# is sure only from the top probability at which such readings of corpora never heard were
# right this often (calibration.sure_threshold), counted over at least MIN_SURE_READINGS.
SURE_ACCURACY = 0.70
MIN_SURE_READINGS = 20
# The fused verdict leads only when its mean UAR on left-out corpora beats the best single
# model's by this much: a tie goes to the single model, whose reading an audience can trace.
FUSED_LEAD_MARGIN = 0.01
MIN_CALIBRATION_SPEECH_S = 3.0  # calibrating to a voice needs at least this much of its speech

# --- reading modes (ser.modes); docs/experiments.md measures each choice ------------------------
# How the modes are measured on a left-out corpus: settings of about this many clips of one
# speaker; a voice referenced by this many of its neutral clips; one-emotion sessions of at
# least this many clips.
ADAPT_EVAL_CLIPS = 30
# Adapted: a setting's statistics count as much as this many clips of the training corpora's
# while little of it has been heard. Both guards judge the readings their mode would give of
# the last GUARD_CLIPS clips heard (the setting's, or the voice's): readings too alike (total
# variance of the uncalibrated probabilities under the mode's MIN_VARIETY) mean one emotion,
# most likely, which the normalising took away, so the mode reads plain. GUARD_CLIPS is the
# size of the settings the guards were measured on.
ADAPT_SHRINK_CLIPS = 10.0
ADAPT_MIN_VARIETY = 0.20
# The same, for a setting heard clip by clip, each clip read when it comes (a live session):
# shrinking less lets it adapt sooner, and a stricter guard keeps one-emotion sessions from
# losing more than read at once (docs/experiments.md, round 3, section 8).
ADAPT_ONE_BY_ONE_SHRINK_CLIPS = 3.0
ADAPT_ONE_BY_ONE_MIN_VARIETY = 0.22
GUARD_CLIPS = ADAPT_EVAL_CLIPS
# Voice: against its reference, a voice's clips read alike when the reference was not plain
# (docs/experiments.md, round 3, section 4). Until two clips of the voice are heard it reads plain.
VOICE_MIN_VARIETY = 0.36
VOICE_REFERENCE_CLIPS = 2
ONE_EMOTION_MIN_CLIPS = 5
# Warmed up: the speaker says one sentence as each of these asks, in this order (every corpus here
# has the four). The warm-up's clips are the adapted head's setting, shrunk toward the training
# corpora's as a live session's are; the bias that makes them read as prompted is pulled toward
# none with these L2 strengths (on the prompted emotions, on the others: 0.3 on both kept a
# speaker's later clips of an emotion not prompted from reading worse than plain, where 0.1 lost
# some, at 0.006 of mean UAR); a warm-up whose clips, read adapted to each other, give their own
# prompts less than WARM_UP_MIN_AGREEMENT of the prompts' probability was not acted, and reads
# plain (docs/experiments.md, round 3, sections 10 and 11).
WARM_UP_HOW = {"neutral": "plainly", "happy": "happily", "sad": "sadly", "angry": "angrily"}
WARM_UP_PROMPTS = tuple(WARM_UP_HOW)
WARM_UP_SENTENCE = "Kids are talking by the door."
WARM_UP_SHRINK_CLIPS = ADAPT_ONE_BY_ONE_SHRINK_CLIPS
WARM_UP_L2 = (0.3, 0.3)
WARM_UP_MIN_AGREEMENT = 0.30
# A model uses a reading mode only where, on left-out corpora, the mode read each of its failure
# cases (sessions of one emotion, ReadingMode.one_emotion) at most this far below plain on the
# same clips (accuracy). A few clips in thousands are noise (Whisper base's adapted batch: 0.3863
# against 0.3871); MFCC's and WakeHuBERT's warm-ups lost 0.037 and 0.047 on sessions of the
# emotions it did not ask for, so those two read plain after a warm-up.
MODE_MAX_LOSS = 0.01
# Augmented training copies (`train --augmented-copies N`, for the plain head only): each clip
# through augment.random_chain, seeded by (AUGMENT_SEED, copy, clip index). Measured for
# Whisper base in docs/experiments.md (round 3, section 3); the shipped models have none.
AUGMENT_SEED = 1000
SHIPPED_MODELS = ("mfcc", "wakehubert", "whisper-base")  # what `ser train --all` trains and the app shows

# --- inference ------------------------------------------------------------------
WINDOW_S = 4.0  # clips longer than this also get a per-window timeline
HOP_S = 2.0
# The app shows a clip's timeline from two whole windows on: a 4.4 s clip's two windows share
# 3.6 s and say nothing its whole-clip verdict does not.
TIMELINE_MIN_S = 2 * WINDOW_S
# Threads of an ONNX Runtime session (``onnx_runtime.session``; the tiny heads and WakeHuBERT
# take one), sleeping when idle. Whisper base on a 4 s clip, 2 cores: 34 ms on 2 threads, 46 ms
# with the other core busy, against 58 ms on one thread either way (spinning: 32 ms, 67 ms busy).
ONNX_THREADS = 2

# Analyses the app runs at once (ser.slots): a 2-minute clip costs up to ~300 MB while it is
# analysed, and on 2 cores two at once finish together as soon as one after the other would.
# Visitors beyond it wait in line and see their place.
ANALYSIS_SLOTS = 2
GIVE_BACK_PERIOD_S = 30.0  # the app returns freed memory to the system this often (ser.memory)

# --- live microphone stream ------------------------------------------------------
LIVE_WINDOW_S = 3.0  # the rolling window the live view shows and classifies
LIVE_REFRESH_S = 0.4  # the live view redraws this often; predictions follow as fast as the models run
# Each backbone family hears a long clip in pieces that give it the frames it would give on the
# whole clip, so that memory stays bounded by the piece, not the clip (ser.models.EmotionModel.
# frames_in_pieces), and a live take is analysed while it is recorded (ser.live.TakeAnalyser):
# family -> (piece length, audio heard either side), in s. MFCC frames are 25 ms wide;
# WakeHuBERT's convolutions see 2-2.5 s back (on 2 minutes of RAVDESS speech, pieces heard
# with 2 s before them gave frames up to 0.46 off, with 2.5 s and more equal ones: 3 s it is);
# Whisper cuts its input into 30 s windows itself, with no overlap. A family not listed runs
# on the whole clip (a live take: after STOP).
BACKBONE_PIECES = {"mfcc": (4.0, 0.5), "wakehubert": (4.0, 3.0), "whisper": (30.0, 0.0)}
LIVE_WEBRTC_ENV = "SER_LIVE_WEBRTC"  # "0" hides the WebRTC streamer (tests under AppTest)
ICE_SERVERS_ENV = "SER_ICE_SERVERS"  # JSON list of RTCIceServer dicts, for use beyond the LAN


def ice_servers() -> list[dict]:
    """STUN/TURN servers for the live stream from $SER_ICE_SERVERS; none by default.

    Without servers only direct (host) connections work, enough on one machine or
    a LAN, and nothing is sent to a third party.
    """
    value = os.environ.get(ICE_SERVERS_ENV, "").strip()
    return json.loads(value) if value else []

# --- paths ----------------------------------------------------------------------
PROJECT_DIR = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_DIR / "models"
EXAMPLES_DIR = PROJECT_DIR / "examples"
CACHE_DIR = Path(os.environ.get("SER_CACHE_DIR", PROJECT_DIR / ".cache"))
DATA_DIR_ENV = "SER_DATA_DIR"  # a RAVDESS folder (ravdess-16k or the released Actor_XX layout)
CORPORA_DIR_ENV = "SER_CORPORA_DIR"  # a folder holding several corpora (ravdess-16k, ased-16k, …)


def _folder_from(env: str):
    value = os.environ.get(env)
    return Path(value) if value and Path(value).is_dir() else None


def data_dir():
    """The RAVDESS folder named by $SER_DATA_DIR, or None when unset or missing."""
    return _folder_from(DATA_DIR_ENV)


def corpora_dir():
    """The folder of corpora named by $SER_CORPORA_DIR, or None when unset or missing."""
    return _folder_from(CORPORA_DIR_ENV)

"""ONNX Runtime sessions, set up one way for every model that inference runs.

Inference needs neither PyTorch nor transformers: the backbones and heads that
were trained in PyTorch run here from their ONNX exports.
"""

from __future__ import annotations

import os
from pathlib import Path

from ser import config

# ONNX Runtime's telemetry (a device id and an event store under
# ~/.cache/Microsoft/DeveloperTools/.onnxruntime/, uploaded to Microsoft) starts when the
# package is imported, so it is turned off here, before any session imports it; the
# runtime's own switch (``disable_telemetry_events``) comes too late for that store.
TELEMETRY_OFF_ENV = {"ORT_DISABLE_TELEMETRY": "1"}
os.environ.update(TELEMETRY_OFF_ENV)


def session(path: Path, threads: int | None = None):
    """An ``onnxruntime.InferenceSession`` of the model at ``path`` on the CPU, on ``threads``
    threads (default ``config.ONNX_THREADS``) that sleep rather than spin while waiting for work,
    whose memory goes back to the system after every run.

    Raises ``ValueError`` when the file is missing or not a model ONNX Runtime can run.
    """
    import onnxruntime as ort

    ort.disable_telemetry_events()  # and no events from this process, whoever imported it first
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or config.ONNX_THREADS
    options.inter_op_num_threads = 1
    # Spinning threads burn a core between operations; on 2 shared cores that slows whatever
    # else runs (the other models, the app) more than it speeds up this one.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # No arena and no memory pattern: both keep, for the life of the session, the memory of
    # the largest input ever run (two runs of Whisper on 30 s left the process at 870 MB with
    # them, 517 MB without). Each run then allocates and frees its own: Whisper base on a 4 s
    # clip took 62-70 ms instead of 41 ms in a quiet run, 57 against 55 ms in a busy one.
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # ONNX Runtime's errors share no base class below Exception
        raise ValueError(f"{path}: ONNX Runtime cannot load it ({type(err).__name__}: {err})") from err

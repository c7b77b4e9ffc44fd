"""ONNX Runtime sessions, set up one way for every model that inference runs.

Inference needs neither PyTorch nor transformers: the backbones and heads that
were trained in PyTorch run here from their ONNX exports.
"""

from __future__ import annotations

from pathlib import Path

from ser import config


def session(path: Path, threads: int | None = None):
    """An ``onnxruntime.InferenceSession`` of the model at ``path`` on the CPU, on ``threads``
    threads (default ``config.ONNX_THREADS``) that sleep rather than spin while waiting for work.

    Raises ``ValueError`` when the file is missing or not a model ONNX Runtime can run.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or config.ONNX_THREADS
    options.inter_op_num_threads = 1
    # Spinning threads burn a core between operations; on 2 shared cores that slows whatever
    # else runs (the other models, the app) more than it speeds up this one.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # ONNX Runtime's errors share no base class below Exception
        raise ValueError(f"{path}: ONNX Runtime cannot load it ({type(err).__name__}: {err})") from err

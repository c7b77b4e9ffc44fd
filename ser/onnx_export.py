"""Exporting trained PyTorch modules to ONNX, so that inference runs without PyTorch.

Used at training time (the heads, ``ser.models.save_model``) and once per machine
(the Whisper encoder, ``ser.backbones.whisper``). torch.onnx's default exporter
(torch.export, then onnxscript) traces the module with a symbolic length, so one
file serves every batch size or clip length.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path

import torch


def export_onnx(module: torch.nn.Module, example: torch.Tensor, dynamic: dict, path: Path,
                input_name: str, output_name: str, metadata: dict[str, str]) -> Path:
    """Write ``module`` (one tensor in, one out) as ONNX to ``path``, atomically; returns ``path``.

    ``dynamic`` maps the input's dynamic axes to ``torch.export.Dim``s; ``example`` must
    be a size on those axes that the exporter does not specialise (not 0 or 1).
    ``metadata`` goes into the file's metadata_props, where ONNX Runtime reads it back.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # The exporter reports progress on stdout, where `predict` writes its JSON lines, and
        # warns of deprecations inside torch itself, which no caller can act on.
        with contextlib.redirect_stdout(sys.stderr), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            program = torch.onnx.export(module.eval(), (example,), input_names=[input_name],
                                        output_names=[output_name], dynamic_shapes=(dynamic,),
                                        external_data=False, verbose=False)
        # Each node records the source paths and lines it was traced from: they would name
        # this checkout's folder and make the file differ from one checkout to the next.
        for node in program.model.graph.all_nodes():
            node.metadata_props.clear()
        program.model.metadata_props.update(metadata)
        program.save(tmp)
        tmp.replace(path)  # atomic: a killed export never leaves a truncated model behind
    finally:
        tmp.unlink(missing_ok=True)
    return path

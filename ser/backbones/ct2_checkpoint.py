"""Read a CTranslate2 ``model.bin`` into numpy arrays, without CTranslate2.

The layout is the one ``ctranslate2.specs.ModelSpec`` writes and
``ctranslate2::models::Model::load`` reads (binary version 4 and later; every
integer little-endian)::

    u32 binary_version
    str spec_name            e.g. "WhisperSpec"
    u32 spec_revision
    u32 n_variables, then n_variables times:
        str name             e.g. "encoder/conv1/weight"
        u8  rank
        u32 dims[rank]
        u8  dtype_id         index into DTYPES
        u32 n_bytes
        n_bytes of row-major data
    u32 n_aliases, then n_aliases times:
        str alias
        str target           name of a variable stored above

``str`` is a u16 length that counts a trailing NUL, then that many bytes.
The converter stores a tensor once and aliases its exact duplicates.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

MIN_BINARY_VERSION = 4  # older files store an item width instead of a dtype id
MAX_BINARY_VERSION = 6  # the newest layout CTranslate2 4.x writes

# Order of CTranslate2's DataType enum (include/ctranslate2/types.h).
# numpy has no bfloat16, so index 5 is left unsupported.
DTYPES = (np.dtype("<f4"), np.dtype("i1"), np.dtype("<i2"), np.dtype("<i4"), np.dtype("<f2"))
DTYPE_NAMES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


@dataclass(frozen=True)
class Ct2Model:
    """What ``model.bin`` holds.

    ``variables`` maps each name (aliases included) to an array of the stored
    shape and dtype; rank-0 arrays are the spec's scalar attributes. Arrays are
    read-only views of one buffer, and an alias is the same object as its target.
    """

    spec: str
    revision: int
    binary_version: int
    variables: dict[str, np.ndarray]


def parse_ct2_model(buffer: bytes, path: str = "model.bin") -> Ct2Model:
    """Parse the bytes of a ``model.bin``; ``path`` only names it in error messages."""
    (binary_version,), pos = _unpack("<I", buffer, 0)
    if not MIN_BINARY_VERSION <= binary_version <= MAX_BINARY_VERSION:
        raise ValueError(
            f"{path}: binary version {binary_version} is not supported "
            f"(expected {MIN_BINARY_VERSION}..{MAX_BINARY_VERSION})"
        )
    spec, pos = _read_string(buffer, pos)
    (revision, n_variables), pos = _unpack("<II", buffer, pos)

    variables = {}
    for _ in range(n_variables):
        name, array, pos = _read_variable(buffer, pos)
        variables[name] = array

    (n_aliases,), pos = _unpack("<I", buffer, pos)
    for _ in range(n_aliases):
        alias, pos = _read_string(buffer, pos)
        target, pos = _read_string(buffer, pos)
        if target not in variables:
            raise ValueError(f"{path}: alias {alias!r} points to missing variable {target!r}")
        variables[alias] = variables[target]

    if pos != len(buffer):
        raise ValueError(f"{path}: {len(buffer) - pos} unread bytes after the aliases")
    return Ct2Model(spec, revision, binary_version, variables)


def _unpack(fmt: str, buffer: bytes, pos: int) -> tuple[tuple, int]:
    """The values of struct format ``fmt`` at ``pos``, and the position after them."""
    return struct.unpack_from(fmt, buffer, pos), pos + struct.calcsize(fmt)


def _read_string(buffer: bytes, pos: int) -> tuple[str, int]:
    """A length-prefixed, NUL-terminated UTF-8 string at ``pos``."""
    (length,), pos = _unpack("<H", buffer, pos)
    raw = buffer[pos : pos + length]
    if length == 0 or raw[-1] != 0:
        raise ValueError(f"malformed string at byte {pos}")
    return raw[:-1].decode("utf-8"), pos + length


def _read_variable(buffer: bytes, pos: int) -> tuple[str, np.ndarray, int]:
    """One named tensor at ``pos``: its name, its array, and the position after it."""
    name, pos = _read_string(buffer, pos)
    (rank,), pos = _unpack("<B", buffer, pos)
    shape, pos = _unpack(f"<{rank}I", buffer, pos)
    (dtype_id, n_bytes), pos = _unpack("<BI", buffer, pos)
    if dtype_id >= len(DTYPES):
        kind = DTYPE_NAMES[dtype_id] if dtype_id < len(DTYPE_NAMES) else f"id {dtype_id}"
        raise ValueError(f"variable {name!r}: dtype {kind} is not supported")

    dtype = DTYPES[dtype_id]
    count = int(np.prod(shape, dtype=np.int64))
    if count * dtype.itemsize != n_bytes:
        raise ValueError(f"variable {name!r}: {n_bytes} bytes do not fit shape {shape} of {dtype}")
    array = np.frombuffer(buffer, dtype=dtype, count=count, offset=pos).reshape(shape)
    return name, array, pos + n_bytes

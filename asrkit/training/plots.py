"""Attention-alignment plots as PNG, written by hand (zlib + struct): no plotting dependency.

An alignment is a matrix (output tokens x encoder frames) of attention weights; a model that
has learned to listen shows a bright monotonic diagonal. Rows are tokens (top to bottom),
columns encoder frames (left to right), colours a viridis-like map from 0 (dark) to the row
maximum of the whole matrix (yellow).
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from asrkit.utils.fileio import atomic_open, id_file_name

# Anchors of matplotlib's viridis, interpolated linearly.
_VIRIDIS = np.array([
    [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
    [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
], dtype=np.float64)


def colormap(x: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> uint8 RGB, shape (..., 3)."""
    x = np.clip(np.nan_to_num(x), 0.0, 1.0) * (len(_VIRIDIS) - 1)
    lo = np.floor(x).astype(int)
    hi = np.minimum(lo + 1, len(_VIRIDIS) - 1)
    frac = (x - lo)[..., None]
    return np.round(_VIRIDIS[lo] * (1 - frac) + _VIRIDIS[hi] * frac).astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 image as PNG (8-bit RGB, no filtering)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
    h, w, _ = rgb.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1).tobytes()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def alignment_image(weights: np.ndarray, min_size: int = 240, max_cell: int = 8) -> np.ndarray:
    """An (L, T) weight matrix -> an RGB image, each cell enlarged so small matrices stay visible."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.size == 0:
        raise ValueError(f"expected a non-empty (tokens, frames) matrix, got shape {weights.shape}")
    peak = weights.max()
    img = colormap(weights / peak if peak > 0 else weights)
    sy = max(1, min(max_cell, -(-min_size // weights.shape[0])))
    sx = max(1, min(max_cell, -(-min_size // weights.shape[1])))
    return np.repeat(np.repeat(img, sy, axis=0), sx, axis=1)


def plot_file_name(utt: str, epoch: int) -> str:
    """``<utt>.epoch<N>.png``, the utterance id made one safe file name (fileio.id_file_name)."""
    return f"{id_file_name(utt)}.epoch{epoch}.png"


def save_alignment_png(path: Path, weights: np.ndarray) -> None:
    with atomic_open(path, "wb") as f:
        f.write(png_bytes(alignment_image(weights)))

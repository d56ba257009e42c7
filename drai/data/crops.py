"""Stored patches and the 64x64 images the models see.

A patch set may store its images with a margin of context around the 64x64
window (``images`` of shape (N, C, S, S) with S >= 64 and S - 64 even, at the
same scale as the 64x64 window). Training draws random 64x64 crops from that
margin (Section III-G: "random flipping and cropping"); everything else
(evaluation, figures, retrieval, the ``drai`` command) sees the centre crop,
which is exactly the window around the nodule or lesion centre.
"""

from __future__ import annotations

import numpy as np

MODEL_SIZE = 64  # the networks take 64x64 images (drai/models/networks.py)


def centre_crop(images: np.ndarray, size: int = MODEL_SIZE) -> np.ndarray:
    """The centre ``size`` x ``size`` window of images (..., S, S); unchanged when S == size."""
    stored = images.shape[-1]
    if images.shape[-2] != stored:
        raise ValueError(f"patches must be square, got {images.shape[-2]}x{stored}")
    if stored < size or (stored - size) % 2:
        raise ValueError(f"stored patches of {stored}x{stored} cannot be centre-cropped to {size}x{size}")
    if stored == size:
        return images
    margin = (stored - size) // 2
    return images[..., margin : margin + size, margin : margin + size]

"""The toy images: a disc or a square (the content, one-hot in the vector) on a background whose brightness
(the style) is drawn per image."""

from __future__ import annotations

import numpy as np
import pandas as pd

from drai.data.factors import ordered
from drai.data.patchset import PatchSet

SIZE = 64


def draw(items: int, seed: int) -> tuple[PatchSet, pd.DataFrame]:
    """The patch set and its factor table."""
    rng = np.random.default_rng(seed)
    shapes = np.arange(items) % 2
    brightness = rng.uniform(-0.8, 0.2, items)
    y, x = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    disc, square = np.hypot(x, y) < 14, np.maximum(abs(x), abs(y)) < 12
    images = np.empty((items, 1, SIZE, SIZE), np.float32)
    for i in range(items):
        image = np.full((SIZE, SIZE), brightness[i])
        image[disc if shapes[i] == 0 else square] = 0.9
        images[i, 0] = np.clip(image + rng.normal(0, 0.05, image.shape), -1, 1)
    splits = np.where(np.arange(items) % 3 == 2, "test", "train")
    ids = np.array([f"toy{i:04d}" for i in range(items)])
    patches = PatchSet(
        "toy",
        "synthetic",
        images,
        np.eye(2, dtype=np.float32)[shapes],
        splits,
        {"labels": shapes.astype(np.int64), "items": ids},
    )
    factors = pd.DataFrame(
        {"row": np.arange(items), "item": ids, "split": splits, "brightness": brightness, "shape": shapes}
    )
    return patches, ordered(factors, "toy")

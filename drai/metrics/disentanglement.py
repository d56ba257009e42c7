"""CIFC, the cross-image feature consistency error (eq. 19, Section III-C1).

For a pair (a, b): hybrids I_ab = G(z_b, c_a) and I_ba = G(z_a, c_b), then the
second hybrid step I_aa = G(z_ba, c_ab) and I_bb = G(z_ab, c_ba) should give
back a and b; the error is measured on the codes inferred from I_aa and I_bb.

Norm: the mean absolute error per code dimension (l1, as the paper uses for
every code-space term, eq. 9, eq. 11, eq. 15), so style and content codes of
different sizes weigh alike. Pairs are drawn from the test images with a
fixed seed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def random_pairs(count: int, pairs: int, seed: int = 0) -> np.ndarray:
    """``pairs`` index pairs (a, b), a != b, among ``count`` images, fixed by ``seed``."""
    if count < 2:
        raise ValueError("CIFC needs at least two images")
    rng = np.random.default_rng(seed)
    a = rng.integers(0, count, pairs)
    b = (a + rng.integers(1, count, pairs)) % count
    return np.stack([a, b], axis=1)


def _mae(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).abs().mean(dim=1)


@torch.no_grad()
def cifc(
    infer: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    generate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    pairs: np.ndarray,
    batch_size: int = 256,
) -> float:
    """Mean over pairs of |z_a - z_aa| + |c_a - c_aa| + |z_b - z_bb| + |c_b - c_bb| (eq. 19)."""
    total, count = 0.0, 0
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        x_a, x_b = images[chunk[:, 0]], images[chunk[:, 1]]
        z_a, c_a = infer(x_a)
        z_b, c_b = infer(x_b)
        z_ab, c_ab = infer(generate(z_b, c_a))
        z_ba, c_ba = infer(generate(z_a, c_b))
        z_aa, c_aa = infer(generate(z_ba, c_ab))
        z_bb, c_bb = infer(generate(z_ab, c_ba))
        error = _mae(z_a, z_aa) + _mae(c_a, c_aa) + _mae(z_b, z_bb) + _mae(c_b, c_bb)
        total += float(error.sum())
        count += len(chunk)
    return total / count

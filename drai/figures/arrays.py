"""The figures' computations on a model: plain arrays in, plain arrays out.

Codes (posterior means), generations G(z, c), the conditional and hybrid
grids of Fig. 10-13 and 16-17, the retrieval of Fig. 14-15 (and LIDC's Target
and Pixel Matched images), the interpolations of Fig. 18 and the t-SNE of
Fig. 19. Nothing here draws.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from drai.evaluation import codes
from drai.figures.selection import SEED
from drai.metrics.retrieval import disagreement, nearest


@contextlib.contextmanager
def _evaluating(model):
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _tensor(model, array) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array, dtype=np.float32), device=_device(model))


def infer_codes(model, images: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray | None]:
    """Style and content codes (posterior means) of images; content None for one-code models."""
    with _evaluating(model):
        return codes(model, images, batch_size, _device(model))


def content_of(model, vectors: np.ndarray) -> np.ndarray:
    """Content codes E_phi(t) of conditioning vectors (the mean of q(c|t))."""
    with _evaluating(model):
        return model.content_of(_tensor(model, vectors)).cpu().numpy()


def generate(model, z: np.ndarray, c: np.ndarray) -> np.ndarray:
    """G(z, c) for rows of codes, as (N, C, H, W) float32."""
    with _evaluating(model):
        return model.generate(_tensor(model, z), _tensor(model, c)).cpu().numpy()


def sample_styles(model, n: int, seed: int = SEED) -> np.ndarray:
    """``n`` styles z ~ N(0, I), the same for a given seed."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((n, model.shape.z_dim), generator=generator).numpy()


def conditional_grid(
    model, references: np.ndarray, vectors: np.ndarray, n_samples: int = 6, seed: int = SEED
) -> np.ndarray:
    """(rows, 1 + n_samples, C, H, W): the reference image, then G(z_k, content_of(t_row)).

    Column k + 1 uses the same sampled style z_k in every row.
    """
    c = content_of(model, vectors)
    z = sample_styles(model, n_samples, seed)
    rows, k = len(references), n_samples
    hybrids = generate(model, np.tile(z, (rows, 1)), np.repeat(c, k, axis=0))
    return np.concatenate(
        [references[:, None].astype(np.float32), hybrids.reshape(rows, k, *hybrids.shape[1:])], axis=1
    )


def hybrid_grid(
    model, style_images: np.ndarray, content_images: np.ndarray, content_vectors: np.ndarray | None = None
) -> np.ndarray:
    """(n_content, n_style, C, H, W) with cell (i, j) = G(z of style image j, c of content image i).

    One-code models take c from ``content_vectors`` (content_of(t)).
    """
    z, _ = infer_codes(model, style_images)
    if model.variant.two_codes:
        c = infer_codes(model, content_images)[1]
    else:
        if content_vectors is None:
            raise ValueError(f"{model.variant.name} has one code: its content comes from the conditioning vectors")
        c = content_of(model, content_vectors)
    rows, cols = len(c), len(z)
    images = generate(model, np.tile(z, (rows, 1)), np.repeat(c, cols, axis=0))
    return images.reshape(rows, cols, *images.shape[1:])


@dataclass
class Retrieval:
    """Nearest search images to one query: indices into the search set."""

    by_style: np.ndarray
    by_content: np.ndarray | None  # None for one-code models (they retrieve by their single code)


def retrieval_panel(
    query_codes: tuple[np.ndarray, np.ndarray | None],
    search_codes: tuple[np.ndarray, np.ndarray | None],
    n: int = 5,
    exclude: int | None = None,
) -> Retrieval:
    """Top-``n`` search images by style and by content code (mean absolute error).

    Codes are (z, c) pairs as :func:`infer_codes` returns them, for one query
    ((1, dim) or (dim,)) and the search set; ``exclude`` drops one search index
    (the query itself, when it is in the search set).
    """
    keep = np.array([i for i in range(len(search_codes[0])) if i != exclude], dtype=np.int64)
    n = min(n, len(keep))

    def top(query, search):
        found = nearest(np.reshape(query, (1, -1)), np.reshape(search, (len(search), -1))[keep], n)[0]
        return keep[found]

    by_content = None
    if query_codes[1] is not None and search_codes[1] is not None:
        by_content = top(query_codes[1], search_codes[1])
    return Retrieval(top(query_codes[0], search_codes[0]), by_content)


def target_image(query_attributes: np.ndarray, search_attributes: np.ndarray, exclude: int | None = None) -> int:
    """The search image of lowest disagreement divergence (attribute MSE) to the query; ties by index."""
    divergence = disagreement(np.reshape(query_attributes, (1, -1)), search_attributes)[0]
    if exclude is not None and len(divergence) > 1:
        divergence[exclude] = np.inf
    return int(np.argmin(divergence))


def pixel_match(query_image: np.ndarray, search_images: np.ndarray, exclude: int | None = None) -> int:
    """The search image nearest the query in pixel space (mean absolute error)."""
    search = search_images.reshape(len(search_images), -1).astype(np.float64)
    order = nearest(query_image.reshape(1, -1).astype(np.float64), search, len(search))[0]
    return int(next((i for i in order if i != exclude), order[0]))


INTERPOLATIONS = ("content", "style", "both")


def interpolation(model, source: np.ndarray, target: np.ndarray, steps: int = 7) -> dict[str, np.ndarray]:
    """Generations along straight lines between two images' codes: name -> (steps, C, H, W).

    ``content``: G(z_s, (1-a) c_s + a c_t), the source's style kept; ``style``:
    G((1-a) z_s + a z_t, c_s), the source's content kept; ``both``: both codes
    move. ``a`` runs from 0 to 1 in ``steps`` steps.
    """
    if not model.variant.two_codes:
        raise ValueError(f"{model.variant.name} has one code: no content code to interpolate")
    z, c = infer_codes(model, np.stack([source, target]))
    a = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    line_z, line_c = (1 - a) * z[0] + a * z[1], (1 - a) * c[0] + a * c[1]
    fixed_z, fixed_c = np.repeat(z[:1], steps, 0), np.repeat(c[:1], steps, 0)
    return {
        "content": generate(model, fixed_z, line_c),
        "style": generate(model, line_z, fixed_c),
        "both": generate(model, line_z, line_c),
    }


def tsne_embedding(codes: np.ndarray, seed: int = SEED, perplexity: float = 30.0, threads: int = 1) -> np.ndarray:
    """2-D t-SNE of codes (N, dim) -> (N, 2); perplexity clipped to below N.

    ``threads`` caps OpenMP: on a busy machine more threads than free cores
    make scikit-learn's t-SNE ten times slower.
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    codes = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    n = len(codes)
    if n < 2:
        return np.zeros((n, 2))
    perplexity = float(min(perplexity, max(1.0, (n - 1) / 3)))
    init = "pca" if codes.shape[1] >= 2 else "random"
    with threadpool_limits(limits=threads):
        return TSNE(n_components=2, perplexity=perplexity, init=init, random_state=seed).fit_transform(codes)

"""The paper's qualitative figures 10-19, from trained models (no retraining).

Every figure is computed first, as plain arrays, by the pure functions below
(:func:`conditional_grid`, :func:`hybrid_grid`, :func:`retrieval_panel`,
:func:`interpolation`, :func:`tsne_embedding`), then drawn with matplotlib's
Agg backend. :func:`make_figure` does both for one entry of
:data:`FIGURE_SPECS`; the workflow's ``fig10`` ... ``fig19`` rules call it.

Choices the paper leaves open:

* Test images: LIDC's curated test nodules (central slice), HAM10000's test
  split without the flipped copies. LIDC retrieval queries come from the query
  set (test nodules of median malignancy 3), searched in the curated test set.
* References (and the query) are drawn with a fixed seed, spread over the size
  bins (LIDC) or classes (HAM10000), and shown in that order.
* In the conditional generations (Fig. 10/11) each column shares one sampled
  style z ~ N(0, I) across the rows, so a row shows one content with several
  styles and a column one style with several contents.
* Codes are posterior means (``ModelFamily.infer``). One-code models (cInfoGAN,
  cVAE) take content from the conditioning vector (``content_of(t)``) and
  retrieve by their single code.
* Interpolations (Fig. 18) are linear between the two images' codes.
* t-SNE (Fig. 19): scikit-learn's, PCA initialisation, fixed seed, perplexity
  30 clipped to below the number of points.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from drai.data.crops import centre_crop
from drai.data.lidc_labels import SIZE_BIN_LABELS
from drai.evaluation import codes, lidc_retrieval_masks
from drai.figure_specs import (  # noqa: F401  (the figure specs live in a torch-free module)
    ABLATION_MODELS,
    DATASET_NAMES,
    FIGURE_SPECS,
    MAIN_MODELS,
    TWO_CODE_MODELS,
    FigureSpec,
    planned,
)
from drai.io import save_figure
from drai.metrics.retrieval import attributes, disagreement, nearest

log = logging.getLogger(__name__)

SEED = 0  # every random choice of the figures (references, sampled styles, t-SNE)


# ---------------------------------------------------------------------------
# Test images


@dataclass
class ImageSet:
    """Images (N, C, H, W) float32 in [-1, 1] with what the figures label them by."""

    dataset: str
    images: np.ndarray
    vectors: np.ndarray
    groups: np.ndarray  # size bin (LIDC) or class (HAM10000)
    group_names: tuple[str, ...]
    captions: list[str]  # a short label per image
    sizes: np.ndarray | None = None  # LIDC nodule size, mm
    note: str = ""  # which images these are

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index, note: str | None = None) -> "ImageSet":
        index = np.asarray(index)
        return ImageSet(
            self.dataset, self.images[index], self.vectors[index], self.groups[index], self.group_names,
            [self.captions[i] for i in np.arange(len(self))[index]],
            None if self.sizes is None else self.sizes[index], self.note if note is None else note,
        )


def load_image_sets(patches_path: str | Path, dataset: str) -> tuple[ImageSet, ImageSet | None]:
    """The test images of a patch set, and (LIDC) the retrieval queries or None.

    LIDC: curated test nodules at their central slice; queries: the query set's
    central slices. Should a small preset have no curated test nodule, all test
    nodules are used (the note says so). HAM10000: the test split without the
    augmented copies; no separate queries.
    """
    with np.load(patches_path) as data:
        splits = data["splits"]
        images, vectors = centre_crop(data["images"]), data["vectors"]
        if dataset == "lidc":
            query, keep = lidc_retrieval_masks(data)  # Table IV's query and search sets
            note = "curated test nodules"
            if not keep.any():
                keep = (splits == "test") & (data["slice_offsets"] == 0)
                note = "test nodules (no curated one in this preset)"
                log.warning("%s: no curated test nodule; the figures use all %d test nodules", patches_path, keep.sum())
            sizes = data["sizes"].astype(np.float64)
            everything = ImageSet(
                dataset, images.astype(np.float32), vectors.astype(np.float32), data["size_bins"].astype(np.int64),
                tuple(SIZE_BIN_LABELS), [f"{s:.1f} mm" for s in sizes], sizes,
            )
        elif dataset == "ham10000":
            keep, note = (splits == "test") & ~data["augmented"], "test images"
            if "modelled" in data.files:  # the lesion types the models are conditioned on
                keep &= data["modelled"]
            query = np.zeros(len(splits), bool)
            names = tuple(str(n) for n in data["class_names"])
            labels = data["labels"].astype(np.int64)
            everything = ImageSet(
                dataset, images.astype(np.float32), vectors.astype(np.float32), labels, names,
                [names[i] for i in labels],
            )
        else:
            raise ValueError(f"unknown dataset {dataset!r}")
    if not keep.any():
        raise ValueError(f"{patches_path}: no test images for the figures")
    tests = everything.subset(np.flatnonzero(keep), note)
    queries = everything.subset(np.flatnonzero(query), "query set") if query.any() else None
    return tests, queries


def choose_references(groups: np.ndarray, k: int, seed: int = SEED, order: np.ndarray | None = None) -> np.ndarray:
    """Up to ``k`` indices, spread over the groups (round robin, random within a group).

    Returned sorted by (group, ``order``, index) so that the figures show them
    in order (``order``: e.g. the nodule sizes).
    """
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    pools = [list(rng.permutation(np.flatnonzero(groups == g))) for g in np.unique(groups)]
    chosen: list[int] = []
    while len(chosen) < min(k, len(groups)):
        for pool in pools:
            if pool and len(chosen) < k:
                chosen.append(int(pool.pop(0)))
    order = np.zeros(len(groups)) if order is None else np.asarray(order)
    return np.array(sorted(chosen, key=lambda i: (groups[i], order[i], i)), dtype=np.int64)


# ---------------------------------------------------------------------------
# Computation: plain arrays in, plain arrays out.


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


def conditional_grid(model, references: np.ndarray, vectors: np.ndarray, n_samples: int = 6,
                     seed: int = SEED) -> np.ndarray:
    """(rows, 1 + n_samples, C, H, W): the reference image, then G(z_k, content_of(t_row)).

    Column k + 1 uses the same sampled style z_k in every row.
    """
    c = content_of(model, vectors)
    z = sample_styles(model, n_samples, seed)
    rows, k = len(references), n_samples
    hybrids = generate(model, np.tile(z, (rows, 1)), np.repeat(c, k, axis=0))
    return np.concatenate([references[:, None].astype(np.float32), hybrids.reshape(rows, k, *hybrids.shape[1:])], axis=1)


def hybrid_grid(model, style_images: np.ndarray, content_images: np.ndarray,
                content_vectors: np.ndarray | None = None) -> np.ndarray:
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


def retrieval_panel(query_codes: tuple[np.ndarray, np.ndarray | None],
                    search_codes: tuple[np.ndarray, np.ndarray | None], n: int = 5,
                    exclude: int | None = None) -> Retrieval:
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


# ---------------------------------------------------------------------------
# Drawing: image grids tiled into one mosaic per panel.


@dataclass
class Grid:
    """A panel of images: cells (rows, cols, C, H, W), NaN where a cell is empty."""

    cells: np.ndarray
    title: str = ""
    row_labels: Sequence[str] | None = None
    col_labels: Sequence[str] | None = None
    cell_labels: Mapping[tuple[int, int], str] = field(default_factory=dict)
    split_row: bool = False  # a gap after the first row
    split_col: bool = False  # a gap after the first column
    corner: str = ""  # text in the (empty) top-left cell

    @property
    def shape(self) -> tuple[int, int]:
        return self.cells.shape[0], self.cells.shape[1]


def empty_cells(rows: int, cols: int, like: np.ndarray) -> np.ndarray:
    return np.full((rows, cols, *like.shape[-3:]), np.nan, dtype=np.float32)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """(C, H, W) in [-1, 1] -> (H, W, 3) in [0, 1]."""
    image = np.clip((np.asarray(image, dtype=np.float32) + 1) / 2, 0, 1)
    if image.shape[0] == 1:
        image = np.repeat(image, 3, axis=0)
    return image.transpose(1, 2, 0)


PAD, GAP = 2, 10  # pixels between cells, and after a split row or column


def mosaic(grid: Grid) -> tuple[np.ndarray, list[float], list[float]]:
    """The panel as one RGB image on white, and the centres (x of columns, y of rows)."""
    rows, cols = grid.shape
    h, w = grid.cells.shape[-2:]
    ys = [r * (h + PAD) + (GAP if grid.split_row and r > 0 else 0) for r in range(rows)]
    xs = [c * (w + PAD) + (GAP if grid.split_col and c > 0 else 0) for c in range(cols)]
    canvas = np.ones((ys[-1] + h, xs[-1] + w, 3), dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            cell = grid.cells[r, c]
            if not np.isnan(cell).all():
                canvas[ys[r]:ys[r] + h, xs[c]:xs[c] + w] = to_rgb(cell)
    return canvas, [x + w / 2 - 0.5 for x in xs], [y + h / 2 - 0.5 for y in ys]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


CELL_INCH = 0.62


def _draw_panel(ax, grid: Grid, width_px: float, height_px: float) -> None:
    canvas, xs, ys = mosaic(grid)
    h, w = grid.cells.shape[-2:]
    ax.imshow(canvas, interpolation="nearest")
    ax.set_xlim(-0.5, width_px - 0.5)  # every panel at the scale of the largest grid
    ax.set_ylim(height_px - 0.5, -0.5)
    for r, label in enumerate(grid.row_labels or []):
        ax.text(-4, ys[r], label, ha="right", va="center", fontsize=6)
    for c, label in enumerate(grid.col_labels or []):
        ax.text(xs[c], -4, label, ha="center", va="bottom", fontsize=6)
    for (r, c), label in grid.cell_labels.items():
        ax.text(xs[c], ys[r] + h / 2 - 2, label, ha="center", va="bottom", fontsize=5, color="white",
                bbox={"facecolor": "black", "alpha": 0.55, "pad": 0.8, "linewidth": 0})
    if grid.corner:
        ax.text(xs[0], ys[0], grid.corner, ha="center", va="center", fontsize=6, color="0.25")
    ax.set_title(grid.title, fontsize=8, fontweight="bold", pad=14 if grid.col_labels else 4, loc="left")


def draw_grids(grids: Sequence[Grid], title: str, output, ncols: int = 2, note: str = "",
               header: Grid | None = None, dpi: int = 150) -> None:
    """One panel per grid, ``ncols`` panels a row, under a title; saved atomically.

    ``header`` is a panel on a row of its own above the others. Every cell has
    the same size on the page; a row of panels is as high as its tallest grid.
    """
    plt = _pyplot()
    from matplotlib.gridspec import GridSpec

    ncols = max(1, min(ncols, len(grids)))
    lines = [list(grids[i:i + ncols]) for i in range(0, len(grids), ncols)]
    h, w = grids[0].cells.shape[-2:]
    cols = max(g.shape[1] for g in grids)
    width_px = cols * (w + PAD) + GAP
    line_rows = [max(g.shape[0] for g in line) for line in lines]
    if header is not None:
        line_rows.insert(0, header.shape[0])
    labels_w = 0.75 if any(g.row_labels for g in grids) else 0.2
    panel_w = cols * CELL_INCH + labels_w
    extra_h = 0.6 + (0.4 if any(g.col_labels for g in [*grids, *([header] if header else [])]) else 0)
    heights = [r * CELL_INCH + extra_h for r in line_rows]
    fig_h = sum(heights) + 0.5 + (0.25 if note else 0)
    fig = plt.figure(figsize=(ncols * panel_w, fig_h))
    spec = GridSpec(len(heights), ncols, figure=fig, height_ratios=heights)
    row = 0
    if header is not None:
        ax = fig.add_subplot(spec[0, :])
        ax.set_axis_off()
        _draw_panel(ax, header, ncols * width_px + (ncols - 1) * labels_w / CELL_INCH * (w + PAD),
                    header.shape[0] * (h + PAD) + GAP)
        row = 1
    for line, rows in zip(lines, line_rows[row:]):
        for col, grid in enumerate(line):
            ax = fig.add_subplot(spec[row, col])
            ax.set_axis_off()
            _draw_panel(ax, grid, width_px, rows * (h + PAD) + GAP)
        row += 1
    fig.suptitle(title, fontsize=10)
    if note:
        fig.text(0.5, 0.005, note, ha="center", va="bottom", fontsize=6, color="0.3", wrap=True)
    fig.tight_layout(rect=(0, (0.25 if note else 0) / fig_h, 1, 1 - 0.4 / fig_h))  # room for the title and note
    save_figure(fig, output, dpi=dpi)
    plt.close(fig)


def draw_message(title: str, message: str, output) -> None:
    """A figure that only says why it is empty (no model of it is trained in the preset)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=9, wrap=True)
    fig.suptitle(title, fontsize=10)
    save_figure(fig, output, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------
# The figures: grids of every model, drawn.


def conditional_grids(models: Mapping[str, object], tests: ImageSet, rows: int = 4, n_samples: int = 6,
                      seed: int = SEED) -> list[Grid]:
    refs = choose_references(tests.groups, rows, seed, tests.sizes)
    grids = []
    for name, model in models.items():
        cells = conditional_grid(model, tests.images[refs], tests.vectors[refs], n_samples, seed)
        grids.append(Grid(cells, name, row_labels=[tests.captions[i] for i in refs],
                          col_labels=["real"] + [f"z{k + 1}" for k in range(n_samples)], split_col=True))
    return grids


def hybrid_grids(models: Mapping[str, object], tests: ImageSet, k: int = 5, seed: int = SEED) -> list[Grid]:
    style_refs = choose_references(tests.groups, k, seed + 1, tests.sizes)
    content_refs = choose_references(tests.groups, k, seed, tests.sizes)
    style, content = tests.images[style_refs], tests.images[content_refs]
    grids = []
    for name, model in models.items():
        hybrids = hybrid_grid(model, style, content, tests.vectors[content_refs])
        cells = empty_cells(1 + len(content_refs), 1 + len(style_refs), style)
        cells[0, 1:], cells[1:, 0], cells[1:, 1:] = style, content, hybrids
        one_code = "" if model.variant.two_codes else " (content from t)"
        grids.append(Grid(
            cells, name + one_code,
            row_labels=[""] + [tests.captions[i] for i in content_refs],
            col_labels=["", *(tests.captions[i] for i in style_refs)],
            split_row=True, split_col=True, corner="style →\ncontent ↓",
        ))
    return grids


def retrieval_grids(models: Mapping[str, object], tests: ImageSet, queries: ImageSet | None, n: int = 5,
                    seed: int = SEED) -> tuple[Grid | None, list[Grid], str]:
    """LIDC's panel of the query, its Target image and Pixel Matched (None for HAM10000), every model's panel, a note."""
    if queries is not None and len(queries):
        pick = choose_references(queries.groups, 1, seed)[0]
        query, exclude, where = queries.subset([pick]), None, f"query from the {queries.note}"
    else:
        pick = choose_references(tests.groups, 1, seed)[0]
        query, exclude, where = tests.subset([pick]), int(pick), f"query from the {tests.note} (left out of the search)"
    note = f"{DATASET_NAMES[tests.dataset]}: {where}; search set: {len(tests)} {tests.note}."
    like = query.images
    header = None
    if tests.sizes is not None:  # LIDC: the attribute-based target and the pixel-space neighbour
        target = target_image(attributes(query.vectors, query.sizes)[0], attributes(tests.vectors, tests.sizes), exclude)
        matched = pixel_match(query.images[0], tests.images, exclude)
        first = np.stack([query.images[0], tests.images[target], tests.images[matched]])[None]
        header = Grid(first, "Query, its Target image and its Pixel Matched image",
                      col_labels=["Query", "Target image", "Pixel Matched"],
                      cell_labels={(0, 0): query.captions[0], (0, 1): tests.captions[target],
                                   (0, 2): tests.captions[matched]})
    grids = []
    for name, model in models.items():
        found = retrieval_panel(infer_codes(model, query.images), infer_codes(model, tests.images), n, exclude)
        k = len(found.by_style)
        cells = empty_cells(1 + k, 1 + k, like)
        cells[0, 0] = query.images[0]
        cells[0, 1:] = tests.images[found.by_style]
        labels = {(0, 0): query.captions[0]}
        labels.update({(0, 1 + j): tests.captions[i] for j, i in enumerate(found.by_style)})
        if found.by_content is not None:
            cells[1:, 0] = tests.images[found.by_content]
            labels.update({(1 + j, 0): tests.captions[i] for j, i in enumerate(found.by_content)})
            row_labels = ["query"] + [f"content #{j + 1}" for j in range(k)]
            col_labels = [""] + [f"style #{j + 1}" for j in range(k)]
            title = name
        else:
            row_labels = ["query"] + [""] * k
            col_labels = [""] + [f"code #{j + 1}" for j in range(k)]
            title = f"{name} (one code)"
        grids.append(Grid(cells, title, row_labels=row_labels, col_labels=col_labels, cell_labels=labels,
                          split_row=True, split_col=True))
    return header, grids, note


def interpolation_grid(model, tests: ImageSet, steps: int = 7, seed: int = SEED) -> Grid:
    """Rows content / style / both: the source, ``steps`` generations, the target."""
    groups = np.unique(tests.groups)
    rng = np.random.default_rng(seed)
    if len(tests) < 2:
        source = target = 0
    elif len(groups) >= 2:  # from the lowest group to the highest: a visible change of content
        source = int(rng.choice(np.flatnonzero(tests.groups == groups[0])))
        target = int(rng.choice(np.flatnonzero(tests.groups == groups[-1])))
    else:
        source, target = (int(i) for i in rng.choice(len(tests), 2, replace=False))
    lines = interpolation(model, tests.images[source], tests.images[target], steps)
    cells = empty_cells(len(INTERPOLATIONS), steps + 2, tests.images)
    for r, name in enumerate(INTERPOLATIONS):
        cells[r, 0], cells[r, 1:-1], cells[r, -1] = tests.images[source], lines[name], tests.images[target]
    return Grid(
        cells, f"{DATASET_NAMES[tests.dataset]}: {tests.captions[source]} -> {tests.captions[target]}",
        row_labels=["content only\n(source style)", "style only\n(source content)", "content + style"],
        col_labels=["source"] + [f"a={a:.2f}" for a in np.linspace(0, 1, steps)] + ["target"],
        split_col=True,
    )


def draw_tsne(panels: Sequence[tuple[str, np.ndarray, np.ndarray, Sequence[str]]], title: str, output,
              ncols: int = 2) -> None:
    """Scatter plots: (panel title, points (N, 2), groups (N,), group names) each."""
    plt = _pyplot()
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    colours = plt.get_cmap("viridis")
    for ax, (name, points, groups, group_names) in zip(axes.ravel(), panels):
        ax.set_axis_on()
        for g, label in enumerate(group_names):
            members = groups == g
            if not members.any():
                continue
            colour = colours(g / max(len(group_names) - 1, 1))
            ax.scatter(points[members, 0], points[members, 1], s=12, color=colour, label=f"{label} ({members.sum()})",
                       edgecolors="none", alpha=0.85)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=6, loc="best", markerscale=1.2, frameon=True)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, output, dpi=150)
    plt.close(fig)


def make_figure(spec: FigureSpec, patches: Mapping[str, str | Path], models: Mapping[str, Mapping[str, object]],
                output, seed: int = SEED, run_seed: int | None = None, threads: int = 1) -> None:
    """Draw figure ``spec`` to ``output``.

    ``patches``: dataset -> patch set; ``models``: dataset -> {variant: model}
    (trained models, or paths to ``model.pt``), in the figure's order. Models of
    the spec missing here are left out; with none at all, the file says so.
    """
    from drai.train import load_model

    run = f" (run seed {run_seed})" if run_seed is not None else ""
    loaded = {
        dataset: {name: load_model(m) if isinstance(m, (str, Path)) else m for name, m in models.get(dataset, {}).items()}
        for dataset in spec.datasets
        if dataset in patches
    }
    loaded = {d: m for d, m in loaded.items() if m}
    heading = f"Fig. {spec.number}: {spec.title}"
    if not loaded:
        names = ", ".join(spec.models)
        draw_message(heading, f"No model of this figure ({names}) is trained in this preset "
                              f"for {', '.join(DATASET_NAMES[d] for d in spec.datasets)}.", output)
        return
    if spec.kind == "interpolation":
        grids = []
        for dataset, ms in loaded.items():
            tests, _ = load_image_sets(patches[dataset], dataset)
            grids.append(interpolation_grid(ms["DRAI"], tests, seed=seed))
        draw_grids(grids, f"{heading}{run}", output, ncols=1,
                   note="Linear interpolation of DRAI's posterior-mean codes between two test images.")
        return
    if spec.kind == "tsne":
        panels = []
        letters = iter("abcdefgh")
        for dataset, ms in loaded.items():
            tests, _ = load_image_sets(patches[dataset], dataset)
            z, c = infer_codes(ms["DRAI"], tests.images)
            for code_name, codes in (("content c", c), ("style z", z)):
                panels.append((f"({next(letters)}) {DATASET_NAMES[dataset]}: {code_name} ({len(tests)} {tests.note})",
                               tsne_embedding(codes, seed, threads=threads), tests.groups, tests.group_names))
        draw_tsne(panels, f"{heading}{run}", output)
        return
    (dataset, ms), = loaded.items()
    tests, queries = load_image_sets(patches[dataset], dataset)
    log.info("%s: %d %s%s", dataset, len(tests), tests.note,
             f", {len(queries)} queries" if queries is not None else "")
    heading = f"{heading}, {DATASET_NAMES[dataset]}{run}"
    if spec.kind == "conditional":
        grids = conditional_grids(ms, tests, seed=seed)
        note = ("First column: the test image whose conditioning vector gives the content code; "
                "column z_k: one sampled style z_k ~ N(0, I) (the same in every row).")
        draw_grids(grids, heading, output, ncols=2, note=note)
    elif spec.kind == "hybrid":
        grids = hybrid_grids(ms, tests, seed=seed)
        note = ("Top row: style references; left column: content references; "
                "cell (i, j) = G(style code of column j, content code of row i).")
        draw_grids(grids, heading, output, ncols=2, note=note)
    elif spec.kind == "retrieval":
        header, grids, where = retrieval_grids(ms, tests, queries, seed=seed)
        note = (f"{where} To the right of the query: nearest by style code; below it: nearest by content code "
                "(mean absolute error between codes); one-code models retrieve by their single code z.")
        draw_grids(grids, heading, output, ncols=3, note=note, header=header)
    else:
        raise ValueError(f"unknown figure kind {spec.kind!r}")

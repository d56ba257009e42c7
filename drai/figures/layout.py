"""The figures' panels laid out cell by cell, before anything is drawn.

:class:`MosaicGrid` is a panel of images (rows x columns, empty cells NaN) with its
labels; :func:`mosaic` tiles one into a single RGB image. The ``*_grids``
functions lay out every model's panel of one figure kind from the test images
(:mod:`drai.figures.selection`) and the computations (:mod:`drai.figures.arrays`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from drai.data.registry import get_dataset
from drai.figures.arrays import (
    INTERPOLATIONS,
    conditional_grid,
    hybrid_grid,
    infer_codes,
    interpolation,
    pixel_match,
    retrieval_panel,
    target_image,
)
from drai.figures.selection import SEED, FigureImages, choose_references


@dataclass
class MosaicGrid:
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


def mosaic(grid: MosaicGrid) -> tuple[np.ndarray, list[float], list[float]]:
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
                canvas[ys[r] : ys[r] + h, xs[c] : xs[c] + w] = to_rgb(cell)
    return canvas, [x + w / 2 - 0.5 for x in xs], [y + h / 2 - 0.5 for y in ys]


# ---------------------------------------------------------------------------
# Every model's panel of one figure kind.


def conditional_grids(
    models: Mapping[str, object], tests: FigureImages, rows: int = 4, n_samples: int = 6, seed: int = SEED
) -> list[MosaicGrid]:
    refs = choose_references(tests.groups, rows, seed, tests.sizes)
    grids = []
    for name, model in models.items():
        cells = conditional_grid(model, tests.images[refs], tests.vectors[refs], n_samples, seed)
        grids.append(
            MosaicGrid(
                cells,
                name,
                row_labels=[tests.captions[i] for i in refs],
                col_labels=["real"] + [f"z{k + 1}" for k in range(n_samples)],
                split_col=True,
            )
        )
    return grids


def hybrid_grids(models: Mapping[str, object], tests: FigureImages, k: int = 5, seed: int = SEED) -> list[MosaicGrid]:
    style_refs = choose_references(tests.groups, k, seed + 1, tests.sizes)
    content_refs = choose_references(tests.groups, k, seed, tests.sizes)
    style, content = tests.images[style_refs], tests.images[content_refs]
    grids = []
    for name, model in models.items():
        hybrids = hybrid_grid(model, style, content, tests.vectors[content_refs])
        cells = empty_cells(1 + len(content_refs), 1 + len(style_refs), style)
        cells[0, 1:], cells[1:, 0], cells[1:, 1:] = style, content, hybrids
        one_code = "" if model.variant.two_codes else " (content from t)"
        grids.append(
            MosaicGrid(
                cells,
                name + one_code,
                row_labels=[""] + [tests.captions[i] for i in content_refs],
                col_labels=["", *(tests.captions[i] for i in style_refs)],
                split_row=True,
                split_col=True,
                corner="style →\ncontent ↓",
            )
        )
    return grids


def retrieval_grids(
    models: Mapping[str, object], tests: FigureImages, queries: FigureImages | None, n: int = 5, seed: int = SEED
) -> tuple[MosaicGrid | None, list[MosaicGrid], str]:
    """LIDC's panel of the query, its Target image and Pixel Matched (None for HAM10000), each model's panel, a note."""
    if queries is not None and len(queries):
        pick = choose_references(queries.groups, 1, seed)[0]
        query, exclude, where = queries.subset([pick]), None, f"query from the {queries.note}"
    else:
        pick = choose_references(tests.groups, 1, seed)[0]
        query, exclude, where = tests.subset([pick]), int(pick), f"query from the {tests.note} (left out of the search)"
    note = f"{get_dataset(tests.dataset).full_name}: {where}; search set: {len(tests)} {tests.note}."
    like = query.images
    header = None
    if tests.attributes is not None:  # a dataset with retrieval: the attribute-based target, the pixel neighbour
        target = target_image(query.attributes[0], tests.attributes, exclude)
        matched = pixel_match(query.images[0], tests.images, exclude)
        first = np.stack([query.images[0], tests.images[target], tests.images[matched]])[None]
        header = MosaicGrid(
            first,
            "Query, its Target image and its Pixel Matched image",
            col_labels=["Query", "Target image", "Pixel Matched"],
            cell_labels={(0, 0): query.captions[0], (0, 1): tests.captions[target], (0, 2): tests.captions[matched]},
        )
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
        grids.append(
            MosaicGrid(
                cells,
                title,
                row_labels=row_labels,
                col_labels=col_labels,
                cell_labels=labels,
                split_row=True,
                split_col=True,
            )
        )
    return header, grids, note


def interpolation_grid(model, tests: FigureImages, steps: int = 7, seed: int = SEED) -> MosaicGrid:
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
    return MosaicGrid(
        cells,
        f"{get_dataset(tests.dataset).full_name}: {tests.captions[source]} -> {tests.captions[target]}",
        row_labels=["content only\n(source style)", "style only\n(source content)", "content + style"],
        col_labels=["source"] + [f"a={a:.2f}" for a in np.linspace(0, 1, steps)] + ["target"],
        split_col=True,
    )

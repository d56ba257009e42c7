"""The figures drawn with matplotlib's Agg backend and saved atomically.

:func:`draw_grids` draws panels (:class:`drai.figures.layout.MosaicGrid`) every cell
at the same size; :func:`draw_tsne` draws Fig. 19's scatter plots;
:func:`draw_message` a figure that says why it is empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from drai.figures.layout import GAP, PAD, MosaicGrid, mosaic
from drai.io import save_figure


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


CELL_INCH = 0.62


def _draw_panel(ax, grid: MosaicGrid, width_px: float, height_px: float) -> None:
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
        ax.text(
            xs[c],
            ys[r] + h / 2 - 2,
            label,
            ha="center",
            va="bottom",
            fontsize=5,
            color="white",
            bbox={"facecolor": "black", "alpha": 0.55, "pad": 0.8, "linewidth": 0},
        )
    if grid.corner:
        ax.text(xs[0], ys[0], grid.corner, ha="center", va="center", fontsize=6, color="0.25")
    ax.set_title(grid.title, fontsize=8, fontweight="bold", pad=14 if grid.col_labels else 4, loc="left")


def draw_grids(
    grids: Sequence[MosaicGrid],
    title: str,
    output,
    ncols: int = 2,
    note: str = "",
    header: MosaicGrid | None = None,
    dpi: int = 150,
) -> None:
    """One panel per grid, ``ncols`` panels a row, under a title; saved atomically.

    ``header`` is a panel on a row of its own above the others. Every cell has
    the same size on the page; a row of panels is as high as its tallest grid.
    """
    plt = _pyplot()
    from matplotlib.gridspec import GridSpec

    ncols = max(1, min(ncols, len(grids)))
    lines = [list(grids[i : i + ncols]) for i in range(0, len(grids), ncols)]
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
        _draw_panel(
            ax,
            header,
            ncols * width_px + (ncols - 1) * labels_w / CELL_INCH * (w + PAD),
            header.shape[0] * (h + PAD) + GAP,
        )
        row = 1
    for line, rows in zip(lines, line_rows[row:], strict=True):
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


def draw_tsne(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray, Sequence[str]]], title: str, output, ncols: int = 2
) -> None:
    """Scatter plots: (panel title, points (N, 2), groups (N,), group names) each."""
    plt = _pyplot()
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    colours = plt.get_cmap("viridis")
    # The grid's last row may have more axes than panels are left: those stay blank.
    for ax, (name, points, groups, group_names) in zip(axes.ravel(), panels, strict=False):
        ax.set_axis_on()
        for g, label in enumerate(group_names):
            members = groups == g
            if not members.any():
                continue
            colour = colours(g / max(len(group_names) - 1, 1))
            ax.scatter(
                points[members, 0],
                points[members, 1],
                s=12,
                color=colour,
                label=f"{label} ({members.sum()})",
                edgecolors="none",
                alpha=0.85,
            )
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=6, loc="best", markerscale=1.2, frameon=True)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, output, dpi=150)
    plt.close(fig)

"""One function per figure kind, the table from kind to function, and :func:`make_figure`.

Each kind's function lays out its panels (:mod:`drai.figures.layout`) and
draws them (:mod:`drai.figures.drawing`) with the note that explains them.
Interpolation (Fig. 18) and t-SNE (Fig. 19) show both datasets; the other
kinds one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from drai.data.registry import get_dataset
from drai.figures.arrays import infer_codes, tsne_embedding
from drai.figures.drawing import draw_grids, draw_message, draw_tsne
from drai.figures.layout import conditional_grids, hybrid_grids, interpolation_grid, retrieval_grids
from drai.figures.selection import SEED, load_image_sets
from drai.figures.specs import FigureSpec

log = logging.getLogger(__name__)

Models = Mapping[str, Mapping[str, object]]  # dataset -> {variant: model}
Patches = Mapping[str, str | Path]  # dataset -> patch set


def _interpolation_figure(
    loaded: Models, patches: Patches, output, heading: str, run: str, seed: int, threads: int
) -> None:
    grids = []
    for dataset, ms in loaded.items():
        tests, _ = load_image_sets(patches[dataset], dataset)
        grids.append(interpolation_grid(ms["DRAI"], tests, seed=seed))
    draw_grids(
        grids,
        f"{heading}{run}",
        output,
        ncols=1,
        note="Linear interpolation of DRAI's posterior-mean codes between two test images.",
    )


def _tsne_figure(loaded: Models, patches: Patches, output, heading: str, run: str, seed: int, threads: int) -> None:
    panels = []
    letters = iter("abcdefgh")
    for dataset, ms in loaded.items():
        tests, _ = load_image_sets(patches[dataset], dataset)
        z, c = infer_codes(ms["DRAI"], tests.images)
        for code_name, codes in (("content c", c), ("style z", z)):
            panels.append(
                (
                    f"({next(letters)}) {get_dataset(dataset).full_name}: {code_name} ({len(tests)} {tests.note})",
                    tsne_embedding(codes, seed, threads=threads),
                    tests.groups,
                    tests.group_names,
                )
            )
    draw_tsne(panels, f"{heading}{run}", output)


def _one_dataset(loaded: Models, patches: Patches, heading: str, run: str):
    """The models, test images and queries of a one-dataset figure, and its heading."""
    ((dataset, ms),) = loaded.items()
    tests, queries = load_image_sets(patches[dataset], dataset)
    log.info("%s: %d %s%s", dataset, len(tests), tests.note, f", {len(queries)} queries" if queries is not None else "")
    return ms, tests, queries, f"{heading}, {get_dataset(dataset).full_name}{run}"


def _conditional_figure(
    loaded: Models, patches: Patches, output, heading: str, run: str, seed: int, threads: int
) -> None:
    ms, tests, _, heading = _one_dataset(loaded, patches, heading, run)
    grids = conditional_grids(ms, tests, seed=seed)
    note = (
        "First column: the test image whose conditioning vector gives the content code; "
        "column z_k: one sampled style z_k ~ N(0, I) (the same in every row)."
    )
    draw_grids(grids, heading, output, ncols=2, note=note)


def _hybrid_figure(loaded: Models, patches: Patches, output, heading: str, run: str, seed: int, threads: int) -> None:
    ms, tests, _, heading = _one_dataset(loaded, patches, heading, run)
    grids = hybrid_grids(ms, tests, seed=seed)
    note = (
        "Top row: style references; left column: content references; "
        "cell (i, j) = G(style code of column j, content code of row i)."
    )
    draw_grids(grids, heading, output, ncols=2, note=note)


def _retrieval_figure(
    loaded: Models, patches: Patches, output, heading: str, run: str, seed: int, threads: int
) -> None:
    ms, tests, queries, heading = _one_dataset(loaded, patches, heading, run)
    header, grids, where = retrieval_grids(ms, tests, queries, seed=seed)
    note = (
        f"{where} To the right of the query: nearest by style code; below it: nearest by content code "
        "(mean absolute error between codes); one-code models retrieve by their single code z."
    )
    draw_grids(grids, heading, output, ncols=3, note=note, header=header)


FigureKind = Callable[[Models, Patches, object, str, str, int, int], None]

# FigureSpec.kind -> the function that draws a figure of that kind.
FIGURE_KINDS: dict[str, FigureKind] = {
    "conditional": _conditional_figure,
    "hybrid": _hybrid_figure,
    "retrieval": _retrieval_figure,
    "interpolation": _interpolation_figure,
    "tsne": _tsne_figure,
}


def make_figure(
    spec: FigureSpec,
    patches: Patches,
    models: Models,
    output,
    seed: int = SEED,
    run_seed: int | None = None,
    threads: int = 1,
) -> None:
    """Draw figure ``spec`` to ``output``.

    ``patches``: dataset -> patch set; ``models``: dataset -> {variant: model}
    (trained models, or paths to ``model.pt``), in the figure's order. Models of
    the spec missing here are left out; with none at all, the file says so.
    """
    from drai.checkpoints import load_model

    run = f" (run seed {run_seed})" if run_seed is not None else ""
    loaded = {
        dataset: {
            name: load_model(m) if isinstance(m, (str, Path)) else m for name, m in models.get(dataset, {}).items()
        }
        for dataset in spec.datasets
        if dataset in patches
    }
    loaded = {d: m for d, m in loaded.items() if m}
    heading = f"Fig. {spec.number}: {spec.title}"
    if not loaded:
        names = ", ".join(spec.models)
        draw_message(
            heading,
            f"No model of this figure ({names}) is trained in this preset "
            f"for {', '.join(get_dataset(d).full_name for d in spec.datasets)}.",
            output,
        )
        return
    if spec.kind not in FIGURE_KINDS:
        raise ValueError(f"unknown figure kind {spec.kind!r}")
    FIGURE_KINDS[spec.kind](loaded, patches, output, heading, run, seed, threads)

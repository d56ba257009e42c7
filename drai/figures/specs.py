"""What each of the paper's Figures 10-19 shows: kind, datasets, models, file.

The datasets of a figure are those that declare it (:attr:`drai.data.registry.Dataset.paper_figures`),
in the registry's order.

Torch-free, so that the workflow can build its figure rules when it parses the
Snakefile (for every job) without importing torch; :mod:`drai.figures.kinds` draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drai.data.registry import datasets

MAIN_MODELS = ("cInfoGAN", "cVAE", "D-cInfoGAN", "D-cVAE", "DAI", "DRAI")
TWO_CODE_MODELS = ("D-cInfoGAN", "D-cVAE", "DAI", "DRAI")
# DAI+twice is not in the paper: the budget control of the models trained twice per batch.
ABLATION_MODELS = ("DAI", "DAI+selfReg", "DAI+MIReg", "DAI+featureCycle", "DAI+selfReg+MIReg", "DRAI", "DAI+twice")


@dataclass(frozen=True)
class FigureSpec:
    number: int
    kind: str  # conditional | hybrid | retrieval | interpolation | tsne
    datasets: tuple[str, ...]
    models: tuple[str, ...]
    title: str

    @property
    def name(self) -> str:
        return f"fig{self.number}"

    @property
    def path(self) -> str:
        """The figure's file within a preset's results tree (``results/<preset>/``)."""
        stem = self.datasets[0] if len(self.datasets) == 1 else self.kind
        return f"figures/fig{self.number}_{stem}.png"


#: Each figure's kind, models and title, by number; its datasets come from the registry.
PAPER_FIGURES = (
    (10, "conditional", MAIN_MODELS, "Conditional generations"),
    (11, "conditional", MAIN_MODELS, "Conditional generations"),
    (12, "hybrid", TWO_CODE_MODELS, "Hybrid images (style x content)"),
    (13, "hybrid", TWO_CODE_MODELS, "Hybrid images (style x content)"),
    (14, "retrieval", MAIN_MODELS, "Style and content retrieval"),
    (15, "retrieval", MAIN_MODELS, "Style and content retrieval"),
    (16, "hybrid", ABLATION_MODELS, "Ablations: hybrid images (style x content)"),
    (17, "hybrid", ABLATION_MODELS, "Ablations: hybrid images (style x content)"),
    (18, "interpolation", ("DRAI",), "DRAI latent interpolations"),
    (19, "tsne", ("DRAI",), "t-SNE of DRAI's content and style codes"),
)


def figure_specs() -> dict[int, FigureSpec]:
    """The paper's figures that a registered dataset declares, by number."""
    specs = {}
    for number, kind, models, title in PAPER_FIGURES:
        shown = tuple(key for key, spec in datasets().items() if number in spec.paper_figures)
        if shown:
            specs[number] = FigureSpec(number, kind, shown, models, title)
    return specs


FIGURE_SPECS: dict[int, FigureSpec] = figure_specs()


def planned(spec: FigureSpec, datasets: Sequence[str], variants: Sequence[str]) -> tuple[list[str], list[str]]:
    """The datasets and models of ``spec`` that a preset trains (in the figure's order)."""
    return [d for d in spec.datasets if d in datasets], [m for m in spec.models if m in variants]

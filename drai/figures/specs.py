"""What each of the paper's Figures 10-19 shows: kind, datasets, models, file.

Torch-free, so that the workflow can build its figure rules when it parses the
Snakefile (for every job) without importing torch; :mod:`drai.figures.kinds` draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


FIGURE_SPECS: dict[int, FigureSpec] = {
    spec.number: spec
    for spec in (
        FigureSpec(10, "conditional", ("lidc",), MAIN_MODELS, "Conditional generations"),
        FigureSpec(11, "conditional", ("ham10000",), MAIN_MODELS, "Conditional generations"),
        FigureSpec(12, "hybrid", ("lidc",), TWO_CODE_MODELS, "Hybrid images (style x content)"),
        FigureSpec(13, "hybrid", ("ham10000",), TWO_CODE_MODELS, "Hybrid images (style x content)"),
        FigureSpec(14, "retrieval", ("lidc",), MAIN_MODELS, "Style and content retrieval"),
        FigureSpec(15, "retrieval", ("ham10000",), MAIN_MODELS, "Style and content retrieval"),
        FigureSpec(16, "hybrid", ("lidc",), ABLATION_MODELS, "Ablations: hybrid images (style x content)"),
        FigureSpec(17, "hybrid", ("ham10000",), ABLATION_MODELS, "Ablations: hybrid images (style x content)"),
        FigureSpec(18, "interpolation", ("lidc", "ham10000"), ("DRAI",), "DRAI latent interpolations"),
        FigureSpec(19, "tsne", ("lidc", "ham10000"), ("DRAI",), "t-SNE of DRAI's content and style codes"),
    )
}


def planned(spec: FigureSpec, datasets: Sequence[str], variants: Sequence[str]) -> tuple[list[str], list[str]]:
    """The datasets and models of ``spec`` that a preset trains (in the figure's order)."""
    return [d for d in spec.datasets if d in datasets], [m for m in spec.models if m in variants]

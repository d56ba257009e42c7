"""The paper's qualitative figures 10-19, from trained models (no retraining).

Every figure is computed first, as plain arrays, then drawn with matplotlib's
Agg backend. :func:`make_figure` does both for one entry of
:data:`FIGURE_SPECS`; the workflow's ``fig10`` ... ``fig19`` rules call it.

* :mod:`drai.figure_specs` (torch-free): what each figure shows.
* :mod:`~drai.figures.selection`: the test images and the references picked.
* :mod:`~drai.figures.codes`: codes, generations, retrieval, interpolation,
  t-SNE (:func:`conditional_grid`, :func:`hybrid_grid`,
  :func:`retrieval_panel`, :func:`interpolation`, :func:`tsne_embedding`).
* :mod:`~drai.figures.layout`: each model's panel laid out cell by cell.
* :mod:`~drai.figures.drawing`: panels and scatter plots drawn and saved.
* :mod:`~drai.figures.kinds`: one function per figure kind, the table from
  kind to function, and :func:`make_figure`.

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

from drai.figure_specs import (
    ABLATION_MODELS,
    FIGURE_SPECS,
    MAIN_MODELS,
    TWO_CODE_MODELS,
    FigureSpec,
    planned,
)
from drai.figures.codes import (
    INTERPOLATIONS,
    Retrieval,
    conditional_grid,
    content_of,
    generate,
    hybrid_grid,
    infer_codes,
    interpolation,
    pixel_match,
    retrieval_panel,
    sample_styles,
    target_image,
    tsne_embedding,
)
from drai.figures.drawing import CELL_INCH, draw_grids, draw_message, draw_tsne
from drai.figures.kinds import FIGURE_KINDS, make_figure
from drai.figures.layout import (
    GAP,
    PAD,
    MosaicGrid,
    conditional_grids,
    empty_cells,
    hybrid_grids,
    interpolation_grid,
    mosaic,
    retrieval_grids,
    to_rgb,
)
from drai.figures.selection import SEED, FigureImages, choose_references, load_image_sets

__all__ = [
    "ABLATION_MODELS",
    "CELL_INCH",
    "FIGURE_KINDS",
    "FIGURE_SPECS",
    "GAP",
    "INTERPOLATIONS",
    "MAIN_MODELS",
    "PAD",
    "SEED",
    "TWO_CODE_MODELS",
    "FigureImages",
    "FigureSpec",
    "MosaicGrid",
    "Retrieval",
    "choose_references",
    "conditional_grid",
    "conditional_grids",
    "content_of",
    "draw_grids",
    "draw_message",
    "draw_tsne",
    "empty_cells",
    "generate",
    "hybrid_grid",
    "hybrid_grids",
    "infer_codes",
    "interpolation",
    "interpolation_grid",
    "load_image_sets",
    "make_figure",
    "mosaic",
    "pixel_match",
    "planned",
    "retrieval_grids",
    "retrieval_panel",
    "sample_styles",
    "target_image",
    "to_rgb",
    "tsne_embedding",
]

"""The paper's qualitative figures 10-19, from trained models (no retraining).

Every figure is computed first, as plain arrays, then drawn with matplotlib's
Agg backend. :func:`drai.figures.kinds.make_figure` does both for one entry of
:data:`drai.figures.specs.FIGURE_SPECS`; the workflow's ``fig10`` ... ``fig19`` rules call it.
This package's own module imports nothing, so that reading the specs stays light.

* :mod:`~drai.figures.specs` (torch-free, for the workflow's parse): what each figure shows.
* :mod:`~drai.figures.selection`: the test images and the references picked.
* :mod:`~drai.figures.arrays`: codes, generations, retrieval, interpolation,
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

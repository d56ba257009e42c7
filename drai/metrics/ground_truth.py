"""Disentanglement against known factors (not in the paper): probes from style and content codes.

CIFC (eq. 19) measures disentanglement without labels. On the synthetic data
the factors that drew every image are known (:mod:`drai.data.factors`), so
one can ask directly how well each factor is predicted from each code:

* **Probe scores** (the informativeness of DCI, Eastwood & Williams 2018,
  "A framework for the quantitative evaluation of disentangled
  representations"): per factor and code (style z, content c), a
  cross-validated probe, linear (ridge regression / logistic regression on
  standardised codes) or a small tree (depth 4), fitted on k - 1 folds and
  scored on the held-out fold. Folds are grouped (by case for LIDC, whose
  style is per case; by lesion for HAM10000), so that no case or lesion is
  both fitted and scored. Score: R^2 for continuous factors, balanced
  accuracy adjusted for chance (0 = chance, 1 = perfect) for discrete ones;
  both clipped at 0.
* **Separation** (after MIG, Chen et al. 2018, "Isolating sources of
  disentanglement in VAEs": the gap between the best and the second-best
  latent for a factor, here between the two code blocks): per factor, the
  score from the code that should hold it minus the score from the other
  code; averaged over the style factors and over the content factors, and
  the two averages averaged. 1: every factor is predicted perfectly from its
  own code and not at all from the other; 0: no separation; negative: the
  factors sit in the wrong code. Also reported: informativeness (the mean
  score from the right code) and leakage (the mean score from the wrong one).

A factor that does not vary among the probed items (e.g. no calcified nodule
in a small set) gets no score and is left out of the averages.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import balanced_accuracy_score, r2_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from drai.data.factors import Factor

PROBES = ("linear", "tree")
CODES = ("style", "content")


def _probe(kind: str, probe: str, seed: int):
    if probe == "linear":
        if kind == "continuous":
            return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced"))
    if probe == "tree":
        if kind == "continuous":
            return DecisionTreeRegressor(max_depth=4, min_samples_leaf=3, random_state=seed)
        return DecisionTreeClassifier(max_depth=4, min_samples_leaf=3, class_weight="balanced", random_state=seed)
    raise ValueError(f"evaluate.ground_truth_probe must be one of {PROBES}, got {probe!r}")


def probe_score(
    code: np.ndarray,
    values: np.ndarray,
    kind: str,
    groups: np.ndarray,
    probe: str = "linear",
    folds: int = 5,
    seed: int = 0,
) -> float | None:
    """Cross-validated score of predicting ``values`` from ``code`` (None when the factor does not vary)."""
    values = np.asarray(values)
    if kind == "discrete":
        values = pd.factorize(values)[0]
    if len(np.unique(values)) < 2:
        return None
    n_splits = min(folds, len(np.unique(groups)))
    if n_splits < 2:
        raise ValueError(f"ground truth probes need items of at least two groups (cases or lesions), got {n_splits}")
    predicted = np.empty(len(values), dtype=float)
    for fit, held in GroupKFold(n_splits=n_splits).split(code, values, groups):
        if len(np.unique(values[fit])) < 2:  # one class (or value) to learn from: predict it
            predicted[held] = values[fit][0]
            continue
        model = _probe(kind, probe, seed).fit(code[fit], values[fit])
        predicted[held] = model.predict(code[held])
    if kind == "discrete":
        score = balanced_accuracy_score(values, predicted.astype(int), adjusted=True)
    else:
        score = r2_score(values, predicted)
    return float(max(score, 0.0))


def probe_matrix(
    codes: dict[str, np.ndarray],
    factors: pd.DataFrame,
    specs: Sequence[Factor],
    groups: np.ndarray,
    probe: str = "linear",
    folds: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """Factor x code-type scores: one row per factor (name, group, kind) and a column per code."""
    rows = []
    for spec in specs:
        row = {"factor": spec.name, "group": spec.group, "kind": spec.kind}
        for name, code in codes.items():
            row[name] = probe_score(code, factors[spec.name].to_numpy(), spec.kind, groups, probe, folds, seed)
        rows.append(row)
    return pd.DataFrame(rows)


def separation(matrix: pd.DataFrame) -> dict[str, float | None]:
    """Separation, informativeness and leakage (module docstring) of a :func:`probe_matrix` over style/content."""
    scored = matrix.dropna(subset=list(CODES))
    right = np.where(scored["group"] == "style", scored["style"], scored["content"]).astype(float)
    wrong = np.where(scored["group"] == "style", scored["content"], scored["style"]).astype(float)
    groups = [g for g in CODES if (scored["group"] == g).any()]
    if not groups:
        return {"separation": None, "informativeness": None, "leakage": None}

    def by_group(values):
        return float(np.mean([values[(scored["group"] == g).to_numpy()].mean() for g in groups]))

    return {"separation": by_group(right - wrong), "informativeness": by_group(right), "leakage": by_group(wrong)}

"""CGAcc, the conditional generation accuracy (Section III-C4), and its chance level (not in the paper).

CGAcc is the evaluator's accuracy on generated images against the class of
the item whose conditioning vector made each one. ``cgacc_chance`` is the
accuracy the same predictions would have against classes drawn independently
of them (:func:`chance_accuracy`), which a model that ignores its condition
scores in expectation.
"""

from __future__ import annotations

import numpy as np

#: The keys of ``metrics.json`` this metric writes.
CGACC = "cgacc"
CGACC_CHANCE = "cgacc_chance"
KEYS = (CGACC, CGACC_CHANCE)


def chance_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Σ_k P(predicted = k) · P(label = k): the expected accuracy of ``predicted`` against ``labels`` shuffled.

    CGAcc counts an image as right when the evaluator puts it in its
    condition's class; images that all fall in one frequent class score that
    class's share without following their conditions at all. This is that
    share for the model's own predictions: CGAcc above it is what the
    condition adds.
    """
    classes = int(max(predicted.max(initial=0), labels.max(initial=0))) + 1
    predicted_share, label_share = (np.bincount(v, minlength=classes) / max(len(v), 1) for v in (predicted, labels))
    return float(predicted_share @ label_share)


def cgacc(predicted: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """CGAcc and its chance level of the evaluator's classes ``predicted`` for generated images whose
    conditions belong to the classes ``labels``."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    return {CGACC: float((predicted == labels).mean()), CGACC_CHANCE: chance_accuracy(predicted, labels)}

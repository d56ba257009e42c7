"""Content-based retrieval on LIDC (Table IV, Section III-C5).

For each query image, the top-N (3) search images by mean absolute error
between codes (the content code; the single code of one-variable models;
the pixels for "Pixel Matched"). Each image has an attribute vector, its
dataset's :meth:`~drai.data.registry.Dataset.retrieval_attributes` (LIDC: its
conditioning vector and its nodule size in millimetres).

* disagreement divergence: the mean squared error between the query's
  attribute vector and each retrieved image's, averaged over the top-N and
  the queries;
* label overlap: the ground-truth image of a query is the search image with
  the smallest disagreement with it; the overlap is the percentage of queries
  whose top-N holds an image with the ground-truth image's conditioning
  vector.
"""

from __future__ import annotations

import numpy as np


def disagreement(query_attributes: np.ndarray, search_attributes: np.ndarray) -> np.ndarray:
    """(queries, search items) mean squared difference of the attribute vectors."""
    return ((query_attributes[:, None, :] - search_attributes[None, :, :]) ** 2).mean(axis=2)


def nearest(query_codes: np.ndarray, search_codes: np.ndarray, n: int = 3) -> np.ndarray:
    """Indices (queries, n) of the search items nearest by mean absolute error; ties by index."""
    distance = np.abs(query_codes[:, None, :] - search_codes[None, :, :]).mean(axis=2)
    return np.argsort(distance, axis=1, kind="stable")[:, :n]


def retrieval_scores(
    query_codes: np.ndarray,
    search_codes: np.ndarray,
    query_attributes: np.ndarray,
    search_attributes: np.ndarray,
    query_vectors: np.ndarray,
    search_vectors: np.ndarray,
    n: int = 3,
) -> dict[str, float]:
    found = nearest(query_codes.reshape(len(query_codes), -1), search_codes.reshape(len(search_codes), -1), n)
    divergence_all = disagreement(query_attributes, search_attributes)
    divergence = np.take_along_axis(divergence_all, found, axis=1).mean()
    truth = divergence_all.argmin(axis=1)
    hits = [
        any(np.array_equal(search_vectors[j], search_vectors[truth[q]]) for j in found[q]) for q in range(len(found))
    ]
    return {"disagreement_divergence": float(divergence), "label_overlap_percent": 100.0 * float(np.mean(hits))}

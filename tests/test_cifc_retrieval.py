import numpy as np
import pytest
import torch

from drai.metrics.disentanglement import cifc, random_pairs
from drai.metrics.retrieval import nearest, retrieval_scores


def invertible_pair(z_dim=3, c_dim=2, pixels=16, seed=0):
    """A linear generator with an orthonormal basis and its exact inverse as encoder."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(pixels, z_dim + c_dim)))
    basis = torch.tensor(q, dtype=torch.float64)

    def generate(z, c):
        return (torch.cat([z, c], dim=1) @ basis.T).view(-1, 1, 4, 4)

    def infer(x):
        codes = x.view(len(x), -1) @ basis
        return codes[:, :z_dim], codes[:, z_dim:]

    return infer, generate


def test_cifc_of_an_exactly_invertible_pair_is_zero():
    infer, generate = invertible_pair()
    rng = np.random.default_rng(1)
    images = generate(torch.tensor(rng.normal(size=(20, 3))), torch.tensor(rng.normal(size=(20, 2))))
    assert cifc(infer, generate, images, random_pairs(20, 50, seed=0)) == pytest.approx(0.0, abs=1e-10)


def test_cifc_is_positive_when_style_leaks_into_content():
    infer, generate = invertible_pair()

    def leaky_infer(x):
        z, c = infer(x)
        return z, c + 0.5 * z[:, :2]

    images = generate(torch.randn(20, 3, dtype=torch.float64), torch.randn(20, 2, dtype=torch.float64))
    assert cifc(leaky_infer, generate, images, random_pairs(20, 50)) > 0.01


def test_pairs_are_fixed_by_seed_and_never_self_pairs():
    a, b = random_pairs(10, 100, seed=4), random_pairs(10, 100, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, random_pairs(10, 100, seed=5))
    assert (a[:, 0] != a[:, 1]).all()
    with pytest.raises(ValueError):
        random_pairs(1, 3)


def test_retrieval_on_a_toy_set_with_a_known_answer():
    # Search set: three distinct labels, codes equal to the labels.
    search_vectors = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]], float)
    search_sizes = np.array([5.0, 8.0, 11.0, 20.0])
    query_vectors = np.array([[0, 1, 0], [0, 0, 1]], float)
    query_sizes = np.array([8.0, 11.0])
    search_attrs, query_attrs = (
        np.column_stack([v, s]) for v, s in ((search_vectors, search_sizes), (query_vectors, query_sizes))
    )
    perfect = retrieval_scores(query_attrs, search_attrs, query_attrs, search_attrs, query_vectors, search_vectors, n=1)
    assert perfect == {"disagreement_divergence": 0.0, "label_overlap_percent": 100.0}
    # Codes that point every query at search item 0: known divergence, no overlap.
    wrong_codes = np.zeros((2, 1)), np.array([[0.0], [1.0], [2.0], [3.0]])
    worst = retrieval_scores(*wrong_codes, query_attrs, search_attrs, query_vectors, search_vectors, n=1)
    expected = np.mean([((query_attrs[q] - search_attrs[0]) ** 2).mean() for q in range(2)])
    assert worst["disagreement_divergence"] == pytest.approx(expected)
    assert worst["label_overlap_percent"] == 0.0
    assert nearest(np.zeros((1, 1)), np.array([[2.0], [1.0], [1.0]]), n=2).tolist() == [[1, 2]]

import numpy as np
import pytest
import torch
from scipy import linalg

from drai.metrics.evaluator import Evaluator, load_evaluator, save_evaluator
from drai.metrics.fidelity import (
    INTRA_CLASS_KEY,
    PRC_NEIGHBOURS,
    density_coverage,
    fidelity_metrics,
    to_uint8,
)
from drai.metrics.fidelity import (
    frechet_distance as ours_frechet,
)


@pytest.fixture(scope="module")
def evaluator_path(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("eval") / "evaluator.pt"
    save_evaluator(Evaluator(classes=5, input_size=96), path)
    return path


def images(n, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    return np.clip(np.tanh(rng.normal(shift, 1.0, (n, 1, 64, 64))), -1, 1).astype(np.float32)


def features_of(path, x):
    model = load_evaluator(path)
    with torch.no_grad():
        return model.features(to_uint8(x).float() / 127.5 - 1).double().numpy()


def logits_of(path, x):
    model = load_evaluator(path)
    with torch.no_grad():
        return model(to_uint8(x).float() / 127.5 - 1).double().numpy()


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID from two feature sets, computed independently of torch-fidelity (scipy's sqrtm)."""
    mu_a, mu_b = features_a.mean(0), features_b.mean(0)
    cov_a, cov_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root.real))


def test_fid_of_a_set_against_itself_is_zero(evaluator_path):
    x = images(40, 0)
    assert abs(fidelity_metrics(x, x, evaluator_path, batch_size=16)["fid"]) < 1e-3


def test_fid_matches_an_independent_computation(evaluator_path):
    a, b = images(40, 1), images(40, 2, shift=0.4)
    ours = fidelity_metrics(a, b, evaluator_path, batch_size=16)["fid"]
    reference = frechet_distance(features_of(evaluator_path, b), features_of(evaluator_path, a))
    assert ours == pytest.approx(reference, rel=1e-3)
    assert ours > 1e-3


def gaussian_frechet(mu_a, cov_a, mu_b, cov_b) -> float:
    """The Frechet distance of two Gaussians in closed form (scipy's sqrtm)."""
    root = linalg.sqrtm(cov_a @ cov_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root.real))


def test_frechet_distance_of_gaussians_with_known_means_and_covariances():
    rng = np.random.default_rng(0)
    mixing_a, mixing_b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    mu_a, mu_b = np.array([0.0, 1.0, -1.0, 0.5, 2.0]), np.array([0.5, 0.0, -1.0, 1.5, 1.0])
    cov_a, cov_b = mixing_a @ mixing_a.T + np.eye(5), mixing_b @ mixing_b.T
    a = rng.multivariate_normal(mu_a, cov_a, 200_000)
    b = rng.multivariate_normal(mu_b, cov_b, 200_000)
    expected = gaussian_frechet(mu_a, cov_a, mu_b, cov_b)
    assert ours_frechet(torch.as_tensor(a), torch.as_tensor(b)) == pytest.approx(expected, rel=0.02)
    # and exactly the closed form of the samples' own means and covariances
    exact = gaussian_frechet(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert ours_frechet(torch.as_tensor(a), torch.as_tensor(b)) == pytest.approx(exact, rel=1e-6)


def test_logit_fid_is_the_frechet_distance_of_the_evaluators_logits(evaluator_path):
    a, b = images(40, 1), images(40, 2, shift=0.4)
    metrics = fidelity_metrics(a, b, evaluator_path, batch_size=16)
    logits_a, logits_b = logits_of(evaluator_path, a), logits_of(evaluator_path, b)
    assert logits_a.shape == (40, 5)  # one number per class: the paper's scale
    reference = gaussian_frechet(
        logits_b.mean(0), np.cov(logits_b, rowvar=False), logits_a.mean(0), np.cov(logits_a, rowvar=False)
    )
    assert metrics["fid_logits"] == pytest.approx(reference, rel=1e-4)
    assert metrics["fid_logits"] > 0 and metrics["fid_logits"] != pytest.approx(metrics["fid"])
    same = fidelity_metrics(a, a, evaluator_path, batch_size=16)
    assert abs(same["fid_logits"]) < 1e-6


def test_is_of_uniform_logits_is_one(tmp_path):
    model = Evaluator(classes=5, input_size=96)
    torch.nn.init.zeros_(model.fc.weight)
    torch.nn.init.zeros_(model.fc.bias)
    save_evaluator(model, tmp_path / "flat.pt")
    metrics = fidelity_metrics(images(20, 3), images(20, 4), tmp_path / "flat.pt", batch_size=8)
    assert metrics["is"] == pytest.approx(1.0, abs=1e-6)


def test_metrics_do_not_depend_on_the_batch_size(evaluator_path):
    a, b = images(30, 5), images(30, 6, shift=0.3)
    small = fidelity_metrics(a, b, evaluator_path, batch_size=7)
    large = fidelity_metrics(a, b, evaluator_path, batch_size=30)
    for key in ("fid", "fid_logits", "is", "precision", "recall", "density", "coverage"):
        assert small[key] == pytest.approx(large[key], rel=1e-5, abs=1e-9), key


def test_evaluator_shapes():
    model = Evaluator(classes=3).eval()
    x = torch.zeros(2, 3, 64, 64)
    assert model.features(x).shape == (2, 768)
    assert model(torch.zeros(2, 1, 64, 64)).shape == (2, 3)


# Four real items on a line and three generated ones (Naeem et al. 2020's definitions worked by hand, k = 1):
# the real balls' radii (distance to the nearest other real item) are 1, 1, 2 and 3.
REAL = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [6.0, 0.0]])
GENERATED = np.array([[0.5, 0.0], [3.0, 1.5], [10.0, 0.0]])


def test_precision_recall_density_and_coverage_of_a_small_example_worked_by_hand():
    from torch_fidelity.metric_prc import prc_features_to_metric

    # (0.5, 0) lies in the balls of 0 and 1, (3, 1.5) in the ball of 3 (1.5 <= 2), (10, 0) in none (4 > 3):
    # density = (2 + 1 + 0) / (k * 3) = 1; the real items 0, 1 and 3 hold a generated one, 6 does not.
    assert density_coverage(REAL, GENERATED, neighbours=1) == {"density": 1.0, "coverage": 0.75}
    # k = 2: radii 3, 2, 3, 5; the generated items lie in 3, 2 and 1 balls, and every real ball holds one.
    assert density_coverage(REAL, GENERATED, neighbours=2) == {"density": 1.0, "coverage": 1.0}
    # Precision and recall, torch-fidelity's: 2 of 3 generated items in a real ball; the generated balls'
    # radii are 2.92, 2.92 and 7.16, which hold every real item.
    prc = prc_features_to_metric(
        torch.as_tensor(GENERATED), torch.as_tensor(REAL), prc_neighborhood=1, prc_batch_size=10, save_cpu_ram=True
    )
    assert prc["precision"] == pytest.approx(2 / 3) and prc["recall"] == 1.0
    # Generated items far from every real one: no density, no coverage.
    assert density_coverage(REAL, GENERATED + 100, neighbours=1) == {"density": 0.0, "coverage": 0.0}
    with pytest.raises(ValueError, match="more than 5 real items"):
        density_coverage(REAL, GENERATED)


def test_density_counts_generated_items_in_many_balls_and_coverage_real_items_reached():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(400, 3))
    same = density_coverage(real, rng.normal(size=(400, 3)), PRC_NEIGHBOURS)
    # A sample of the real distribution: density near 1, coverage near 1 - 2^-k (Naeem et al., Section 4).
    assert same["density"] == pytest.approx(1.0, abs=0.15) and same["coverage"] > 0.9
    # All generated items at one real item (mode collapse): high density there, little coverage.
    collapsed = density_coverage(real, np.repeat(real[:1], 400, axis=0), PRC_NEIGHBOURS)
    assert collapsed["coverage"] < 0.05


def test_intra_class_fid_is_the_fid_of_each_classs_images(evaluator_path):
    real, generated = images(40, 7), images(36, 8, shift=0.3)
    real_labels = np.array([0] * 15 + [1] * 25)
    generated_labels = np.array([0] * 20 + [1] * 15 + [2])  # class 2: one generated image, no real one
    names = ("small", "medium", "large")
    metrics = fidelity_metrics(
        real,
        generated,
        evaluator_path,
        batch_size=16,
        real_labels=real_labels,
        generated_labels=generated_labels,
        class_names=names,
    )
    logits_real, logits_generated = logits_of(evaluator_path, real), logits_of(evaluator_path, generated)
    expected = {}
    for k in (0, 1):
        a, b = logits_generated[generated_labels == k], logits_real[real_labels == k]
        expected[k] = gaussian_frechet(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
        assert metrics[INTRA_CLASS_KEY.format(names[k])] == pytest.approx(expected[k], rel=1e-4)
    assert metrics[INTRA_CLASS_KEY.format("large")] is None  # too few images for a covariance
    assert metrics["fid_logits_intra"] == pytest.approx((expected[0] + expected[1]) / 2, rel=1e-4)
    # The logit FID of the whole sets is not the mean of the classes'.
    assert metrics["fid_logits_intra"] != pytest.approx(metrics["fid_logits"], rel=1e-3)

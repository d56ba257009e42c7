"""FID, IS, KID, precision/recall, density/coverage and intra-class FID, on the evaluator's features.

The evaluator is registered with torch-fidelity as the feature extractor
``drai-evaluator``, with two layers: its class logits (``logits``: 5 numbers
per LIDC image, 7 per HAM10000 image) and its pooled ``Mixed_6a`` features
(``pool``, 768). Both are extracted in one pass over each image set.

Two FIDs are computed over the same images:

* ``fid_logits``, the Frechet distance of the logits: our reading of the
  paper's FID. The paper computes FID with TF-GAN (Section III-C: "The
  TensorFlow-GAN library is used to calculate both FID and IS", with "the same
  inception model"); TF-GAN's ``frechet_classifier_distance`` takes the
  network as ``classifier_fn``, and with the classifier itself as that network
  the distance is between class outputs. The paper does not say so; its FIDs
  (0.09-0.38 on LIDC, 1.2-4.9 on HAM10000) are on that scale and not on the
  scale of a few hundred dimensions of pooled features (docs/evaluation.md).
* ``fid``, the Frechet distance of the pooled features ("FID, pooled
  features (not the paper's scale)"), as the project computed FID before.

IS uses the logits, KID and precision/recall the pooled features. Images
travel as uint8 (N, C, 64, 64), as torch-fidelity expects; :func:`to_uint8`
maps [-1, 1] onto 0..255.

Not in the paper:

* **Precision, recall, density and coverage** (Naeem et al. 2020, "Reliable
  fidelity and diversity metrics for generative models", Section 3), in the
  pooled features, with k = :data:`PRC_NEIGHBOURS` nearest neighbours, their
  choice. Precision and recall are torch-fidelity's (Kynkäänniemi et al.'s,
  which Naeem et al. keep); density and coverage are :func:`density_coverage`
  (torch-fidelity has neither).
* **Intra-class FID** (``fid_logits_intra``): the logit FID of each class of
  the conditioning, between the real test images of that class and the
  generated images conditioned on it (:func:`intra_class_fid`), and their
  unweighted mean over the classes, so that a rare class counts as much as a
  common one.
"""

from __future__ import annotations

import numpy as np
import torch
import torch_fidelity
from torch.utils.data import Dataset
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_featuresdict_to_metric
from torch_fidelity.metric_kid import kid_featuresdict_to_metric
from torch_fidelity.metric_prc import prc_featuresdict_to_metric
from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

from drai.metrics.evaluator import load_evaluator

EXTRACTOR = "drai-evaluator"
#: Naeem et al.'s k for all four of precision, recall, density and coverage (Section 4: "k = 5"); their
#: coverage of a sample against another of its own distribution is then near 1 - 2^-k, about 0.97.
PRC_NEIGHBOURS = 5
#: The key of a class's intra-class FID in ``metrics.json``: ``fid_logits_intra/<class name>``.
INTRA_CLASS_KEY = "fid_logits_intra/{}"


class EvaluatorFeatures(FeatureExtractorBase):
    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ValueError("the drai evaluator needs feature_extractor_weights_path")
        self.evaluator = load_evaluator(feature_extractor_weights_path)

    @staticmethod
    def get_provided_features_list():
        return "pool", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits"}.get(metric, "pool")

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 1, 64, 64, dtype=torch.uint8)

    def forward(self, x):
        x = x.float() / 127.5 - 1.0
        pool = self.evaluator.features(x)
        out = {"pool": pool, "logits": self.evaluator.fc(pool)}
        return tuple(out[name].double() for name in self.features_list)


torch_fidelity.register_feature_extractor(EXTRACTOR, EvaluatorFeatures)


def to_uint8(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    images = torch.as_tensor(np.asarray(images, dtype=np.float32))
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


class Uint8ImageDataset(Dataset):
    """uint8 images (N, C, H, W) as torch-fidelity's input."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index]


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """The Frechet distance between Gaussians fitted to two feature sets (N, D): torch-fidelity's FID formula."""
    statistics = [fid_features_to_statistics(torch.as_tensor(f).double().cpu()) for f in (features_a, features_b)]
    return fid_statistics_to_metric(*statistics, verbose=False)[KEY_METRIC_FID]


def density_coverage(real: np.ndarray, generated: np.ndarray, neighbours: int = PRC_NEIGHBOURS) -> dict[str, float]:
    """Density and coverage of ``generated`` against ``real`` features (N, D) (Naeem et al. 2020, eq. 3-4).

    Each real item i gets the ball B_i of radius NND_k(i), its distance to its
    k-th nearest other real item. Density = (1 / kM) sum_j sum_i 1[Y_j in B_i]
    over the M generated items; coverage = the share of real items whose ball
    holds at least one generated item. Balls are closed (<=), as in
    torch-fidelity's precision and recall. Ours, with scipy's distances: the
    authors' ``prdc`` package is not among the dependencies, and its
    arithmetic is these few lines.
    """
    from scipy.spatial.distance import cdist

    real, generated = (np.asarray(f, dtype=np.float64) for f in (real, generated))
    if len(real) <= neighbours:
        raise ValueError(f"density and coverage need more than {neighbours} real items, got {len(real)}")
    chunk = 1000  # at most 1000 x N distances at a time
    # The (k+1)-th smallest distance of each real item to the real items: the 1st is to itself. Distances are
    # scipy's direct ones everywhere, so that an item on a ball's rim is inside whichever way it is reached.
    radii = np.concatenate(
        [
            np.partition(cdist(real[start : start + chunk], real), neighbours, axis=1)[:, neighbours]
            for start in range(0, len(real), chunk)
        ]
    )
    inside = np.zeros(len(generated), dtype=np.int64)
    covered = np.zeros(len(real), dtype=bool)
    for start in range(0, len(generated), chunk):
        block = cdist(generated[start : start + chunk], real) <= radii
        inside[start : start + chunk] = block.sum(1)
        covered |= block.any(0)
    return {"density": float(inside.sum() / (neighbours * max(len(generated), 1))), "coverage": float(covered.mean())}


def intra_class_fid(
    real: torch.Tensor, real_labels: np.ndarray, generated: torch.Tensor, generated_labels: np.ndarray
) -> dict[int, float | None]:
    """Class -> the Frechet distance between the real and the generated features of that class, for every class
    of either set (None where either has fewer than 2 items of it, too few for a covariance)."""
    out: dict[int, float | None] = {}
    for k in np.unique(np.concatenate([real_labels, generated_labels])).tolist():
        a, b = (torch.as_tensor(np.flatnonzero(np.asarray(labels) == k)) for labels in (generated_labels, real_labels))
        out[k] = frechet_distance(generated[a], real[b]) if min(len(a), len(b)) >= 2 else None
    return out


def fidelity_metrics(
    real,
    generated,
    evaluator_path,
    batch_size: int = 64,
    cuda: bool = False,
    real_labels: np.ndarray | None = None,
    generated_labels: np.ndarray | None = None,
    class_names: tuple[str, ...] = (),
) -> dict[str, float]:
    """FID of the logits and of the pooled features, IS (mean, std), KID (mean, std), precision, recall,
    density and coverage of ``generated`` against ``real``; with the classes of both (``real_labels``: each
    real image's, ``generated_labels``: each generated image's condition's, indices into ``class_names``),
    the intra-class FID of the logits, per class and its mean.

    Both are arrays (N, C, 64, 64) in [-1, 1]. Precision, recall, density and
    coverage are None when a set has too few images for their neighbourhoods.
    """
    options = {
        "cuda": cuda,
        "batch_size": batch_size,
        "save_cpu_ram": True,
        "verbose": False,
        "feature_extractor_weights_path": str(evaluator_path),
    }
    extractor = create_feature_extractor(EXTRACTOR, list(EvaluatorFeatures.get_provided_features_list()), **options)
    fake_features, real_features = (
        get_featuresdict_from_dataset(Uint8ImageDataset(to_uint8(images)), extractor, batch_size, cuda, True, False)
        for images in (generated, real)
    )
    subset = min(len(real), len(generated), 1000)
    # Precision/recall look at each image's k nearest neighbours: tiny sets have none to spare.
    prc = subset > PRC_NEIGHBOURS + 1
    inception = isc_featuresdict_to_metric(fake_features, "logits", isc_splits=1, **options)
    kid = kid_featuresdict_to_metric(fake_features, real_features, "pool", kid_subset_size=subset, **options)
    if prc:
        neighbours = prc_featuresdict_to_metric(
            fake_features, real_features, "pool", prc_neighborhood=PRC_NEIGHBOURS, **options
        )
        neighbours.update(density_coverage(real_features["pool"].cpu().numpy(), fake_features["pool"].cpu().numpy()))
    metrics = {
        "fid_logits": frechet_distance(fake_features["logits"], real_features["logits"]),
        "fid": frechet_distance(fake_features["pool"], real_features["pool"]),
        "is": inception["inception_score_mean"],
        "is_std": inception["inception_score_std"],
        "kid": kid["kernel_inception_distance_mean"],
        "kid_std": kid["kernel_inception_distance_std"],
        "precision": neighbours["precision"] if prc else None,
        "recall": neighbours["recall"] if prc else None,
        "density": neighbours["density"] if prc else None,
        "coverage": neighbours["coverage"] if prc else None,
    }
    if real_labels is not None and generated_labels is not None:
        per_class = intra_class_fid(
            real_features["logits"], np.asarray(real_labels), fake_features["logits"], np.asarray(generated_labels)
        )
        measured = [v for v in per_class.values() if v is not None]
        metrics["fid_logits_intra"] = float(np.mean(measured)) if measured else None
        metrics.update({INTRA_CLASS_KEY.format(class_names[k]): v for k, v in per_class.items()})
    return metrics

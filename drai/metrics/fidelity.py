"""FID, IS, KID and precision/recall through torch-fidelity, on the evaluator's features.

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
PRC_NEIGHBOURS = 3  # torch-fidelity's default


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


def fidelity_metrics(real, generated, evaluator_path, batch_size: int = 64, cuda: bool = False) -> dict[str, float]:
    """FID of the logits and of the pooled features, IS (mean, std), KID (mean, std), precision and recall of
    ``generated`` against ``real``.

    Both are arrays (N, C, 64, 64) in [-1, 1]. Precision and recall are None
    when a set has too few images for their neighbourhoods.
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
    # Precision/recall look at each image's 3 nearest neighbours: tiny sets have none to spare.
    prc = subset > PRC_NEIGHBOURS + 1
    inception = isc_featuresdict_to_metric(fake_features, "logits", isc_splits=1, **options)
    kid = kid_featuresdict_to_metric(fake_features, real_features, "pool", kid_subset_size=subset, **options)
    if prc:
        neighbours = prc_featuresdict_to_metric(
            fake_features, real_features, "pool", prc_neighborhood=PRC_NEIGHBOURS, **options
        )
    return {
        "fid_logits": frechet_distance(fake_features["logits"], real_features["logits"]),
        "fid": frechet_distance(fake_features["pool"], real_features["pool"]),
        "is": inception["inception_score_mean"],
        "is_std": inception["inception_score_std"],
        "kid": kid["kernel_inception_distance_mean"],
        "kid_std": kid["kernel_inception_distance_std"],
        "precision": neighbours["precision"] if prc else None,
        "recall": neighbours["recall"] if prc else None,
    }

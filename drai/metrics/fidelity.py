"""FID, IS, KID and precision/recall through torch-fidelity, on the evaluator's features.

The evaluator is registered with torch-fidelity as the feature extractor
``drai-evaluator``: its pooled features (``pool``) serve FID, KID and
precision/recall, its logits (``logits``) IS. Images travel as uint8
(N, C, 64, 64), as torch-fidelity expects; :func:`to_uint8` maps [-1, 1] onto
0..255.
"""

from __future__ import annotations

import numpy as np
import torch
import torch_fidelity
from torch.utils.data import Dataset
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

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


def fidelity_metrics(real, generated, evaluator_path, batch_size: int = 64, cuda: bool = False) -> dict[str, float]:
    """FID, IS (mean, std), KID (mean, std), precision and recall of ``generated`` against ``real``.

    Both are arrays (N, C, 64, 64) in [-1, 1]. Precision and recall are None
    when a set has too few images for their neighbourhoods.
    """
    real_set, fake_set = Uint8ImageDataset(to_uint8(real)), Uint8ImageDataset(to_uint8(generated))
    subset = min(len(real_set), len(fake_set), 1000)
    # Precision/recall look at each image's 3 nearest neighbours: tiny sets have none to spare.
    prc = subset > PRC_NEIGHBOURS + 1
    metrics = torch_fidelity.calculate_metrics(
        input1=fake_set,
        input2=real_set,
        cuda=cuda,
        batch_size=batch_size,
        fid=True,
        isc=True,
        kid=True,
        prc=prc,
        prc_neighborhood=PRC_NEIGHBOURS,
        feature_extractor=EXTRACTOR,
        feature_layer_fid="pool",
        feature_layer_isc="logits",
        feature_layer_kid="pool",
        feature_layer_prc="pool",
        feature_extractor_weights_path=str(evaluator_path),
        kid_subset_size=subset,
        isc_splits=1,
        save_cpu_ram=True,
        cache=False,
        verbose=False,
    )
    return {
        "fid": metrics["frechet_inception_distance"],
        "is": metrics["inception_score_mean"],
        "is_std": metrics["inception_score_std"],
        "kid": metrics["kernel_inception_distance_mean"],
        "kid_std": metrics["kernel_inception_distance_std"],
        "precision": metrics["precision"] if prc else None,
        "recall": metrics["recall"] if prc else None,
    }

"""The evaluator network of Section III-C: InceptionV3 up to Keras' "mixed3"
(torchvision's ``Mixed_6a``), global average pooling and one dense layer.

Images (N, C, 64, 64) in [-1, 1] are repeated to three channels when gray and
resized to ``input_size`` (128 by default: at 64 pixels ``Mixed_6a`` would see
2x2 maps) before the Inception blocks.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn
from torch.nn import functional as F

#: torchvision InceptionV3 children up to and including Mixed_6a (Keras' mixed3).
INCEPTION_BLOCKS = (
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
    "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
)
FEATURES = 768


class Evaluator(nn.Module):
    def __init__(self, classes: int, input_size: int = 128):
        super().__init__()
        base = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True)
        self.blocks = nn.Sequential(*[getattr(base, name) for name in INCEPTION_BLOCKS])
        self.fc = nn.Linear(FEATURES, classes)
        self.input_size = input_size
        self.classes = classes

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        return F.interpolate(x, size=(self.input_size,) * 2, mode="bilinear", align_corners=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled ``Mixed_6a`` features (N, 768): what FID compares."""
        return self.blocks(self.prepare(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits: what IS and CGAcc use."""
        return self.fc(self.features(x))


def save_evaluator(model: Evaluator, path) -> None:
    from drai.io import atomic_path

    with atomic_path(path, suffix=".pt") as tmp:
        torch.save({"model": model.state_dict(), "meta": {"classes": model.classes, "input_size": model.input_size}}, tmp)


def load_evaluator(path, device="cpu") -> Evaluator:
    """An evaluator from its file; ``weights_only``: nothing is unpickled."""
    state = torch.load(path, map_location=device, weights_only=True)
    model = Evaluator(**state["meta"])
    model.load_state_dict(state["model"])
    return model.to(device).eval()

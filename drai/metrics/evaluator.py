"""The evaluator network of Section III-C: InceptionV3 up to Keras' "mixed3"
(torchvision's ``Mixed_6a``), global average pooling and one dense layer.

Images (N, C, 64, 64) in [-1, 1] are repeated to three channels when gray and
resized to ``input_size`` (128 by default: at 64 pixels ``Mixed_6a`` would see
2x2 maps) before the Inception blocks. [-1, 1] is also the input range of
Google's InceptionV3 weights, so ImageNet weights need no other scaling.

It is trained per dataset (:func:`train_evaluator`): nodule size bins or
benign/malignant on LIDC, lesion type on HAM10000. FID, IS and CGAcc all
depend on it, so its test accuracy travels with every metric.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn
from torch.nn import functional as F

# Torch-free, for the workflow's parse: the settings and where the ImageNet weights go.
from drai.metrics.settings import (
    EvaluatorSettings,
)

#: torchvision InceptionV3 children up to and including Mixed_6a (Keras' mixed3).
INCEPTION_BLOCKS = (
    "Conv2d_1a_3x3",
    "Conv2d_2a_3x3",
    "Conv2d_2b_3x3",
    "maxpool1",
    "Conv2d_3b_1x1",
    "Conv2d_4a_3x3",
    "maxpool2",
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
)
FEATURES = 768


log = logging.getLogger(__name__)


def fetch_imagenet_weights(
    url: str,
    target: str | Path,
    retries: int = 3,
    timeout_s: float = 60.0,
    backoff_s: float = 2.0,
    progress: bool = True,
) -> Path:
    """Download torchvision's InceptionV3 ImageNet weights to ``target``, checked against the hash in their name.

    torchvision publishes the first digits of each file's SHA-256 as the suffix
    of its name; a file that does not match is discarded and fetched again.
    Offline, the error names the setting and the two ways to satisfy it.
    """
    from drai.data.download import DownloadError, fetch_to_file

    target = Path(target)
    expected = target.stem.rsplit("-", 1)[-1]

    def check(part: Path) -> None:
        digest = hashlib.sha256(part.read_bytes()).hexdigest()
        if not digest.startswith(expected):
            raise ValueError(f"{part.name}: SHA-256 {digest[: len(expected)]}..., its name says {expected}")

    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        fetch_to_file(
            url,
            part,
            retries=retries,
            backoff_s=backoff_s,
            timeout_s=timeout_s,
            progress=progress,
            check=check,
            what=target.name,
        )
    except DownloadError as error:
        raise DownloadError(
            f"evaluate.weights is 'imagenet', but the ImageNet InceptionV3 weights could not be fetched from {url} "
            f"({error}). Either make that URL reachable (evaluate.imagenet_url says where from; or put the file at "
            f"{target}), or set evaluate.weights to a local torchvision inception_v3 state-dict file, e.g. "
            f"inception_v3_google-0cc3c7bd.pth fetched elsewhere. (evaluate.weights: null starts from random "
            f"weights, unlike the paper.)"
        ) from None
    os.replace(part, target)  # checked: it appears under its final name complete
    return target


class Evaluator(nn.Module):
    def __init__(self, classes: int, input_size: int = 128, imagenet_weights: str | Path | None = None):
        super().__init__()
        base = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=imagenet_weights is None)
        if imagenet_weights is not None:
            load_imagenet_weights(base, imagenet_weights)
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


def load_imagenet_weights(base: nn.Module, path: str | Path) -> None:
    """Load a torchvision InceptionV3 state dict (e.g. ``inception_v3_google-*.pth``) from a local file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"evaluate.weights: {path} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    missing, unexpected = base.load_state_dict(state, strict=False)
    needed = [k for k in missing if k.split(".")[0] in INCEPTION_BLOCKS]
    if needed or len(unexpected) == len(state):
        raise ValueError(
            f"evaluate.weights: {path} is not a torchvision InceptionV3 state dict "
            f"(missing {needed[:3]}, unexpected {list(unexpected)[:3]})"
        )


@torch.no_grad()
def predict(model: Evaluator, images: np.ndarray, batch_size: int = 250, device="cpu") -> np.ndarray:
    """Class logits (N, classes) of images (N, C, 64, 64) in [-1, 1]."""
    model.eval()
    out = [
        model(torch.as_tensor(np.asarray(images[i : i + batch_size], dtype=np.float32), device=device)).float().cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros((0, model.classes), np.float32)


def _random_dihedral(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """A random rotation by a multiple of 90 degrees and flip: labels (size, lesion type) do not change."""
    x = torch.rot90(x, int(rng.integers(4)), dims=(2, 3))
    return torch.flip(x, dims=(3,)) if rng.integers(2) else x


@torch.no_grad()
def recalibrate_batch_norm(model: nn.Module, images: torch.Tensor, batch_size: int, device="cpu") -> None:
    """Set batch-norm statistics to the exact averages over the training images.

    With few training batches (small data sets) the running averages are far
    from the final network's statistics and the evaluator then classifies
    every image alike in eval mode.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        if len(batch) >= 2:
            model(batch.to(device))
    for m in norms:
        m.momentum = 0.1
    model.eval()


def train_evaluator(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    classes: int,
    settings: EvaluatorSettings,
    device: str = "cpu",
    progress: bool = True,
) -> tuple[Evaluator, dict]:
    """Train the evaluator with cross-entropy and Adam; returns it and a report.

    The report has the test accuracy (overall and per class), the training
    history and how the network was initialized.
    """
    from drai.progress import progress_bar

    if len(train_images) == 0 or len(test_images) == 0:
        raise ValueError("the evaluator needs training and test images")
    torch.manual_seed(settings.seed)
    model = Evaluator(classes, settings.input_size, settings.weights).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    rng = np.random.default_rng(settings.seed)
    x_all = torch.as_tensor(np.asarray(train_images, dtype=np.float32))
    y_all = torch.as_tensor(np.asarray(train_labels, dtype=np.int64))
    batch = min(settings.batch_size, len(x_all))
    report_every = max(settings.steps // 5, 1)
    history, order, position, running = [], torch.from_numpy(rng.permutation(len(x_all))), 0, []
    bar = progress_bar(total=settings.steps, desc="evaluator", unit="step", disable=not progress)
    model.train()
    for step in range(1, settings.steps + 1):
        if position + batch > len(order):  # a new epoch: a new order
            order, position = torch.from_numpy(rng.permutation(len(x_all))), 0
        index = order[position : position + batch]
        position += batch
        x, y = _random_dihedral(x_all[index].to(device), rng), y_all[index].to(device)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running.append(loss.item())
        bar.update()
        bar.set_postfix(loss=f"{running[-1]:.3f}")
        if step % report_every == 0 or step == settings.steps:
            accuracy = float((predict(model, test_images, device=device).argmax(1) == test_labels).mean())
            model.train()
            history.append({"step": step, "train_loss": float(np.mean(running)), "test_accuracy": accuracy})
            log.info("evaluator step %d: loss %.4f, test accuracy %.3f", step, np.mean(running), accuracy)
            running = []
    bar.close()
    recalibrate_batch_norm(model, x_all, settings.batch_size, device)
    predicted = predict(model, test_images, device=device).argmax(1)
    per_class = {
        int(k): float((predicted[test_labels == k] == k).mean()) if (test_labels == k).any() else None
        for k in range(classes)
    }
    report = {
        "test_accuracy": float((predicted == test_labels).mean()),
        "test_accuracy_per_class": per_class,
        "chance_accuracy": float(np.bincount(test_labels, minlength=classes).max() / len(test_labels)),
        "train_images": int(len(train_images)),
        "test_images": int(len(test_images)),
        "initialization": f"ImageNet ({settings.weights})" if settings.weights else "random",
        "history": history,
    }
    return model.cpu().eval(), report


def save_evaluator(model: Evaluator, path) -> None:
    from drai.io import atomic_path

    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(
            {"model": model.state_dict(), "meta": {"classes": model.classes, "input_size": model.input_size}}, tmp
        )


def load_evaluator(path, device="cpu") -> Evaluator:
    """An evaluator from its file; ``weights_only``: nothing is unpickled."""
    state = torch.load(path, map_location=device, weights_only=True)
    model = Evaluator(**state["meta"])
    model.load_state_dict(state["model"])
    return model.to(device).eval()

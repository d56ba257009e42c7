"""Are the generated images any use? A classifier trained on them, tested on real images (not in the paper).

The Classification Accuracy Score (CAS; Ravuri and Vinyals 2019, "Classification
Accuracy Score for Conditional Generative Models"): a classifier trained on a
model's generated images and tested on real ones. One classifier
(``downstream.classifier``), one budget (``downstream.steps`` batches of
``downstream.batch_size``, Adam at ``downstream.lr``) and one seed (the run's)
for three training sets:

* **real only**: the real training images the models were trained on, the reference;
* **generated only** (CAS): as many generated images as there are real training images;
* **real plus generated**: both together.

The task is the evaluator's on the models' classes: LIDC's 5 size bins (or
benign/malignant with ``lidc.evaluator_labels: malignancy``), HAM10000's modelled
lesion types (no model generates the others). Each classifier is tested on the
models' real test split (the images FID is measured on) by accuracy and balanced
accuracy (the mean recall over the classes, scikit-learn's). HAM10000's
real-only classifier is also trained and tested on all seven types, the
evaluator's own sets: that row is reported apart, as it is another task.

The generated images' conditions come in two mixes (:data:`MIXES`):
``real_mix`` takes every real training item's conditioning vector once, so
the generated set has the real class mix (and on LIDC the real mix of every
other attribute of the vector); ``balanced`` draws the same number of vectors
for each class, with replacement among that class's training items.

The classifier is of its own weights, trained from random initialization: one
that shared the evaluator's weights would judge the images by the network
that FID and CGAcc already judge them by.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from drai.data.crops import centre_crop
from drai.metrics.evaluator import _random_dihedral, recalibrate_batch_norm
from drai.metrics.settings import CLASSIFIERS, DownstreamSettings

#: How the generated images' conditions are drawn: the real training set's class mix, or balanced classes.
MIXES = ("real_mix", "balanced")
#: The training sets beside real only, per mix.
TRAINING_SETS = ("generated_only", "real_plus_generated")

#: generate(vectors (N, t_dim), seed) -> images (N, C, 64, 64) in [-1, 1]: a model, or a stand-in in the tests.
Generator = Callable[[np.ndarray, int], np.ndarray]


class SmallCNN(nn.Module):
    """Four 3x3 convolutions of stride 2 (8, 16, 32, 64 channels, batch norm, ReLU), global average pooling, one
    linear layer.

    Small enough to train in a few seconds of CPU per hundred steps at 64x64
    (the ``demo`` and ``ci`` presets). Batch norm: on the demo's LIDC (129
    training images) the network without it stayed at the majority class in
    one seed of two (benchmarks/downstream_classifier.py); its statistics are
    recomputed over the training set after training (as the evaluator's).
    """

    WIDTHS = (8, 16, 32, 64)

    def __init__(self, channels: int, classes: int):
        super().__init__()
        layers, width = [], channels
        for out in self.WIDTHS:
            layers += [nn.Conv2d(width, out, 3, stride=2, padding=1), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            width = out
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))


def build_classifier(name: str, channels: int, classes: int) -> nn.Module:
    """``downstream.classifier``: :class:`SmallCNN` or torchvision's ResNet-18 (random initialization; its first
    convolution takes the images' channels)."""
    if name == "small_cnn":
        return SmallCNN(channels, classes)
    if name == "resnet18":
        import torchvision

        network = torchvision.models.resnet18(weights=None, num_classes=classes)
        if channels != 3:
            network.conv1 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        return network
    raise ValueError(f"downstream.classifier must be one of {CLASSIFIERS}, got {name!r}")


def train_classifier(
    images: np.ndarray, labels: np.ndarray, classes: int, settings: DownstreamSettings, seed: int, device="cpu"
) -> nn.Module:
    """``settings.steps`` Adam steps of cross-entropy on batches drawn with replacement, each turned by a random
    multiple of 90 degrees and flipped (neither changes a size bin or a lesion type); seeded."""
    if len(images) == 0:
        raise ValueError("the downstream classifier needs training images")
    torch.manual_seed(seed)
    model = build_classifier(settings.classifier, images.shape[1], classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    rng = np.random.default_rng(seed)
    x_all = torch.as_tensor(np.asarray(images, dtype=np.float32))
    y_all = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    batch = min(settings.batch_size, len(x_all))
    model.train()
    for _ in range(settings.steps):
        index = torch.from_numpy(rng.integers(0, len(x_all), batch))
        x = _random_dihedral(x_all[index].to(device), rng)
        loss = F.cross_entropy(model(x), y_all[index].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        recalibrate_batch_norm(model, x_all, settings.batch_size, device)
    return model.eval()


@torch.no_grad()
def classify(model: nn.Module, images: np.ndarray, batch_size: int = 250, device="cpu") -> np.ndarray:
    """The predicted class of each image."""
    out = [
        model(torch.as_tensor(np.asarray(images[i : i + batch_size], dtype=np.float32), device=device)).argmax(1).cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros(0, np.int64)


def scores(labels: np.ndarray, predicted: np.ndarray, classes: int) -> dict:
    """Accuracy, balanced accuracy (the mean recall over the classes present) and each class's recall."""
    from sklearn.metrics import balanced_accuracy_score

    with warnings.catch_warnings():  # predictions of a class absent from the test labels are simply wrong
        warnings.simplefilter("ignore")
        balanced = balanced_accuracy_score(labels, predicted)
    return {
        "accuracy": float(np.mean(labels == predicted)),
        "balanced_accuracy": float(balanced),
        "recall": [
            float(np.mean(predicted[labels == k] == k)) if (labels == k).any() else None for k in range(classes)
        ],
    }


@dataclass(frozen=True)
class Task:
    """The classes of the models' real training items, and the real sets relabelled to 0..K-1."""

    class_names: tuple[str, ...]
    train_images: np.ndarray
    train_labels: np.ndarray
    train_vectors: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    @property
    def classes(self) -> int:
        return len(self.class_names)


def _images(split) -> np.ndarray:
    return np.ascontiguousarray(centre_crop(split.images), dtype=np.float32)  # what the models see


def model_task(data) -> Task:
    """The classes of :class:`~drai.evaluation.EvaluationData`'s model items (the evaluator's labels, those of
    the training and the test items), renumbered 0..K-1 in their order.

    A class of the test items that no training item has (tiny data sets) stays: no classifier learns it, and
    every row is judged on the same test images.
    """
    present = np.unique(np.concatenate([data.train.labels, data.test.labels]))
    return Task(
        tuple(data.class_names[k] for k in present),
        _images(data.train),
        np.searchsorted(present, data.train.labels),
        data.train.vectors,
        _images(data.test),
        np.searchsorted(present, data.test.labels),
    )


def fit_and_score(
    task: Task, images: np.ndarray, labels: np.ndarray, settings: DownstreamSettings, seed: int, device="cpu"
) -> dict:
    """Train the classifier on ``images`` (labels 0..K-1 of ``task``), score it on the task's real test images."""
    model = train_classifier(images, labels, task.classes, settings, seed, device)
    result = scores(task.test_labels, classify(model, task.test_images, device=device), task.classes)
    return {**result, "train_images": int(len(images))}


def conditions(task: Task, mix: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectors and their classes for as many generated images as real training items (:data:`MIXES`)."""
    if mix == "real_mix":
        return task.train_vectors.copy(), task.train_labels.copy()
    if mix == "balanced":  # over the classes that have training items to take vectors from
        rng = np.random.default_rng(seed)
        trained = np.unique(task.train_labels)
        counts = np.full(len(trained), len(task.train_labels) // len(trained))
        counts[: len(task.train_labels) % len(trained)] += 1
        rows = np.concatenate(
            [
                rng.choice(np.flatnonzero(task.train_labels == k), count)
                for k, count in zip(trained, counts, strict=True)
            ]
        )
        return task.train_vectors[rows], task.train_labels[rows]
    raise ValueError(f"unknown condition mix {mix!r}; one of {MIXES}")


def _context(task: Task) -> dict:
    counts = np.bincount(task.test_labels, minlength=task.classes)
    return {
        "class_names": list(task.class_names),
        "test_images": int(len(task.test_labels)),
        "train_class_counts": np.bincount(task.train_labels, minlength=task.classes).tolist(),
        "test_class_counts": counts.tolist(),
        # What guessing scores: the majority class's accuracy, and 1/K balanced accuracy.
        "majority_accuracy": float(counts.max() / counts.sum()),
        "chance_balanced_accuracy": 1.0 / int((counts > 0).sum()),
    }


def real_only(data, settings: DownstreamSettings, seed: int, device="cpu") -> dict:
    """The reference row: the classifier trained on the real training items; where the evaluator has classes
    the models do not generate (HAM10000's seven types), also on the evaluator's own sets (``all_types``)."""
    task = model_task(data)
    result = {
        **_context(task),
        "real_only": fit_and_score(task, task.train_images, task.train_labels, settings, seed, device),
    }
    evaluator_classes = np.unique(np.concatenate([data.evaluator_train.labels, data.evaluator_test.labels]))
    result["all_types"] = None
    if set(evaluator_classes.tolist()) - {data.class_names.index(name) for name in task.class_names}:
        names = tuple(data.class_names[k] for k in evaluator_classes)
        every = Task(
            names,
            _images(data.evaluator_train),
            np.searchsorted(evaluator_classes, data.evaluator_train.labels),
            data.evaluator_train.vectors,
            _images(data.evaluator_test),
            np.searchsorted(evaluator_classes, data.evaluator_test.labels),
        )
        result["all_types"] = {
            **fit_and_score(every, every.train_images, every.train_labels, settings, seed, device),
            "class_names": list(names),
            "test_images": int(len(every.test_labels)),
        }
    return result


def downstream_of_run(generate: Generator, data, settings: DownstreamSettings, seed: int, device="cpu") -> dict:
    """Generated only and real plus generated, for each condition mix: ``{mix: {training set: scores}}``."""
    task = model_task(data)
    result = _context(task)
    for mix in MIXES:
        vectors, labels = conditions(task, mix, seed)
        generated = np.asarray(generate(vectors, seed), dtype=np.float32)
        if generated.shape[1:] != task.train_images.shape[1:]:
            raise ValueError(
                f"generated images of shape {generated.shape[1:]}, real ones {task.train_images.shape[1:]}"
            )
        both_images = np.concatenate([task.train_images, generated])
        both_labels = np.concatenate([task.train_labels, labels])
        result[mix] = {
            "generated_only": fit_and_score(task, generated, labels, settings, seed, device),
            "real_plus_generated": fit_and_score(task, both_images, both_labels, settings, seed, device),
            "class_counts": np.bincount(labels, minlength=task.classes).tolist(),
        }
    return result

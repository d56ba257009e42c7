"""What the tests share: the settings they start from, random images, one-hot vectors, toy patch sets built
through the patch-set type, and tiny models."""

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def _ci_config() -> dict:
    from drai.config import resolve

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    return resolve({**config, "preset": "ci"})


def ci_config() -> dict:
    """The resolved config of the ci preset (a fresh copy): settings dataclasses have no defaults, so the tests
    build every settings object from it (the ``ci_config`` fixture is this) and change the fields they test."""
    import copy

    return copy.deepcopy(_ci_config())


def tiny_settings(**changes):
    """A training run's settings of the ci preset (HAM10000's, which averages no weights: width 4, batch 4, a
    checkpoint every step, 2 steps, random crops and flips) with 4-dim codes, and ``changes``."""
    from drai.train.settings import train_settings

    return replace(train_settings(_ci_config(), "ham10000", 0), **{"z_dim": 4, "c_dim": 4, **changes})


def lidc_patch_settings(**changes):
    """LIDC's patch settings of the ci preset (256^3 grid, 48 voxels to 64 pixels stored at 72, one slice per
    nodule, the lung window), and ``changes``."""
    from drai.data.lidc.settings import patch_settings

    return replace(patch_settings(_ci_config()), **changes)


def random_images(n, channels=1, seed=0, size=64):
    """``n`` images (n, channels, size, size) float32 in (-1, 1)."""
    rng = np.random.default_rng(seed)
    return np.tanh(rng.normal(size=(n, channels, size, size))).astype(np.float32)


def one_hot(n, dim, seed=0):
    return np.eye(dim, dtype=np.float32)[np.random.default_rng(seed).integers(0, dim, n)]


def fake_data(channels, t_dim, n=12, seed=0, size=64):
    """Random images and one-hot vectors drawn from one generator (a training set for :func:`drai.train.run.train`)."""
    rng = np.random.default_rng(seed)
    images = np.tanh(rng.normal(size=(n, channels, size, size))).astype(np.float32)
    vectors = np.eye(t_dim, dtype=np.float32)[rng.integers(0, t_dim, n)]
    return images, vectors


def tiny_model(name, channels=1, t_dim=17, seed=0):
    """An untrained model of variant ``name`` at width 4 with 4-dim codes, in eval mode."""
    import torch

    from drai.models.family import ModelFamily, Shape
    from drai.models.variants import get_variant

    torch.manual_seed(seed)
    return ModelFamily(get_variant(name), Shape(channels, t_dim, 4, 4, 4)).eval()


HAM10000_CLASSES = ("nv", "mel", "bkl", "akiec", "bcc", "df", "vasc")


def toy_patch_set(
    dataset, n=None, size=64, seed=0, images=None, vectors=None, splits=None, source="synthetic", **fields
):
    """A patch set of ``dataset`` built through :class:`PatchSet`: what is not given is filled in plainly.

    LIDC: 17-dim vectors, one nodule per row (case ``C<i>``), central slices,
    curated, size bin from the vector; HAM10000: three modelled classes,
    labels the vectors' argmax, no copies, one lesion per image.
    """
    from drai.data.patchset import PatchSet

    n = len(images) if images is not None else n
    lidc = dataset == "lidc"
    images = random_images(n, 1 if lidc else 3, seed, size) if images is None else images
    vectors = one_hot(n, 17 if lidc else 3, seed) if vectors is None else vectors
    splits = np.array(["train", "test"] * n)[:n] if splits is None else np.asarray(splits)
    if lidc:
        bins = np.clip(vectors[:, 12:].argmax(1), 0, 4)
        plain = dict(
            nodule_ids=np.array([f"C{i}_n00" for i in range(n)]),
            slice_offsets=np.zeros(n, np.int64),
            sizes=(3.0 + 2 * bins).astype(np.float32),
            size_bins=bins.astype(np.int64),
            malignancy=np.full(n, 2.0, np.float32),
            curated=np.ones(n, bool),
            query=np.zeros(n, bool),
            lung_box_distance=np.full(n, 20.0, np.float32),
        )
    else:
        plain = dict(
            labels=vectors.argmax(1).astype(np.int64),
            modelled=np.ones(n, bool),
            augmented=np.zeros(n, bool),
            image_ids=np.array([f"ISIC_{i:07d}" for i in range(n)]),
            lesion_ids=np.array([f"HAM_{i:07d}" for i in range(n)]),
            flips=np.array([""] * n),
            class_names=np.array(HAM10000_CLASSES),
            split_source=np.array("random"),
        )
    return PatchSet(dataset, source, images, vectors, splits, {**plain, **fields})


def save_without(patches, path, *names):
    """``patches`` as a version before patch sets named their dataset wrote it: no ``dataset``, nor ``names``."""
    fields = {k: v for k, v in patches.fields.items() if k not in names}
    np.savez(
        path, images=patches.images, vectors=patches.vectors, splits=patches.splits, source=patches.source, **fields
    )

"""HAM10000's settings, one dataclass per rule of its rule file, and their builders from the resolved config
(section ``ham10000``).

Light imports only: the workflow builds every rule's params when it parses the Snakefile. No defaults:
``config.yaml`` and the schema are the one source of every value.
"""

from __future__ import annotations

from dataclasses import dataclass

from drai.config import stored_size_errors
from drai.settings import pick, transport


@dataclass(frozen=True)
class SyntheticDermSettings:
    train_images: int
    test_images: int
    width: int
    height: int
    seed: int


@dataclass(frozen=True)
class RawSettings:
    """Where HAM10000's files come from: what the raw manifest depends on.

    ``root``: the folder read (``raw_dir`` for dataverse; ``synthetic_dir``
    for synthetic, whose images ``synthetic`` describes); ``medmnist_npz`` for
    medmnist. How missing files are fetched is no part of it (see :func:`drai.data.ham10000.pipeline.prepare_raw`).
    """

    source: str
    root: str | None
    medmnist_npz: str | None
    synthetic: SyntheticDermSettings | None


@dataclass(frozen=True)
class LesionPatchSettings:
    patch_size: int
    output_size: int
    crop: str  # fixed (crop_fraction of the short side for every lesion) or per_lesion (lesion_margin x extent)
    crop_fraction: float
    lesion_margin: float
    min_crop_fraction: float
    stored_size: int  # pixels stored per side: output_size plus a margin of context at the same scale


@dataclass(frozen=True)
class PatchSetSettings:
    """The patch set of a HAM10000 folder: modelled classes, their augmentation, the fallback split, each patch."""

    classes: tuple[str, ...]  # modelled, in the order of the one-hot vector
    augment_classes: tuple[str, ...]
    augment_copies: int
    test_fraction: float
    seed: int
    lesion: LesionPatchSettings


def raw_settings(config: dict) -> RawSettings:
    """Rule ham10000_raw: the source and what it reads (or renders, for synthetic images)."""
    ham = config["ham10000"]
    source = ham["source"]
    if source == "synthetic":
        # Synthetic images get a folder of their own: raw_dir is for real data only.
        synthetic = SyntheticDermSettings(
            train_images=ham["synthetic_train_images"],
            test_images=ham["synthetic_test_images"],
            width=ham["synthetic_width"],
            height=ham["synthetic_height"],
            seed=ham["seed"],
        )
        return RawSettings(source=source, root=ham["synthetic_dir"], medmnist_npz=None, synthetic=synthetic)
    if source == "medmnist":
        return RawSettings(source=source, root=None, medmnist_npz=ham["medmnist_npz"], synthetic=None)
    return RawSettings(source=source, root=ham["raw_dir"], medmnist_npz=None, synthetic=None)


def ham_patch_set_settings(config: dict) -> PatchSetSettings:
    """Rule ham10000_patches: modelled classes, augmentation, fallback split and the lesion patch."""
    ham = config["ham10000"]
    return pick(
        PatchSetSettings,
        ham,
        "ham10000",
        classes=tuple(ham["classes"]),
        augment_classes=tuple(ham["augment_classes"]),
        lesion=pick(LesionPatchSettings, ham, "ham10000"),
    )


def ham_download(config: dict) -> dict | None:
    """The ``download`` argument of :func:`drai.data.ham10000.pipeline.prepare_raw` (None: do not download)."""
    ham = transport(config, "ham10000")
    if not ham["download"]:
        return None
    return {
        "server": ham["server"],
        "doi": ham["doi"],
        "retries": ham["download_retries"],
        "timeout_s": ham["download_timeout_s"],
    }


def config_errors(section: dict) -> list[str]:
    """Values of the ``ham10000`` section that pass the schema one by one but not together."""
    errors = stored_size_errors("ham10000", section)
    if section["crop_fraction"] * section["stored_size"] / section["output_size"] > 1:
        errors.append(
            f"config key ham10000.crop_fraction: {section['crop_fraction']} of the short side with the stored "
            f"margin (ham10000.stored_size {section['stored_size']} / output_size {section['output_size']}) is "
            f"larger than the image; at most {section['output_size'] / section['stored_size']:.3f}"
        )
    stray = sorted(set(section["augment_classes"]) - set(section["classes"]))
    if stray:
        errors.append(f"config key ham10000.augment_classes: {stray} not among ham10000.classes")
    if section["source"] == "medmnist" and not section["medmnist_npz"]:
        errors.append("config key ham10000.medmnist_npz: must name dermamnist_64.npz when source is medmnist")
    return errors

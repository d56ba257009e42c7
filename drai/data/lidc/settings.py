"""LIDC-IDRI's settings, one dataclass per rule of its rule file, and their builders from the resolved config
(section ``lidc``).

Light imports only: the workflow builds every rule's params when it parses the Snakefile. No defaults:
``config.yaml`` and the schema are the one source of every value.
"""

from __future__ import annotations

from dataclasses import dataclass

from drai.config import stored_size_errors
from drai.settings import pick, transport

#: Where the CT series come from (``lidc.source``).
SOURCES = ("synthetic", "nbia", "idc")


@dataclass(frozen=True)
class LabelSettings:
    min_annotations: int
    train_case_limit: int
    consensus_level: float
    label_scans: int | None  # label this many scans, spread evenly over pylidc's ids (None: all)


@dataclass(frozen=True)
class SyntheticSettings:
    matrix: int
    slice_spacing_mm: float
    seed: int


@dataclass(frozen=True)
class SeriesSettings:
    """Where a case's series comes from: what its manifest depends on.

    ``root``: the folder read (``series_dir`` for nbia and idc) or rendered
    into (``synthetic_dir`` for synthetic, whose series ``synthetic``
    describes). How a missing series is fetched is no part of it (see
    :func:`drai.data.lidc.source.prepare_series`).
    """

    source: str
    root: str
    synthetic: SyntheticSettings | None


@dataclass(frozen=True)
class PatchSettings:
    volume_size: int
    patch_size: int
    output_size: int
    hu_window: tuple[float, float]
    patch_slices: int | str  # an odd number, or "all" (the consensus mask's z-extent)
    stored_size: int  # pixels stored per side: output_size plus a margin of context
    max_slice_gap_mm: float  # slices farther apart form a gap; a nodule whose patch needs it is left out


@dataclass(frozen=True)
class LidcPatchSetSettings:
    """What patches.npz records beyond the cases' patches and the nodule table."""

    source: str


def label_settings(config: dict) -> LabelSettings:
    """Rule lidc_nodules: which scans are labelled and how nodules are kept, split and outlined."""
    return pick(LabelSettings, config["lidc"], "lidc")


def series_settings(config: dict) -> SeriesSettings:
    """Rule lidc_series: the source and the folder read; for synthetic data, how it is rendered."""
    lidc = config["lidc"]
    if lidc["source"] != "synthetic":
        return SeriesSettings(source=lidc["source"], root=lidc["series_dir"], synthetic=None)
    # Synthetic series get a folder of their own: series_dir is for real data only.
    synthetic = SyntheticSettings(
        matrix=lidc["synthetic_matrix"], slice_spacing_mm=lidc["synthetic_slice_spacing_mm"], seed=lidc["seed"]
    )
    return SeriesSettings(source="synthetic", root=lidc["synthetic_dir"], synthetic=synthetic)


def patch_settings(config: dict) -> PatchSettings:
    """Rule lidc_case_patches: the resampled grid, the patch window and the HU window."""
    return pick(PatchSettings, config["lidc"], "lidc", hu_window=tuple(config["lidc"]["hu_window"]))


def lidc_patch_set_settings(config: dict) -> LidcPatchSetSettings:
    """Rule lidc_patches: the data source that patches.npz records."""
    return pick(LidcPatchSetSettings, config["lidc"], "lidc")


def lidc_download(config: dict) -> dict:
    """Keyword arguments of :func:`drai.data.lidc.source.prepare_series` that say how a missing series is fetched."""
    lidc = transport(config, "lidc")
    return {
        "download": lidc["download"],
        "api_url": lidc["api_url"],
        "idc_endpoint_url": lidc["idc_endpoint_url"],
        "download_options": {"retries": lidc["download_retries"], "timeout_s": lidc["download_timeout_s"]},
    }


def config_errors(section: dict) -> list[str]:
    """Values of the ``lidc`` section that pass the schema one by one but not together."""
    errors = stored_size_errors("lidc", section)
    if section["patch_slices"] != "all" and section["patch_slices"] % 2 == 0:
        errors.append(f"config key lidc.patch_slices: must be odd or 'all', got {section['patch_slices']}")
    if not section["hu_window"][0] < section["hu_window"][1]:
        errors.append(f"config key lidc.hu_window: must be increasing, got {section['hu_window']}")
    if section["patch_size"] > section["volume_size"]:
        errors.append(
            f"config key lidc.patch_size: {section['patch_size']} voxels do not fit in the "
            f"lidc.volume_size of {section['volume_size']} voxels"
        )
    return errors

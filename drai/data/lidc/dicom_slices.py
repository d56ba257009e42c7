"""One DICOM slice file of a CT series: its header, its pixels in HU, and the two readers of a series' slices.

SimpleITK (GDCM) reads a whole series' pixels and headers in one pass
(:func:`read_with_sitk`); when it cannot, pydicom reads the files one by one
(:func:`read_with_pydicom`) and names the file at fault. Each gives one
header per slice (position, orientation, pixel spacing, InstanceNumber,
PixelPaddingValue in HU, and what the HU depend on: RescaleSlope and
RescaleIntercept, PixelRepresentation, PhotometricInterpretation). A file cut
short is caught before GDCM decodes it without complaint: from its transfer
syntax and size (:func:`transfer_syntax`).

Both readers give the same HU: stored value x RescaleSlope + RescaleIntercept
(the modality LUT). GDCM also inverts MONOCHROME1 pixels, which is a display
matter (DICOM PS3.3 C.7.6.3.1.2: the minimum value is shown white) and no part
of the HU; a MONOCHROME1 series is therefore read by pydicom, which does not.
:meth:`_SliceHeader.check` refuses what no HU can be made of, naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info
from pydicom.pixels import apply_modality_lut


class SeriesError(ValueError):
    """A DICOM series that cannot be used; the message names the file."""


def hu_from_dataset(dataset: pydicom.Dataset) -> np.ndarray:
    """Pixel data in Hounsfield units: stored value x RescaleSlope + RescaleIntercept."""
    return np.asarray(apply_modality_lut(dataset.pixel_array, dataset), dtype=np.float32)


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
    frames = str(dataset.get("NumberOfFrames", "1") or "1")
    if frames.strip() not in ("1", "1.0"):
        raise SeriesError(f"{path}: a multi-frame file ({frames} frames); a CT series of one slice per file is read")
    syntax = dataset.file_meta.get("TransferSyntaxUID", "") if hasattr(dataset, "file_meta") else ""
    try:
        hu = hu_from_dataset(dataset)
    except Exception as error:
        name = getattr(syntax, "name", "") or "uncompressed"
        raise SeriesError(f"{path}: {name} pixel data cannot be decoded, truncated or corrupt ({error})") from None
    if hu.shape != (int(dataset.Rows), int(dataset.Columns)):
        raise SeriesError(f"{path}: pixel data shape {hu.shape} does not match Rows x Columns")
    return dataset, hu


#: PhotometricInterpretation values a CT image may have (DICOM PS3.3 C.8.2.1.1.1).
CT_PHOTOMETRIC = ("MONOCHROME1", "MONOCHROME2")


@dataclass
class _SliceHeader:
    path: Path
    modality: str
    series_uid: str
    position: tuple[float, ...]
    orientation: tuple[float, ...] | None  # None: ImageOrientationPatient missing
    pixel_spacing: tuple[float, ...]  # (row spacing, column spacing)
    instance_number: float = float("inf")  # missing sorts last
    padding_hu: float | None = None  # PixelPaddingValue after the rescale: no data there
    slope: float | None = None  # RescaleSlope; None: missing
    intercept: float | None = None  # RescaleIntercept; None: missing
    pixel_representation: int | None = None  # 0 unsigned, 1 signed
    bits_stored: int | None = None
    photometric: str = "MONOCHROME2"
    frames: int = 1

    @property
    def z(self) -> float:
        return self.position[2]

    def check(self, series_uid: str) -> None:
        """SeriesError naming the file for a header no HU volume can be made of."""
        if self.modality != "CT":
            raise SeriesError(f"{self.path}: modality is {self.modality or 'missing'!r}, expected 'CT'")
        if self.series_uid != series_uid:
            raise SeriesError(f"{self.path}: SeriesInstanceUID {self.series_uid} is not the expected {series_uid}")
        if self.frames != 1:
            raise SeriesError(
                f"{self.path}: a multi-frame file ({self.frames} frames); a CT series of one slice per file is read"
            )
        if len(self.position) != 3 or not np.all(np.isfinite(self.position)):
            raise SeriesError(f"{self.path}: ImagePositionPatient {list(self.position)} is not three finite numbers")
        if len(self.pixel_spacing) != 2 or not all(np.isfinite(v) and v > 0 for v in self.pixel_spacing):
            raise SeriesError(f"{self.path}: PixelSpacing {list(self.pixel_spacing)} is not two positive numbers")
        if self.orientation is None:
            # Type 1 in the Image Plane module: without it the slice's axes are unknown, not axial.
            raise SeriesError(f"{self.path}: ImageOrientationPatient is missing; the slice's axes are unknown")
        if not np.allclose(self.orientation, [1, 0, 0, 0, 1, 0], atol=1e-3):
            raise SeriesError(f"{self.path}: not an axial slice (ImageOrientationPatient {list(self.orientation)})")
        missing = [
            name
            for name, value in (("RescaleSlope", self.slope), ("RescaleIntercept", self.intercept))
            if value is None
        ]
        if missing:
            # Type 1 in the CT Image module (PS3.3 C.8.2.1): without them the stored values are no HU, and no
            # default is right for every scanner (stored values are offset by 1024 on many, by 0 on others).
            raise SeriesError(
                f"{self.path}: {' and '.join(missing)} missing; a CT image must give both, "
                "its stored values are not Hounsfield units without them"
            )
        if not (np.isfinite(self.slope) and self.slope != 0 and np.isfinite(self.intercept)):
            raise SeriesError(
                f"{self.path}: RescaleSlope {self.slope} and RescaleIntercept {self.intercept} give no HU"
            )
        if self.photometric not in CT_PHOTOMETRIC:
            raise SeriesError(
                f"{self.path}: PhotometricInterpretation {self.photometric!r}; a CT image is MONOCHROME1 or MONOCHROME2"
            )


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.strip().split("\\"))


def read_with_sitk(files: list[Path]) -> tuple[list[_SliceHeader], sitk.Image]:
    """Pixels (HU) and headers of a series' files in one pass; RuntimeError where pydicom must read them instead."""
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(f) for f in files])
    reader.SetOutputPixelType(sitk.sitkFloat32)
    reader.MetaDataDictionaryArrayUpdateOn()
    reader.LoadPrivateTagsOff()
    image = reader.Execute()
    if image.GetDimension() != 3 or image.GetSize()[2] != len(files):
        raise RuntimeError("not one slice per file")  # multi-frame files: pydicom names them
    headers = []
    for index, path in enumerate(files):

        def tag(key, default="", index=index):
            return reader.GetMetaData(index, key).strip() if reader.HasMetaDataKey(index, key) else default

        if not (tag("0020|0032") and tag("0028|0030")):
            raise RuntimeError("geometry tags missing")  # let pydicom name the file
        if _truncated(path, tag):
            # GDCM reads a short uncompressed file without complaint; pydicom refuses it.
            raise RuntimeError(f"{path}: truncated pixel data")
        photometric = tag("0028|0004", "MONOCHROME2")
        if photometric == "MONOCHROME1":
            raise RuntimeError("MONOCHROME1")  # GDCM inverts its pixels; pydicom reads the HU (module docstring)
        try:
            headers.append(
                _SliceHeader(
                    path=path,
                    modality=tag("0008|0060"),
                    series_uid=tag("0020|000e"),
                    position=_floats(tag("0020|0032")),
                    orientation=_floats(tag("0020|0037")) if tag("0020|0037") else None,
                    pixel_spacing=_floats(tag("0028|0030")),
                    instance_number=_instance_number(tag("0020|0013")),
                    padding_hu=_padding_hu(tag("0028|0120"), tag("0028|1053"), tag("0028|1052")),
                    slope=_optional_float(tag("0028|1053")),
                    intercept=_optional_float(tag("0028|1052")),
                    pixel_representation=_optional_int(tag("0028|0103")),
                    bits_stored=_optional_int(tag("0028|0101")),
                    photometric=photometric,
                    frames=_optional_int(tag("0028|0008")) or 1,
                )
            )
        except ValueError:
            raise RuntimeError("a header value is not a number") from None  # pydicom names the file
    return headers, image


def _text(dataset: pydicom.Dataset, keyword: str) -> str:
    """A header value as text, '' when absent or empty (0 stays '0')."""
    value = dataset.get(keyword)
    return "" if value is None else str(value)


def _optional_float(text: str) -> float | None:
    return float(text) if text.strip() else None


def _optional_int(text: str) -> int | None:
    return int(float(text)) if text.strip() else None


def _padding_hu(padding: str, slope: str, intercept: str) -> float | None:
    """The HU value that PixelPaddingValue becomes (as the rescale maps every stored value), or None."""
    try:
        value = float(padding)
    except ValueError:
        return None
    try:
        return value * float(slope or 1) + float(intercept or 0)
    except ValueError:
        return None


def _instance_number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("inf")


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


def read_with_pydicom(files: list[Path]) -> tuple[list[_SliceHeader], np.ndarray]:
    headers, pixels = [], []
    for path in files:
        dataset, hu = _read_slice(path)
        try:
            header = _SliceHeader(
                path=path,
                modality=str(dataset.get("Modality", "")),
                series_uid=str(dataset.get("SeriesInstanceUID", "")),
                position=tuple(float(v) for v in dataset.ImagePositionPatient),
                orientation=(
                    tuple(float(v) for v in dataset.ImageOrientationPatient)
                    if dataset.get("ImageOrientationPatient") is not None
                    else None
                ),
                pixel_spacing=tuple(float(v) for v in dataset.PixelSpacing),
                instance_number=_instance_number(_text(dataset, "InstanceNumber")),
                padding_hu=_padding_hu(
                    str(dataset.get("PixelPaddingValue", "")),
                    str(dataset.get("RescaleSlope", "")),
                    str(dataset.get("RescaleIntercept", "")),
                ),
                slope=_optional_float(_text(dataset, "RescaleSlope")),
                intercept=_optional_float(_text(dataset, "RescaleIntercept")),
                pixel_representation=_optional_int(_text(dataset, "PixelRepresentation")),
                bits_stored=_optional_int(_text(dataset, "BitsStored")),
                photometric=str(dataset.get("PhotometricInterpretation", "")),
                frames=_optional_int(_text(dataset, "NumberOfFrames")) or 1,
            )
        except (TypeError, ValueError) as error:
            raise SeriesError(f"{path}: a geometry or pixel header value is not a number ({error})") from None
        headers.append(header)
        pixels.append((path, dataset, hu))
    rows, columns = pixels[0][2].shape
    for path, _, hu in pixels[1:]:
        if hu.shape != (rows, columns):
            raise SeriesError(f"{path}: matrix {hu.shape[0]}x{hu.shape[1]} differs from {rows}x{columns}")
    return headers, np.stack([hu for _, _, hu in pixels])

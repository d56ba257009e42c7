import contextlib
import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file

from drai.data.lidc.dicom_series import dicom_files, find_series_folder, read_series
from drai.data.lidc.dicom_slices import SeriesError, hu_from_dataset
from drai.data.lidc.synthetic import render_phantom


def test_hu_matches_simpleitk_on_a_real_ct_file():
    path = get_testdata_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    assert float(ds.RescaleIntercept) != 0 or float(ds.RescaleSlope) != 1
    ours = hu_from_dataset(ds)
    theirs = sitk.GetArrayFromImage(sitk.ReadImage(path)).astype(np.float32)[0]
    np.testing.assert_allclose(ours, theirs)


@pytest.fixture
def phantom(tmp_path):
    folder = render_phantom(
        tmp_path / "P" / "study" / "series",
        matrix=32,
        pixel_spacing=8.0,
        slice_spacing=5.0,
        n_slices=8,
        nodule_world=(0.0, 0.0, -80.0),
    )
    return folder


def test_reads_a_whole_series(phantom):
    series = read_series(dicom_files(phantom))
    assert series.hu.shape == (8, 32, 32)
    assert series.geometry.spacing == pytest.approx((8.0, 8.0, 5.0))
    assert series.hu.min() < -900 and series.hu.max() > 0


def test_finds_series_in_nbia_layout(phantom, tmp_path):
    uid = str(pydicom.dcmread(next(phantom.iterdir())).SeriesInstanceUID)
    assert find_series_folder(tmp_path, "P", uid) == phantom
    with pytest.raises(SeriesError, match="no series"):
        find_series_folder(tmp_path, "P", "1.2.3")


def _files(folder):
    return dicom_files(folder)


def test_missing_slice_is_a_recorded_gap_and_fails_the_record(phantom):
    files = _files(phantom)
    z_before, z_after = (float(pydicom.dcmread(files[i]).ImagePositionPatient[2]) for i in (2, 4))
    files[3].unlink()
    series = read_series(_files(phantom), max_gap_mm=6.0)
    assert series.hu.shape == (8, 32, 32)  # interpolated across the gap, on the regular grid
    assert series.gaps == (pytest.approx((min(z_before, z_after), max(z_before, z_after))),)
    with pytest.raises(SeriesError, match="7 slice positions, the record says 8"):
        read_series(_files(phantom), expected_slices=8)


def _set_instance(path, instance_number):
    ds = pydicom.dcmread(path)
    ds.InstanceNumber = instance_number
    ds.save_as(path)


def test_duplicated_slice_keeps_the_lower_instance_number_as_pylidc(phantom, caplog):
    files = _files(phantom)
    plain_series = read_series(files, expected_slices=8)
    plain = plain_series.hu
    duplicate = phantom / "copy.dcm"
    shutil.copy(files[2], duplicate)
    ds = pydicom.dcmread(duplicate)
    ds.SOPInstanceUID = ds.SOPInstanceUID + ".9"
    ds.PixelData = (ds.pixel_array + 7).astype(ds.pixel_array.dtype).tobytes()
    ds.InstanceNumber = 99
    ds.save_as(duplicate)
    with caplog.at_level("WARNING"):
        series = read_series(_files(phantom), expected_slices=8)
    np.testing.assert_array_equal(series.hu, plain)
    assert str(duplicate) not in series.files
    assert "copy.dcm" in caplog.text and files[2].name in caplog.text
    _set_instance(duplicate, 0)  # now the copy has the lower number and wins
    series = read_series(_files(phantom), expected_slices=8)
    assert str(duplicate) in series.files and str(files[2]) not in series.files
    np.testing.assert_allclose(series.hu[2], plain[2] + 7 * float(ds.RescaleSlope))


def test_uneven_spacing_is_read_at_the_true_positions(phantom):
    files = _files(phantom)
    regular = read_series(files)
    path = files[5]
    ds = pydicom.dcmread(path)
    ds.ImagePositionPatient = [ds.ImagePositionPatient[0], ds.ImagePositionPatient[1], ds.ImagePositionPatient[2] + 1.7]
    ds.save_as(path)
    series = read_series(_files(phantom), max_gap_mm=7.0)
    assert series.geometry == regular.geometry and series.gaps == ()
    # The moved slice (index k, now 1.7 mm higher) no longer lies on the grid: grid point k is
    # interpolated between slice k-1 (5 mm below) and the moved slice (1.7 mm above).
    z_old = float(ds.ImagePositionPatient[2]) - 1.7
    k = int(round((z_old - regular.geometry.origin[2]) / 5.0))
    others = [i for i in range(8) if i != k]
    np.testing.assert_array_equal(series.hu[others], regular.hu[others])
    expected = regular.hu[k - 1] + 5.0 / 6.7 * (regular.hu[k] - regular.hu[k - 1])
    np.testing.assert_allclose(series.hu[k], expected, rtol=1e-5, atol=1e-3)


def test_non_ct_modality_names_the_file(phantom):
    path = _files(phantom)[1]
    ds = pydicom.dcmread(path)
    ds.Modality = "MR"
    ds.save_as(path)
    with pytest.raises(SeriesError, match=f"{path.name}.*modality is 'MR'"):
        read_series(_files(phantom))


def test_truncated_file_names_the_file(phantom):
    path = _files(phantom)[4]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SeriesError, match=path.name):
        read_series(_files(phantom))


def test_non_dicom_file_names_the_file(phantom):
    path = _files(phantom)[0]
    path.write_text("not a dicom file at all")
    with pytest.raises(SeriesError, match=f"{path.name}.*not a DICOM file"):
        read_series(_files(phantom))


def test_wrong_series_and_slice_count(phantom):
    with pytest.raises(SeriesError, match="not the expected"):
        read_series(_files(phantom), series_uid="1.2.3.4")
    with pytest.raises(SeriesError, match="8 slice positions, the record says 9"):
        read_series(_files(phantom), expected_slices=9)


def test_fast_and_careful_readers_agree(phantom):
    from drai.data.lidc.dicom_slices import read_with_pydicom, read_with_sitk

    files = _files(phantom)[::-1]  # reversed on purpose: both must sort by position
    fast_headers, fast = read_with_sitk(files)
    careful_headers, careful = read_with_pydicom(files)
    np.testing.assert_allclose(sitk.GetArrayViewFromImage(fast), careful)
    assert [h.position for h in fast_headers] == pytest.approx([h.position for h in careful_headers])
    assert {h.modality for h in fast_headers} == {"CT"}
    series = read_series(files)
    assert np.all(np.diff([float(pydicom.dcmread(f).ImagePositionPatient[2]) for f in series.files]) > 0)


def test_any_file_order_gives_the_same_volume(phantom):
    files = _files(phantom)
    shuffled = [files[i] for i in np.random.default_rng(1).permutation(len(files))]
    np.testing.assert_array_equal(read_series(shuffled).hu, read_series(files).hu)
    np.testing.assert_array_equal(read_series(files[::-1]).hu, read_series(files).hu)


def compress_series(source, target, syntax: str):
    """A copy of a plain series with compressed pixel data: ``rle``, ``jpeg2000`` (lossless) or ``jpeg-lossless``.

    pydicom encodes RLE and JPEG 2000; it has no JPEG Lossless encoder, so
    GDCM (in SimpleITK) encodes those pixels and pydicom puts them in the
    original header.
    """
    from pydicom.uid import JPEG2000Lossless, RLELossless

    target.mkdir(parents=True)
    for path in sorted(source.iterdir()):
        dataset = pydicom.dcmread(path)
        if syntax == "jpeg-lossless":
            writer = sitk.ImageFileWriter()
            writer.SetUseCompression(True)
            writer.SetCompressor("JPEG")
            writer.SetFileName(str(target / "gdcm.dcm"))
            writer.Execute(sitk.GetImageFromArray(dataset.pixel_array[None]))
            encoded = pydicom.dcmread(target / "gdcm.dcm")
            (target / "gdcm.dcm").unlink()
            dataset.file_meta.TransferSyntaxUID = encoded.file_meta.TransferSyntaxUID
            dataset.PixelData = encoded.PixelData
            dataset["PixelData"].VR = "OB"
            dataset["PixelData"].is_undefined_length = True
        else:
            dataset.compress({"rle": RLELossless, "jpeg2000": JPEG2000Lossless}[syntax])
        dataset.save_as(target / path.name)
    return target


@pytest.mark.parametrize(
    "syntax, uid",
    [
        ("jpeg-lossless", "1.2.840.10008.1.2.4.70"),
        ("jpeg2000", "1.2.840.10008.1.2.4.90"),
        ("rle", "1.2.840.10008.1.2.5"),
    ],
)
def test_compressed_series_read_to_the_same_hu(phantom, tmp_path, syntax, uid):
    from drai.data.lidc.dicom_slices import transfer_syntax

    compressed = compress_series(phantom, tmp_path / syntax, syntax)
    files = _files(compressed)
    assert {transfer_syntax(f) for f in files} == {uid}
    plain, series = read_series(_files(phantom)), read_series(files)
    np.testing.assert_array_equal(series.hu, plain.hu)
    assert series.geometry == plain.geometry
    # SimpleITK decodes all three itself: a complete compressed file is not taken for a truncated one.
    from drai.data.lidc.dicom_slices import read_with_sitk

    _, fast = read_with_sitk(files)
    _, reference = read_with_sitk(_files(phantom))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(fast), sitk.GetArrayFromImage(reference))


@pytest.mark.parametrize("syntax", ["jpeg-lossless", "jpeg2000", "rle"])
def test_compressed_slices_decode_with_pydicom_too(phantom, tmp_path, syntax):
    from drai.data.lidc.dicom_slices import read_with_pydicom

    compressed = compress_series(phantom, tmp_path / syntax, syntax)
    _, careful = read_with_pydicom(_files(compressed))
    _, plain = read_with_pydicom(_files(phantom))
    np.testing.assert_array_equal(careful, plain)


@pytest.mark.parametrize("keep", [-200, 700], ids=["in-pixel-data", "in-header"])
def test_truncated_compressed_slice_gives_the_reason(phantom, tmp_path, keep):
    compressed = compress_series(phantom, tmp_path / "rle", "rle")
    path = _files(compressed)[4]
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    with pytest.warns(UserWarning) if keep < 0 else contextlib.nullcontext():  # pydicom warns of the cut delimiter
        with pytest.raises(SeriesError, match=f"{path}: truncated: its pixel data is missing or cut short"):
            read_series(_files(compressed))


def test_stray_files_among_extensionless_dicom_are_skipped(phantom, tmp_path, caplog):
    bare = tmp_path / "bare"
    bare.mkdir()
    for path in _files(phantom):
        shutil.copy(path, bare / path.stem)
    strays = {
        "README.txt": "about this series",
        ".DS_Store": "\0\0\0\1Bud1",
        "Thumbs.db": "x",
        "notes.xml": "<a/>",
        "info.json": "{}",
    }
    for name, text in strays.items():
        (bare / name).write_text(text)
    with caplog.at_level("INFO", logger="drai.data.lidc.dicom_series"):
        files = dicom_files(bare)
    assert len(files) == 8 and not {f.name for f in files} & set(strays)
    assert all(f"{bare / name}: not a DICOM slice; skipped" in caplog.text for name in strays)
    bare_series, plain = read_series(files), read_series(_files(phantom))  # kept: .hu is a view of their images
    np.testing.assert_array_equal(bare_series.hu, plain.hu)


def test_a_broken_file_that_claims_to_be_dicom_is_refused(phantom, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for path in _files(phantom):
        shutil.copy(path, bare / path.stem)
    broken = bare / _files(phantom)[3].stem
    broken.write_bytes(broken.read_bytes()[:400])
    assert broken in dicom_files(bare)
    with pytest.raises(SeriesError, match=str(broken)):
        read_series(dicom_files(bare))

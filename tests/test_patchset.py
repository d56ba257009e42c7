"""The patch-set contract and the dataset registry."""

import sys

import numpy as np
import pytest

import drai.data
from drai.data import registry
from drai.data.patchset import PatchSet, PatchSetError
from drai.data.registry import datasets, get_dataset


def test_both_datasets_are_found_and_declare_what_differs():
    assert list(datasets()) == ["lidc", "ham10000"]  # the paper's order
    for key, dataset in datasets().items():
        assert dataset.key == key and dataset.name and dataset.full_name and dataset.channels in (1, 3)
        assert all(f.meaning for f in dataset.fields)
    assert get_dataset("lidc").retrieval and not get_dataset("ham10000").retrieval
    with pytest.raises(ValueError, match="unknown dataset 'mnist'; known: lidc, ham10000"):
        get_dataset("mnist")


@pytest.mark.parametrize("dataset", ["lidc", "ham10000"])
def test_a_patch_set_survives_saving_and_loading(make_patch_set, tmp_path, dataset):
    written = make_patch_set(dataset, n=6, size=72)
    written.save(tmp_path / "p.npz")
    read = PatchSet.load(tmp_path / "p.npz", dataset)
    assert (read.dataset, read.source) == (dataset, written.source)
    for name in ("images", "vectors", "splits"):
        np.testing.assert_array_equal(read[name], written[name])
    assert read.fields.keys() == written.fields.keys()
    for name, values in written.fields.items():
        np.testing.assert_array_equal(read[name], values)
    assert read.crops().shape == (6, written.images.shape[1], 64, 64)
    assert read.images.shape[1] == get_dataset(dataset).channels
    assert len(get_dataset(dataset).vector_names(read)) == read.vectors.shape[1]
    np.testing.assert_array_equal(read.crops(), written.images[..., 4:68, 4:68])


def test_a_file_written_before_sets_named_their_dataset_is_recognised_by_its_fields(make_patch_set, tmp_path):
    patches = make_patch_set("ham10000", n=4)
    arrays = {"images": patches.images, "vectors": patches.vectors, "splits": patches.splits, "source": "synthetic"}
    fields = {k: v for k, v in patches.fields.items() if k not in ("modelled", "split_source")}
    np.savez(tmp_path / "old.npz", **arrays, **fields)
    read = PatchSet.load(tmp_path / "old.npz")
    assert read.dataset == "ham10000"
    assert read["modelled"].all()  # the default of a field added later: every row modelled


def test_bad_files_are_refused_with_the_file_and_the_field_named(make_patch_set, tmp_path):
    lidc = make_patch_set("lidc", n=4)
    lidc.save(tmp_path / "lidc.npz")
    with pytest.raises(PatchSetError, match=r"lidc\.npz: holds lidc patches, not ham10000"):
        PatchSet.load(tmp_path / "lidc.npz", "ham10000")
    fields = {k: v for k, v in lidc.fields.items() if k != "curated"}
    np.savez(
        tmp_path / "cut.npz",
        images=lidc.images,
        vectors=lidc.vectors,
        splits=lidc.splits,
        dataset="lidc",
        source="synthetic",
        **fields,
    )
    with pytest.raises(PatchSetError, match=r"cut\.npz: lidc patch set without its field 'curated'"):
        PatchSet.load(tmp_path / "cut.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(PatchSetError, match=r"text\.npz: not a readable patch set"):
        PatchSet.load(tmp_path / "text.npz")
    with pytest.raises(PatchSetError, match=r"short\.npz: lidc patch set without its field\(s\) curated"):
        PatchSet(lidc.dataset, lidc.source, lidc.images, lidc.vectors, lidc.splits, fields).save(tmp_path / "short.npz")
    assert not (tmp_path / "short.npz").exists()
    with pytest.raises(PatchSetError, match="field 'vectors' has 3 rows, images 4"):
        PatchSet("lidc", "synthetic", lidc.images, lidc.vectors[:3], lidc.splits, lidc.fields)


def test_a_third_dataset_is_one_package_away(tmp_path, monkeypatch, make_patch_set):
    package = tmp_path / "toyset"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "dataset.py").write_text(
        "import numpy as np\n"
        "from drai.data.registry import Dataset, Field\n"
        "class Toy(Dataset):\n"
        "    key, name, full_name, channels, order = 'toyset', 'Toy', 'Toy set', 1, 5\n"
        "    fields = (Field('colour', 'str: a colour'),)\n"
        "    def training_rows(self, patches):\n"
        "        return patches.is_train\n"
        "DATASET = Toy()\n"
    )
    monkeypatch.setattr(drai.data, "__path__", [*drai.data.__path__, str(tmp_path)])
    monkeypatch.setattr(sys, "path", [*sys.path])
    registry.datasets.cache_clear()
    try:
        assert list(datasets()) == ["lidc", "ham10000", "toyset"]
        lidc = make_patch_set("lidc", n=4)
        toy = PatchSet("toyset", "synthetic", lidc.images, lidc.vectors, lidc.splits, {"colour": np.array(["red"] * 4)})
        toy.save(tmp_path / "toy.npz")
        assert list(get_dataset("toyset").training_rows(PatchSet.load(tmp_path / "toy.npz"))) == list(lidc.is_train)
        # The key names the package, its config section and its results folder: they may not differ.
        (package / "dataset.py").write_text(
            (package / "dataset.py").read_text().replace("'toyset', 'Toy'", "'toy', 'Toy'")
        )
        del sys.modules["drai.data.toyset.dataset"]
        registry.datasets.cache_clear()
        with pytest.raises(ValueError, match="DATASET.key is 'toy', not its package's name 'toyset'"):
            datasets()
    finally:
        registry.datasets.cache_clear()
        for name in [m for m in sys.modules if m.startswith("drai.data.toyset")]:
            del sys.modules[name]


def _spoiled(make_patch_set, dataset, **change):
    """A valid toy set of ``dataset`` with ``change`` made (images, vectors, splits or fields)."""
    from dataclasses import replace

    patches = make_patch_set(dataset, n=6, size=72)
    fields = {k: change.pop(k) for k in list(change) if k in patches.fields}
    return replace(patches, **change, fields={**patches.fields, **fields})


@pytest.mark.parametrize(
    "dataset, change, message",
    [
        ("ham10000", lambda p: {"images": ((p.images + 1) * 127.5).astype(np.uint8)}, "images are uint8, not float"),
        (
            "ham10000",
            lambda p: {"images": (p.images + 1) * 127.5},
            r"images range from \S+ to \S+, not within \[-1, 1\]",
        ),
        ("lidc", lambda p: {"images": p.images[:, 0]}, r"images have shape \(6, 72, 72\), not \(N, C, S, S\)"),
        ("ham10000", lambda p: {"images": p.images[:, :1]}, r"not \(N, C, S, S\) with the 3 channel\(s\) of HAM10000"),
        ("lidc", lambda p: {"images": np.where(p.images > 0.5, np.nan, p.images)}, "images hold NaN"),
        ("lidc", lambda p: {"vectors": p.vectors[:, :16]}, "vectors are 16 wide, not the 17 of LIDC's"),
        ("ham10000", lambda p: {"vectors": np.eye(6, 9, dtype=np.float32)}, "vectors are 9 wide, not one dimension"),
        ("ham10000", lambda p: {"labels": np.full(6, 99)}, r"field 'labels' holds 99 in row 0 \(6 such row\(s\)\)"),
        ("ham10000", lambda p: {"labels": np.array([0, 1, 2, 0, 1, 3])}, "row 5 is modelled with label 3 .akiec."),
        ("lidc", lambda p: {"size_bins": np.full(6, 5)}, "field 'size_bins' holds 5 in row 0"),
        ("lidc", lambda p: {"splits": np.array(["train", "val"] * 3)}, r"splits hold \['val'\]"),
    ],
    ids=[
        "uint8 images",
        "float images in 0..255",
        "no channel axis",
        "1 channel in HAM10000",
        "NaN",
        "LIDC vector width",
        "HAM10000 vector width",
        "label 99",
        "modelled label beyond the vector",
        "size bin 5",
        "split 'val'",
    ],
)
def test_a_set_that_breaks_the_contract_is_refused_naming_the_file(make_patch_set, tmp_path, dataset, change, message):
    plain = make_patch_set(dataset, n=6, size=72)
    _spoiled(make_patch_set, dataset, **change(plain)).save(tmp_path / "bad.npz")
    with pytest.raises(PatchSetError, match=rf"bad\.npz: .*{message}.*; not a patch set as the contract describes it"):
        PatchSet.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("damage", ["truncated", "empty", "crc", "object array"])
def test_an_unreadable_file_is_refused_naming_it(make_patch_set, tmp_path, damage):
    path = tmp_path / "patches.npz"
    patches = make_patch_set("lidc", n=4)
    arrays = {"images": patches.images, "vectors": patches.vectors, "splits": patches.splits, "source": "synthetic"}
    np.savez(path, **arrays, **patches.fields)  # stored, not deflated: a flipped byte reaches the CRC check
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "crc":
        at = data.index(b"images.npy") + 4000  # inside the image array's bytes
        path.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :])
    else:
        np.savez(path, **{**arrays, "splits": np.array(["train", None, "test", "train"], dtype=object)})
    with pytest.raises(PatchSetError, match=r"patches\.npz: not a readable patch set \(.+\)"):
        PatchSet.load(path)

"""Atomic outputs: what a killed write leaves is cleaned when the output is written again."""

import numpy as np

from drai.io import atomic_dir, write_npz, write_text


def test_leftovers_of_a_killed_write_are_removed_on_the_next_write(tmp_path):
    # What atomic_path leaves when a job is killed between mkstemp and the rename.
    leftover_npz = tmp_path / ".patches.npz.k3j_9x0a.npz"
    leftover_png = tmp_path / ".losses.png.ab12cd34.png"
    for path in (leftover_npz, leftover_png):
        path.write_bytes(b"half written")
    write_npz(tmp_path / "patches.npz", x=np.zeros(3))
    assert not leftover_npz.exists() and leftover_png.exists()
    assert np.load(tmp_path / "patches.npz")["x"].shape == (3,)
    write_text(tmp_path / "losses.png", "stand-in")
    assert not leftover_png.exists()


def test_only_the_outputs_own_temporary_names_are_removed(tmp_path):
    kept = [
        tmp_path / ".patches.npz.k3j_9x0a.npz.bak",  # another suffix
        tmp_path / ".patches.npz.short.npz",  # not tempfile's eight characters
        tmp_path / ".other.npz.k3j_9x0a.npz",  # another output's
        tmp_path / "patches.npz.k3j_9x0a.npz",  # not hidden
        tmp_path / ".patches.npz.K3J_9X0A.npz",  # tempfile never makes capitals
    ]
    for path in kept:
        path.write_text("mine")
    write_npz(tmp_path / "patches.npz", x=np.zeros(1))
    assert all(path.read_text() == "mine" for path in kept)


def test_leftover_temporary_folders_are_removed(tmp_path):
    leftover = tmp_path / ".series.ab_cd123"
    (leftover / "sub").mkdir(parents=True)
    (leftover / "sub" / "1.dcm").write_bytes(b"x")
    other = tmp_path / ".series.ab_cd123.zip"
    other.write_bytes(b"not a folder of ours")
    with atomic_dir(tmp_path / "series") as tmp:
        (tmp / "1.dcm").write_bytes(b"y")
    assert not leftover.exists() and other.exists()
    assert (tmp_path / "series" / "1.dcm").read_bytes() == b"y"

"""Atomic outputs: what a killed write leaves is cleaned when the output is written again."""

import numpy as np
import pytest

from drai.io import SYNTHETIC_MARKER, atomic_dir, mark_synthetic, write_npz, write_text


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


def _rendered(folder):
    """A folder as a synthetic renderer leaves it: its files, then the marker that lists them."""
    with atomic_dir(folder) as tmp:
        (tmp / "images").mkdir()
        (tmp / "images" / "a.jpg").write_bytes(b"synthetic")
        (tmp / "table.csv").write_text("x\n")
        mark_synthetic(tmp, "test data")
    return folder


def test_a_marked_folder_holding_only_its_own_files_is_replaced(tmp_path):
    folder = _rendered(tmp_path / "synthetic")
    (folder / "table.csv").unlink()  # one of its files gone: nothing of the user's is lost
    with atomic_dir(folder) as tmp:
        (tmp / "new.txt").write_text("again")
    assert [p.name for p in folder.iterdir()] == ["new.txt"]


@pytest.mark.parametrize(
    "intrude",
    [
        lambda f: (f / "raw").mkdir() or (f / "raw" / "ISIC_0000001.jpg").write_bytes(b"a real image"),
        lambda f: (f / "images" / "mine.jpg").write_bytes(b"copied in"),
        lambda f: (f / "images" / "a.jpg").write_bytes(b"a real image of another size"),
        lambda f: (f / "link").symlink_to(f.parent),
    ],
    ids=["real folder inside", "file added", "file replaced", "link"],
)
def test_a_marked_folder_holding_a_file_it_did_not_write_is_never_removed(tmp_path, intrude):
    folder = _rendered(tmp_path / "synthetic")
    intrude(folder)
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    with pytest.raises(FileExistsError, match=f"{folder}: exists and holds data .*is not a file it wrote"):
        with atomic_dir(folder) as tmp:
            (tmp / "new.txt").write_text("again")
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["synthetic"]  # no temporary folder left


def test_a_marker_that_lists_no_files_is_not_trusted(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / SYNTHETIC_MARKER).write_text("Synthetic data.\nRendered by the drai workflow.\n")
    (folder / "ISIC_0000001.jpg").write_bytes(b"whose?")
    with pytest.raises(FileExistsError, match="older version .* does not list its files"):
        with atomic_dir(folder):
            pass
    assert (folder / "ISIC_0000001.jpg").is_file()


def test_a_saved_figure_says_which_preset_made_it(tmp_path):
    import matplotlib.pyplot as plt

    from drai.io import note_on_figures, save_figure

    fig, ax = plt.subplots()
    try:
        note_on_figures("preset: ci")
        save_figure(fig, tmp_path / "a.png")
    finally:
        note_on_figures(None)
    assert [text.get_text() for text in fig.texts] == ["preset: ci"]
    plain, _ = plt.subplots()
    save_figure(plain, tmp_path / "b.png")  # without a note, the figure as drawn
    assert plain.texts == [] and (tmp_path / "a.png").stat().st_size > 0
    plt.close("all")


def test_every_loss_term_has_a_colour_of_its_own_and_a_readable_legend():
    import pandas as pd

    from drai.models.variants import get_variant, loss_terms
    from drai.train.run import draw_losses

    terms = loss_terms(get_variant("DRAI"))
    assert len(terms) > 10  # more than matplotlib's default colour cycle
    history = pd.DataFrame({"step": range(1, 21), **{term: np.linspace(0, 1, 20) for term in terms}})
    fig = draw_losses(history, "DRAI")
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    assert len(lines) == len(terms) and len({line.get_color() for line in lines}) == len(terms)
    assert all(text.get_fontsize() >= 8 for ax in fig.axes for text in ax.get_legend().get_texts())

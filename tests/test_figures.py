"""Figures 10-19 (drai.figures) on tiny untrained models and random images."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from drai.data.patchset import PatchSet
from drai.figures import kinds as figure_kinds
from drai.figures.arrays import (
    conditional_grid,
    generate,
    hybrid_grid,
    infer_codes,
    interpolation,
    pixel_match,
    retrieval_panel,
    sample_styles,
    target_image,
    tsne_embedding,
)
from drai.figures.drawing import draw_grids
from drai.figures.kinds import make_figure
from drai.figures.layout import GAP, PAD, MosaicGrid, mosaic
from drai.figures.selection import choose_references, load_image_sets
from drai.figures.specs import FIGURE_SPECS, planned
from drai.models.variants import VARIANTS
from drai.train.run import save_untrained
from toys import one_hot, random_images, tiny_model, tiny_settings, toy_patch_set

TINY = tiny_settings()
PNG = b"\x89PNG\r\n\x1a\n"


def lidc_patches(path, n_test=8, n_query=3, seed=0):
    """A small LIDC patch set in the layout of results/data/lidc/patches.npz."""
    rng = np.random.default_rng(seed)
    n_train = 4
    n = n_train + n_test + n_query
    sizes = rng.uniform(2, 14, n).astype(np.float32)
    bins = np.searchsorted([4.0, 6.0, 8.0, 10.0], sizes, side="right")
    splits = np.array(["train"] * n_train + ["test"] * (n_test + n_query))
    query = np.zeros(n, bool)
    query[n_train + n_test :] = True
    # three slices of one test nodule: only the central one is a figure image
    offsets = np.zeros(n, np.int64)
    images = random_images(n, 1, seed)
    vectors = one_hot(n, 17, seed)
    arrays = dict(
        images=images,
        vectors=vectors,
        sizes=sizes,
        size_bins=bins,
        malignancy=np.full(n, 2.0, np.float32),
        splits=splits,
        curated=~query,
        query=query,
        nodule_ids=np.array([f"n{i}" for i in range(n)]),
        slice_offsets=offsets,
    )
    extra = {k: np.concatenate([v, v[n_train : n_train + 1]]) for k, v in arrays.items()}
    extra["slice_offsets"][-1] = 1
    toy_patch_set("lidc", **extra).save(path)
    return path


def ham_patches(path, n_test=9, seed=0):
    rng = np.random.default_rng(seed)
    n_train = 4
    n = n_train + n_test + 2
    labels = rng.integers(0, 3, n)
    splits = np.array(["train"] * n_train + ["test"] * (n_test + 2))
    augmented = np.zeros(n, bool)
    augmented[-2:] = True
    toy_patch_set(
        "ham10000",
        images=random_images(n, 3, seed).astype(np.float16),
        labels=labels,
        vectors=np.eye(3, dtype=np.float32)[labels],
        splits=splits,
        image_ids=np.array([f"i{i}" for i in range(n)]),
        lesion_ids=np.array([f"l{i}" for i in range(n)]),
        augmented=augmented,
        flips=np.array([""] * n),
        class_names=np.array(["nv", "mel", "bkl"]),
    ).save(path)
    return path


# --- the computations -------------------------------------------------------


def test_conditional_grid_keeps_content_per_row_and_style_per_column():
    model = tiny_model("DRAI")
    refs, vectors = random_images(3), one_hot(3, 17)
    grid = conditional_grid(model, refs, vectors, n_samples=4, seed=5)
    assert grid.shape == (3, 5, 1, 64, 64)
    np.testing.assert_array_equal(grid[:, 0], refs)
    z = sample_styles(model, 4, seed=5)
    with torch.no_grad():
        c = model.content_of(torch.from_numpy(vectors)).numpy()
    for i in range(3):
        for j in range(4):
            expected = generate(model, z[j : j + 1], c[i : i + 1])[0]
            np.testing.assert_allclose(grid[i, j + 1], expected, atol=1e-5)
    np.testing.assert_array_equal(grid, conditional_grid(model, refs, vectors, n_samples=4, seed=5))
    assert not np.allclose(grid, conditional_grid(model, refs, vectors, n_samples=4, seed=6))


@pytest.mark.parametrize("name", ["DRAI", "D-cVAE", "cVAE"])
def test_hybrid_cell_is_style_of_column_and_content_of_row(name):
    model = tiny_model(name, channels=3, t_dim=3)
    style, content, vectors = random_images(4, 3, seed=1), random_images(3, 3, seed=2), one_hot(3, 3)
    grid = hybrid_grid(model, style, content, vectors)
    assert grid.shape == (3, 4, 3, 64, 64)
    z, _ = infer_codes(model, style)
    if model.variant.two_codes:
        c = infer_codes(model, content)[1]
    else:
        with torch.no_grad():
            c = model.content_of(torch.from_numpy(vectors)).numpy()
    for i in range(3):
        for j in range(4):
            np.testing.assert_allclose(grid[i, j], generate(model, z[j : j + 1], c[i : i + 1])[0], atol=1e-5)


def test_one_code_hybrids_need_the_content_vectors():
    with pytest.raises(ValueError, match="one code"):
        hybrid_grid(tiny_model("cInfoGAN"), random_images(2), random_images(2))


def test_infer_codes_of_one_and_two_code_models():
    z, c = infer_codes(tiny_model("DAI"), random_images(5), batch_size=2)
    assert z.shape == (5, 4) and c.shape == (5, 4)
    z, c = infer_codes(tiny_model("cVAE"), random_images(5))
    assert z.shape == (5, 4) and c is None


def test_retrieval_picks_the_nearest_by_each_code():
    search_z = np.array([[0.0, 0.0], [10.0, 10.0], [1.0, 1.0], [5.0, 5.0]])
    search_c = np.array([[5.0, 5.0], [0.0, 0.0], [9.0, 9.0], [1.0, 1.0]])
    query = (np.array([[0.2, 0.2]]), np.array([[0.5, 0.5]]))
    found = retrieval_panel(query, (search_z, search_c), n=3)
    assert found.by_style.tolist() == [0, 2, 3]
    assert found.by_content.tolist() == [1, 3, 0]
    found = retrieval_panel(query, (search_z, search_c), n=3, exclude=0)
    assert found.by_style.tolist() == [2, 3, 1]
    assert found.by_content.tolist() == [1, 3, 2]
    one_code = retrieval_panel((query[0], None), (search_z, None), n=10)
    assert one_code.by_content is None and one_code.by_style.tolist() == [0, 2, 3, 1]


def test_target_and_pixel_matched_images():
    search = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.1]])
    assert target_image(np.array([1.0, 0.0, 0.12]), search) == 2
    assert target_image(np.array([1.0, 0.0, 0.12]), search, exclude=2) == 1
    images = np.stack([np.full((1, 4, 4), v, np.float32) for v in (-1.0, 0.4, 0.0, 1.0)])
    assert pixel_match(np.full((1, 4, 4), 0.3, np.float32), images) == 1
    assert pixel_match(np.full((1, 4, 4), 0.3, np.float32), images, exclude=1) == 2


def test_interpolation_endpoints_are_the_codes_generations():
    model = tiny_model("DRAI")
    source, target = random_images(2, seed=3)
    lines = interpolation(model, source, target, steps=5)
    assert set(lines) == {"content", "style", "both"}
    assert all(line.shape == (5, 1, 64, 64) for line in lines.values())
    (zs, zt), (cs, ct) = (pair[:, None] for pair in infer_codes(model, np.stack([source, target])))
    start = generate(model, zs, cs)[0]
    for line in lines.values():
        np.testing.assert_allclose(line[0], start, atol=1e-5)
    np.testing.assert_allclose(lines["content"][-1], generate(model, zs, ct)[0], atol=1e-5)
    np.testing.assert_allclose(lines["style"][-1], generate(model, zt, cs)[0], atol=1e-5)
    np.testing.assert_allclose(lines["both"][-1], generate(model, zt, ct)[0], atol=1e-5)
    with pytest.raises(ValueError, match="one code"):
        interpolation(tiny_model("cVAE"), source, target)


@pytest.mark.parametrize("n", [1, 2, 3, 40])
def test_tsne_gives_two_coordinates_per_code(n):
    codes = np.random.default_rng(0).normal(size=(n, 6))
    points = tsne_embedding(codes, seed=0)
    assert points.shape == (n, 2) and np.isfinite(points).all()
    if n > 3:
        np.testing.assert_allclose(points, tsne_embedding(codes, seed=0))


def test_references_spread_over_groups_in_order():
    groups = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
    chosen = choose_references(groups, 4, seed=1)
    assert len(set(chosen.tolist())) == 4
    assert set(groups[chosen]) == {0, 1, 2}
    assert (np.diff(groups[chosen]) >= 0).all()
    assert chosen.tolist() == choose_references(groups, 4, seed=1).tolist()
    assert len(choose_references(groups, 50)) == len(groups)
    sizes = np.array([5.0, 1.0, 3.0, 2.0, 0, 0, 0, 0, 0])
    chosen = choose_references(np.zeros(4, int), 4, order=sizes[:4])
    assert chosen.tolist() == [1, 3, 2, 0]


def test_mosaic_places_cells_with_gaps():
    cells = np.full((2, 3, 1, 4, 4), np.nan, np.float32)
    cells[1, 2] = 1.0
    canvas, xs, ys = mosaic(MosaicGrid(cells, split_row=True, split_col=True))
    pad, gap = PAD, GAP
    assert canvas.shape == (2 * 4 + pad + gap, 3 * 4 + 2 * pad + gap, 3)
    assert len(xs) == 3 and len(ys) == 2
    y0, x0 = 4 + pad + gap, 2 * (4 + pad) + gap
    assert (canvas[y0 : y0 + 4, x0 : x0 + 4] == 1).all()


# --- test images and whole figures -------------------------------------------


def test_lidc_test_images_are_curated_central_slices_and_queries_apart(tmp_path):
    tests, queries = load_image_sets(lidc_patches(tmp_path / "lidc.npz"), "lidc")
    assert len(tests) == 8 and len(queries) == 3
    assert tests.images.dtype == np.float32 and tests.sizes is not None
    assert tests.captions[0].endswith("mm") and len(tests.group_names) == 5


def test_ham_test_images_leave_out_the_augmented_copies(tmp_path):
    tests, queries = load_image_sets(ham_patches(tmp_path / "ham.npz"), "ham10000")
    assert len(tests) == 9 and queries is None
    assert tests.images.dtype == np.float32 and set(tests.captions) <= {"nv", "mel", "bkl"}


def test_specs_cover_figures_10_to_19():
    assert sorted(FIGURE_SPECS) == list(range(10, 20))
    assert len({spec.path for spec in FIGURE_SPECS.values()}) == 10
    for spec in FIGURE_SPECS.values():
        assert set(spec.models) <= set(VARIANTS) and spec.path.startswith(f"figures/fig{spec.number}_")
    assert planned(FIGURE_SPECS[12], ["lidc"], ["DRAI", "cVAE", "DAI"]) == (["lidc"], ["DAI", "DRAI"])
    assert planned(FIGURE_SPECS[13], ["lidc"], ["DRAI"]) == ([], ["DRAI"])


def all_models(channels, t_dim):
    return {name: tiny_model(name, channels, t_dim) for name in VARIANTS}


@pytest.fixture(scope="module")
def patch_sets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("patches")
    return {"lidc": lidc_patches(folder / "lidc.npz"), "ham10000": ham_patches(folder / "ham.npz")}


@pytest.fixture(scope="module")
def trained(patch_sets):
    return {"lidc": all_models(1, 17), "ham10000": all_models(3, 3)}


@pytest.mark.parametrize("number", sorted(FIGURE_SPECS))
def test_every_figure_is_written(tmp_path, patch_sets, trained, number):
    spec = FIGURE_SPECS[number]
    models = {d: {m: trained[d][m] for m in spec.models} for d in spec.datasets}
    output = tmp_path / "figure.png"
    make_figure(spec, patch_sets, models, output, run_seed=0)
    assert output.read_bytes()[:8] == PNG and output.stat().st_size > 10_000
    assert not list(tmp_path.glob(".figure.png.*"))  # written atomically, nothing left behind


def test_figures_are_reproducible(tmp_path, patch_sets, trained):
    spec = FIGURE_SPECS[12]
    models = {"lidc": {m: trained["lidc"][m] for m in ("DAI", "DRAI")}}
    make_figure(spec, patch_sets, models, tmp_path / "a.png")
    make_figure(spec, patch_sets, models, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_a_figure_of_models_given_as_files(tmp_path, patch_sets):
    path = save_untrained("DRAI", 1, 17, TINY, tmp_path / "model.pt")
    output = tmp_path / "fig18.png"
    make_figure(FIGURE_SPECS[18], {"lidc": patch_sets["lidc"]}, {"lidc": {"DRAI": str(path)}}, output)
    assert output.read_bytes()[:8] == PNG


def test_a_figure_without_models_says_so(tmp_path, patch_sets, monkeypatch):
    messages = []
    draw_message = figure_kinds.draw_message
    monkeypatch.setattr(figure_kinds, "draw_message", lambda *args: messages.append(args) or draw_message(*args))
    output = tmp_path / "fig10.png"
    make_figure(FIGURE_SPECS[10], patch_sets, {"lidc": {}}, output)
    assert output.read_bytes()[:8] == PNG
    assert len(messages) == 1 and "No model of this figure" in messages[0][1]


def test_tiny_presets_still_draw(tmp_path, trained):
    """The ci preset: two curated test nodules, no query set, one HAM image of a class."""
    lidc = lidc_patches(tmp_path / "lidc.npz", n_test=2, n_query=0)
    ham = ham_patches(tmp_path / "ham.npz", n_test=1)
    patches = {"lidc": lidc, "ham10000": ham}
    for number in (10, 12, 14, 15, 18, 19):
        spec = FIGURE_SPECS[number]
        models = {d: {m: trained[d][m] for m in spec.models} for d in spec.datasets}
        make_figure(spec, patches, models, tmp_path / f"fig{number}.png")
        assert (tmp_path / f"fig{number}.png").read_bytes()[:8] == PNG


def test_draw_grids_with_a_header(tmp_path):
    cells = random_images(6).reshape(2, 3, 1, 64, 64)
    header = MosaicGrid(random_images(3).reshape(1, 3, 1, 64, 64), "header", col_labels=["a", "b", "c"])
    grids = [MosaicGrid(cells, f"panel {i}", row_labels=["x", "y"], cell_labels={(0, 0): "q"}) for i in range(3)]
    draw_grids(grids, "title", tmp_path / "grid.png", ncols=2, note="a note", header=header)
    assert (tmp_path / "grid.png").read_bytes()[:8] == PNG


def with_margin(source, path, margin=4, **extra):
    patches = PatchSet.load(source)
    images = patches.images
    padded = np.random.default_rng(3).uniform(-1, 1, images.shape[:2] + (64 + 2 * margin,) * 2)
    padded = padded.astype(images.dtype)
    padded[..., margin:-margin, margin:-margin] = images
    replace(patches, images=padded, fields={**patches.fields, **extra}).save(path)
    return path


def test_figures_and_the_command_see_the_centre_crops_of_modelled_rows(tmp_path):
    from drai.cli import _load_patches

    lidc = lidc_patches(tmp_path / "lidc.npz")
    tests, queries = load_image_sets(with_margin(lidc, tmp_path / "lidc72.npz"), "lidc")
    expected_tests, expected_queries = load_image_sets(lidc, "lidc")
    assert np.array_equal(tests.images, expected_tests.images)
    assert np.array_equal(queries.images, expected_queries.images)

    ham = ham_patches(tmp_path / "ham.npz")
    with np.load(ham) as data:
        n = len(data["labels"])
    modelled = np.arange(n) % 4 != 1  # rows of lesion types the models do not use
    wide = with_margin(ham, tmp_path / "ham72.npz", modelled=modelled)
    tests, _ = load_image_sets(wide, "ham10000")
    full, _ = load_image_sets(ham, "ham10000")
    test_rows = np.arange(4, n - 2)  # ham_patches: 4 training rows, then the test rows, 2 augmented copies last
    assert len(full) == len(test_rows) and len(tests) == modelled[test_rows].sum()
    assert np.array_equal(tests.images, full.images[modelled[test_rows]])
    images, vectors = _load_patches(str(wide))
    with np.load(ham) as data:
        assert np.array_equal(images, data["images"][modelled].astype(np.float32))
        assert np.array_equal(vectors, data["vectors"][modelled])


def test_every_figure_kind_is_dispatched_and_an_unknown_one_named(tmp_path, patch_sets, trained):
    assert {spec.kind for spec in FIGURE_SPECS.values()} == set(figure_kinds.FIGURE_KINDS)
    spec = replace(FIGURE_SPECS[10], kind="mosaic")
    with pytest.raises(ValueError, match="unknown figure kind 'mosaic'"):
        make_figure(spec, patch_sets, {"lidc": {"DRAI": trained["lidc"]["DRAI"]}}, tmp_path / "fig.png")
    assert not (tmp_path / "fig.png").exists()

"""Beyond the paper: the synthetic data's known factors, their probes, and the memorization audit."""

import hashlib
import json

import numpy as np
import pandas as pd
import pydicom
import pytest
import torch
from PIL import Image

from drai.audit import generated_for_evaluation, ground_truth_table, memorization_of_run, reference_features
from drai.data.factors import NoFactorsError
from drai.data.ham10000 import synthetic as synthetic_derm
from drai.data.ham10000.factors import factor_table as ham10000_factors
from drai.data.lidc import synthetic as synthetic_ct
from drai.data.lidc import synthetic_volume
from drai.data.lidc.factors import factor_table as lidc_factors
from drai.data.registry import get_dataset
from drai.evaluation import EvaluationData, LabelledSplit
from drai.metrics.ground_truth import probe_matrix, probe_score, separation
from drai.metrics.memorization import distance_summary
from drai.metrics.settings import AuditSettings, EvaluationSettings
from toys import toy_patch_set

SCAN_ID = 1
CT_SETTINGS = synthetic_volume.SyntheticSettings(matrix=48, slice_spacing_mm=5.0, seed=0)
DERM_SETTINGS = synthetic_derm.SyntheticDermSettings(12, 6, 80, 60, seed=0)
# Hashes of the same renderings made with the renderers before they recorded factors (the
# project's code before this module existed, run on this environment): recording must leave
# every pixel, file and random draw as it was. The dermoscopy images are hashed by their decoded
# pixels: the synthetic mark each carries in its header came later.
CT_PIXELS_SHA256 = "e6b4ce75d7fe1e576c72201c8431cd81ce732810418475776226fd0232f9ad15"
DERM_FILES_SHA256 = "ee6c8d191d5e20d57c1ccc403104a2ca7fdb05b239c6b337220f0c4ec830e8d1"


@pytest.fixture(scope="module")
def rendered_case(tmp_path_factory):
    return synthetic_ct.render_case(SCAN_ID, tmp_path_factory.mktemp("ct"), CT_SETTINGS)


@pytest.fixture(scope="module")
def rendered_derm(tmp_path_factory):
    return synthetic_derm.write_dataset(tmp_path_factory.mktemp("derm") / "derm", DERM_SETTINGS)


def test_recording_ct_factors_changes_no_voxel_and_no_draw():
    grid = synthetic_volume.series_grid(0.7, np.arange(0, 60, 2.5), CT_SETTINGS)
    volumes, states = [], []
    for factors in (None, {}):
        rng = np.random.default_rng(3)
        volume, _, _ = synthetic_volume.render_background(grid, rng, np.array([[20.0, 10.0]]), factors)
        synthetic_volume.add_noise(volume, rng, factors)
        volumes.append(volume)
        states.append(rng.bit_generator.state)
    assert np.array_equal(volumes[0], volumes[1]) and states[0] == states[1]
    assert set(factors) == {f.name for f in get_dataset("lidc").factors if f.group == "style"}


def test_recording_derm_factors_changes_no_pixel_and_no_draw():
    images, states, factors = [], [], {}
    for record in (None, factors):
        rng = np.random.default_rng(5)
        images.append(synthetic_derm.render_image("mel", 80, 60, rng, record)[0])
        states.append(rng.bit_generator.state)
    assert np.array_equal(images[0], images[1]) and states[0] == states[1]
    # every factor but the class, which the metadata holds: the style and the lesion's size
    assert set(factors) == {f.name for f in get_dataset("ham10000").factors if f.name != "lesion_class"}
    low, high = synthetic_derm.LOOKS["mel"].size
    assert 2 * low <= factors["lesion_size"] <= 2 * high


def test_renderings_are_those_of_the_renderers_before_factors_were_recorded(rendered_case, rendered_derm):
    digest = hashlib.sha256()
    files = sorted(
        rendered_case.glob("*.dcm"), key=lambda p: int(pydicom.dcmread(p, stop_before_pixels=True).InstanceNumber)
    )
    for path in files:
        ds = pydicom.dcmread(path)
        digest.update(str(float(ds.ImagePositionPatient[2])).encode())
        digest.update(ds.PixelData)
    assert digest.hexdigest() == CT_PIXELS_SHA256
    digest = hashlib.sha256()
    for path in sorted(rendered_derm.rglob("*.jpg")) + sorted(rendered_derm.rglob("*.png")):
        digest.update(path.name.encode())
        with Image.open(path) as image:
            digest.update(np.asarray(image).tobytes())
    for path in sorted(p for p in rendered_derm.glob("*.csv") if p.name != synthetic_derm.FACTORS_FILE):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    assert digest.hexdigest() == DERM_FILES_SHA256


def test_a_series_records_its_style_and_drawing_it_again_gives_the_same(rendered_case):
    recorded = json.loads((rendered_case / synthetic_ct.FACTORS_FILE).read_text())
    assert recorded["scan_id"] == SCAN_ID
    assert recorded["style"] == pytest.approx(synthetic_ct.style_factors(SCAN_ID, CT_SETTINGS))


def _lidc_inputs(tmp_path, folder):
    nodules = pd.DataFrame(
        {
            "nodule_id": ["C1_n00", "C1_n01", "C2_n00"],
            "case": ["C1", "C1", "C2"],
            "scan_id": [SCAN_ID] * 3,
            "median_texture": [1.0, 5.0, 3.0],
            "median_calcification": [6.0, 3.0, 6.0],
            "median_margin": [5.0, 1.0, 3.0],
            "median_spiculation": [1.0, 3.0, 2.0],
            "median_subtlety": [5.0, 1.0, 3.0],
            "size_mm": [4.0, 9.0, 6.0],
        }
    )
    manifests = []
    for case, where in (("C1", folder), ("C2", tmp_path / "unrecorded")):
        path = tmp_path / f"{case}.json"
        path.write_text(json.dumps({"case": case, "folder": str(where)}))
        manifests.append(path)
    patches = tmp_path / "patches.npz"
    toy_patch_set(
        "lidc",
        n=4,
        nodule_ids=np.array(["C1_n01", "C2_n00", "C1_n00", "C1_n01"]),
        slice_offsets=np.array([0, 0, 0, 1]),
        splits=np.array(["train", "test", "train", "train"]),
    ).save(patches)
    return nodules, manifests, patches


def test_lidc_factor_table_is_keyed_like_the_patches(tmp_path, rendered_case):
    nodules, manifests, patches = _lidc_inputs(tmp_path, rendered_case)
    table = lidc_factors(patches, nodules=nodules, manifests=manifests, synthetic=CT_SETTINGS)
    assert list(table["row"]) == [0, 1, 2, 3] and list(table["nodule_id"]) == ["C1_n01", "C2_n00", "C1_n00", "C1_n01"]
    assert list(table["slice_offset"]) == [0, 0, 0, 1] and list(table["case"]) == ["C1", "C2", "C1", "C1"]
    recorded = json.loads((rendered_case / synthetic_ct.FACTORS_FILE).read_text())["style"]
    assert table.loc[0, "noise_sd_hu"] == pytest.approx(recorded["noise_sd_hu"])
    # C2's folder has no recorded factors: drawn again in memory, the same scan gives the same style.
    assert table.loc[1, "noise_sd_hu"] == pytest.approx(recorded["noise_sd_hu"])
    # Content as NoduleLook draws it: texture 1 -> -650 HU, 5 -> +40 HU; calcification < 6 -> calcified.
    assert table.loc[2, "density_hu"] == pytest.approx(-650.0) and table.loc[0, "density_hu"] == pytest.approx(40.0)
    assert list(table["calcified"]) == [1, 0, 0, 1] and list(table["spicules"]) == [4, 2, 0, 4]
    assert list(table.columns[5:]) == [f.name for f in get_dataset("lidc").factors]


def test_ham10000_factor_table_flips_position_and_orientation_with_the_copy(tmp_path, rendered_derm):
    style = pd.read_csv(rendered_derm / synthetic_derm.FACTORS_FILE)
    first = style.iloc[0]
    patches = tmp_path / "patches.npz"
    toy_patch_set(
        "ham10000",
        n=4,
        image_ids=np.array([first.image_id] * 4),
        augmented=np.array([False, True, True, True]),
        flips=np.array(["", "h", "v", "hv"]),
        splits=np.array(["train"] * 4),
        labels=np.array([1, 1, 1, 1]),
        class_names=np.array(["nv", "mel", "bkl"]),
    ).save(patches)
    table = ham10000_factors(patches, rendered_derm)
    assert list(table["lesion_class"]) == ["mel"] * 4
    assert table["centre_dx"].tolist() == pytest.approx(
        [first.centre_dx, -first.centre_dx, first.centre_dx, -first.centre_dx]
    )
    assert table["centre_dy"].tolist() == pytest.approx(
        [first.centre_dy, first.centre_dy, -first.centre_dy, -first.centre_dy]
    )
    s = first.orientation_sin
    assert table["orientation_sin"].tolist() == pytest.approx([s, -s, -s, s])
    assert table["orientation_cos"].tolist() == pytest.approx([first.orientation_cos] * 4)
    assert table["lesion_size"].tolist() == pytest.approx([first.lesion_size] * 4)  # a flip keeps the size
    # images rendered before the size was recorded: named, with how to render them again
    style.drop(columns="lesion_size").to_csv(tmp_path / synthetic_derm.FACTORS_FILE, index=False)
    with pytest.raises(ValueError, match="no lesion_size column.*forcerun ham10000_raw"):
        ham10000_factors(patches, tmp_path)


def test_real_data_has_no_factors(tmp_path):
    patches = tmp_path / "patches.npz"
    toy_patch_set("lidc", n=2, source="idc").save(patches)
    with pytest.raises(NoFactorsError, match="source 'idc' is real data, whose generative factors are unknown"):
        lidc_factors(patches, nodules=None, manifests=[], synthetic=None)


def _codes_and_factors(n=120, seed=0):
    rng = np.random.default_rng(seed)
    factors = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "k": rng.integers(0, 3, n)})
    groups = np.arange(n) // 2
    return rng, factors, groups


def test_probes_find_each_factor_in_its_code_and_score_the_separation():
    from drai.data.factors import Factor

    rng, factors, groups = _codes_and_factors()
    specs = [Factor("a", "style"), Factor("b", "content"), Factor("k", "content", "discrete")]
    noise = lambda: rng.normal(size=(len(factors), 6)) * 0.05  # noqa: E731
    right = {"style": np.c_[factors["a"], noise()], "content": np.c_[factors["b"], factors["k"], noise()]}
    matrix = probe_matrix(right, factors, specs, groups)
    assert matrix.loc[0, "style"] > 0.95 and matrix.loc[0, "content"] < 0.1
    assert matrix.loc[2, "content"] > 0.9 and matrix.loc[2, "style"] < 0.2  # discrete: chance-adjusted
    assert separation(matrix)["separation"] > 0.85
    swapped = probe_matrix({"style": right["content"], "content": right["style"]}, factors, specs, groups)
    assert separation(swapped)["separation"] < -0.85
    both = {"style": np.c_[right["style"], right["content"]], "content": np.c_[right["style"], right["content"]]}
    assert abs(separation(probe_matrix(both, factors, specs, groups))["separation"]) < 0.1
    assert probe_score(right["style"], np.zeros(len(factors)), "continuous", groups) is None  # does not vary


def test_a_tree_probe_finds_a_nonlinear_factor():
    rng, factors, groups = _codes_and_factors(200)
    code = np.c_[np.abs(factors["a"]), rng.normal(size=(200, 3))]
    assert probe_score(code, np.abs(factors["a"]).to_numpy() ** 2, "continuous", groups, probe="tree") > 0.8


class _Shape:
    z_dim = 2


class CopyModel:
    """A 'model' that returns training images verbatim, picked by its style noise."""

    shape = _Shape()

    def __init__(self, train):
        self.train = torch.as_tensor(train)

    def content_of(self, t):
        return t

    def generate(self, z, c):
        picks = (z[:, 0].abs() * 1000).long() % len(self.train)
        return self.train[picks]


class NoiseModel(CopyModel):
    """A 'model' that returns uniform noise."""

    def generate(self, z, c):
        generator = torch.Generator().manual_seed(int(z[0, 0].abs() * 1e6))
        return torch.rand((len(z), *self.train.shape[1:]), generator=generator) * 2 - 1


@pytest.fixture(scope="module")
def blob_data():
    """Smooth blobs of random position and size, and a feature map."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]

    def blobs(n):
        out = np.empty((n, 1, 64, 64), np.float32)
        for i in range(n):
            cy, cx, r = rng.uniform(16, 48), rng.uniform(16, 48), rng.uniform(4, 14)
            out[i, 0] = np.tanh(2 * (r - np.hypot(yy - cy, xx - cx)) / r) * 0.8 + rng.normal(0, 0.05, (64, 64))
        return out

    def split(n):
        return LabelledSplit(blobs(n), np.eye(2, dtype=np.float32)[np.arange(n) % 2], np.arange(n) % 2)

    data = EvaluationData("lidc", ("a", "b"), split(80), split(40), "synthetic", split(2), split(2), "size")
    # A fixed random projection stands in for the evaluator's features: InceptionV3 on the CPU costs
    # minutes here, and the audit only needs some feature map (the workflow's test runs the evaluator's).
    projection = rng.normal(size=(64 * 64, 32)).astype(np.float32) / 64

    def features(images):
        return np.tanh(np.asarray(images, np.float32).reshape(len(images), -1) @ projection)

    return data, features


AUDIT = AuditSettings(probe="linear", folds=5, max_items=2000, flag_share=0.05)


@pytest.mark.parametrize("model, flagged", [(CopyModel, True), (NoiseModel, False)])
def test_the_memorization_audit_flags_a_copying_model_and_not_a_noise_model(blob_data, model, flagged):
    data, features = blob_data
    settings = EvaluationSettings(samples=60, cifc_pairs=60, retrieval_top_n=3, batch_size=32, seed=0, options={})
    generated = generated_for_evaluation(model(data.train.images), data, settings)
    summary, pairs = memorization_of_run(generated, data, features, AUDIT)
    assert summary["flagged"] is flagged
    # The training and test features, computed once per dataset, give the same audit.
    once, _ = memorization_of_run(generated, data, features, AUDIT, 250, reference_features(data, features))
    assert once == summary
    for space in ("features", "pixels"):
        if flagged:
            assert summary[space]["share_closer"] == 1.0 and summary[space]["median_ratio"] < 1e-3
            assert np.allclose(pairs[f"{space}_generated"], pairs[f"{space}_train"])
        else:
            assert summary[space]["share_closer"] <= 0.05 and summary[space]["median_ratio"] > 1
        assert summary[space]["test_p1"] > 0


def test_distance_summary_counts_the_share_below_the_first_percentile():
    test = np.linspace(1.0, 2.0, 101)  # 1st percentile: 1.01
    summary = distance_summary(np.array([0.5, 1.0, 1.5, 3.0]), test)
    assert summary["test_p1"] == pytest.approx(1.01) and summary["share_closer"] == 0.5
    assert summary["median_ratio"] == pytest.approx(1.25 / 1.5)


def test_the_ground_truth_table_reports_cifc_rank_agreement_and_skips_real_data():
    records = [
        {
            "dataset": "ham10000",
            "variant": v,
            "seed": 0,
            "separation": s,
            "informativeness": 0.5,
            "leakage": 0.1,
            "cifc": c,
            # From the run's metrics.json: precision, recall, density, coverage.
            "precision": 0.7,
            "recall": 0.5,
            "density": 1.25,
            "coverage": None if v == "DAI" else 0.8,
        }
        for v, s, c in (("DRAI", 0.6, 0.1), ("DAI", 0.4, 0.3), ("D-cVAE", 0.1, 0.9))
    ]
    frame, caption = ground_truth_table(records, ["DRAI", "DAI", "D-cVAE"], {"lidc": "real data: no factors"})
    assert caption.startswith("Not in the paper.")
    assert "HAM10000: Spearman's rho of -CIFC against the separation over 3 runs (models x seeds) = 1.00" in caption
    assert "LIDC: real data: no factors" in caption
    assert list(frame["HAM10000 separation"]) == ["0.600", "0.400", "0.100"]
    assert not any(c.startswith("LIDC") for c in frame.columns)
    prdc = frame["HAM10000 precision / recall / density / coverage"]
    assert list(prdc) == ["0.70 / 0.50 / 1.25 / 0.80", "0.70 / 0.50 / 1.25 / —", "0.70 / 0.50 / 1.25 / 0.80"]


def test_the_fidelity_table_has_prdc_and_the_intra_class_fid_per_class_and_on_average():
    from drai.audit import fidelity_table

    def record(variant, seed, fid, small):
        metrics = {"fid_logits": fid, "fid_logits_intra": (small + 1.0) / 2, "precision": 0.5 + seed / 10}
        metrics.update({"fid_logits_intra/2-4 mm": small, "fid_logits_intra/4-6 mm": 1.0, "coverage": None})
        return {"dataset": "lidc", "variant": variant, "seed": seed, "metrics": metrics, "config": {"evaluate": {}}}

    records = [record("DRAI", 0, 0.2, 0.5), record("DRAI", 1, 0.4, 1.5), record("cVAE", 0, 0.3, 3.0)]
    frame, caption = fidelity_table("lidc", records, ["DRAI", "DAI", "cVAE"])
    assert caption.startswith("Not in the paper.") and "k = 5" in caption and "logits" in caption
    assert list(frame["model"]) == ["DRAI", "cVAE"]  # DAI has no run
    drai = frame.iloc[0]
    assert drai["FID (logits)"] == "0.300 ± 0.141" and drai["intra-class FID (logits), mean"] == "1.000 ± 0.354"
    assert drai["intra-class FID, 2-4 mm"] == "1.000 ± 0.707" and drai["intra-class FID, 4-6 mm"] == "1.000 ± 0.000"
    assert drai["precision"] == "0.550 ± 0.071" and drai["coverage"] == "—" and drai["density"] == "—"


def test_the_memorization_table_and_both_figures(tmp_path):
    from drai.audit import ground_truth_figure, memorization_figure, memorization_table

    space = {"median_ratio": 0.5, "share_closer": 0.2}
    records = [
        {
            "dataset": "lidc",
            "variant": "DRAI",
            "seed": s,
            "features": space,
            "pixels": space,
            "flagged": s == 0,
            "flag_share": 0.05,
        }
        for s in (0, 1)
    ]
    frame, caption = memorization_table(records, ["DRAI"])
    assert caption.startswith("Not in the paper.") and "exceeds 0.05" in caption
    assert frame.loc[0, "LIDC features median ratio"] == "0.500 ± 0.000" and frame.loc[0, "LIDC flagged"] == "1/2"
    scores = [{"factor": "a", "group": "style", "kind": "continuous", "style": 0.9, "content": None}]
    ground_truth_figure({"ham10000": {"DRAI": scores}}, {"lidc": "real data"}, tmp_path / "probes.png")
    images = np.zeros((2, 1, 64, 64), np.float32)
    pairs = {f"{s}_{k}": images for s in ("features", "pixels") for k in ("generated", "train")}
    pairs.update(features_distance=np.array([0.0, 1.0]), pixels_distance=np.array([0.0, 1.0]))
    memorization_figure({"lidc": pairs}, "DRAI", tmp_path / "pairs.png")
    assert (tmp_path / "probes.png").stat().st_size > 1000 and (tmp_path / "pairs.png").stat().st_size > 1000

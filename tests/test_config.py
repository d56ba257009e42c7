import copy
import re
from pathlib import Path

import pytest
import yaml

from drai.config import ConfigError, load_schema, resolve

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.mark.parametrize("preset", ["paper", "demo", "ci"])
def test_every_preset_resolves_completely(config, preset):
    config["preset"] = preset
    resolved = resolve(config)
    for section in ("lidc", "ham10000", "train", "evaluate", "downstream"):
        assert set(resolved[section]) == set(load_schema()["$defs"][section]["properties"])


def test_paper_preset_uses_real_data_and_the_paper_geometry(config):
    config["preset"] = "paper"
    lidc = resolve(config)["lidc"]
    assert lidc["source"] == "idc" and lidc["download"]
    assert (lidc["volume_size"], lidc["patch_size"], lidc["output_size"]) == (256, 48, 64)
    assert lidc["min_annotations"] == 3 and lidc["train_case_limit"] == 899


def test_paper_preset_takes_every_nodule_slice_and_imagenet_weights_the_others_random(config):
    config["preset"] = "paper"
    paper = resolve(config)
    assert paper["lidc"]["patch_slices"] == "all" and paper["evaluate"]["weights"] == "imagenet"
    assert paper["lidc"]["stored_size"] == paper["ham10000"]["stored_size"] == 72
    for preset in ("demo", "ci"):
        config["preset"] = preset
        assert resolve(config)["evaluate"]["weights"] is None


@pytest.mark.parametrize("preset", ["paper", "demo", "ci"])
def test_every_preset_augments_and_trains_the_budget_control(config, preset):
    """Section III-G's random flips and crops for every model; DAI+twice wherever the ablations are trained."""
    config["preset"] = preset
    train = resolve(config)["train"]
    assert train["augment"] is True
    assert "DAI+twice" in train["variants"] and "DAI+selfReg" in train["variants"]
    assert train["kl_reduction"] in ("mean", "sum")


def test_top_level_section_overrides_the_preset(config):
    config["preset"] = "ci"
    config["lidc"]["synthetic_cases"] = 2
    assert resolve(config)["lidc"]["synthetic_cases"] == 2


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda c: c.update(preset="huge"), "preset"),
        (lambda c: c["lidc"].update(volume_sise=128), "lidc"),
        (lambda c: c["lidc"].update(patch_size="big"), "lidc.patch_size"),
        (lambda c: c["lidc"].update(source="ftp"), "lidc.source"),
        (lambda c: c["lidc"].update(hu_window=[400, -1000]), "lidc.hu_window"),
        (lambda c: c["lidc"].update(patch_slices=2), "lidc.patch_slices"),
        (lambda c: c["lidc"].update(patch_slices="some"), "lidc.patch_slices"),
        (lambda c: c["lidc"].update(stored_size=67), "lidc.stored_size"),
        (lambda c: c["ham10000"].update(stored_size=60), "ham10000.stored_size"),
        (lambda c: c["evaluate"].update(imagenet_url="ftp://x/y.pth"), "evaluate.imagenet_url"),
        (lambda c: c["presets"]["ci"]["lidc"].update(synthetic_matrix=8), "presets.ci.lidc.synthetic_matrix"),
        (lambda c: c.update(lidcc={}), "(top level)"),
        (lambda c: c["ham10000"].update(classes=["nv", "cat"]), "ham10000.classes.1"),
        (lambda c: c["ham10000"].update(augment_classes=["df"]), "ham10000.augment_classes"),
        (lambda c: c["ham10000"].update(source="medmnist"), "ham10000.medmnist_npz"),
        (lambda c: c["train"].update(variants=["DRAI", "GAN"]), "train.variants.1"),
        (lambda c: c["train"].update(datasets=["lidc", "chestxray"]), "train.datasets.1"),
        (lambda c: c["train"].update(kl_reduction="max"), "train.kl_reduction"),
        (lambda c: c["train"].update(augment="yes"), "train.augment"),
        (lambda c: c["lidc"].update(evaluator_labels="colour"), "lidc.evaluator_labels"),
        (lambda c: c["evaluate"].update(samples="many"), "evaluate.samples"),
        (lambda c: c["evaluate"].update(steps={"lidc": 10}), "evaluate.steps"),
        (lambda c: c["train"].update(steps={"lidc": 10}), "train.steps"),
        (lambda c: c["train"].update(steps={"lidc": 10, "ham10000": 0}), "train.steps"),
        (lambda c: c["evaluate"].update(cifc_pair=3), "evaluate"),
    ],
)
def test_bad_values_name_their_key(config, change, key):
    bad = copy.deepcopy(config)
    change(bad)
    with pytest.raises(ConfigError, match=f"config key {key.replace('(', '[(]').replace(')', '[)]')}"):
        resolve(bad)


def test_missing_key_is_named(config):
    del config["presets"]["demo"]["lidc"]["synthetic_cases"]
    with pytest.raises(ConfigError, match="lidc.synthetic_cases: not set"):
        resolve(config)


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda c: c["presets"]["demo"]["train"].update(lr=float("nan")), "presets.demo.train.lr"),
        (lambda c: c["evaluate"].update(lr=float("inf")), "evaluate.lr"),
        (lambda c: c["ham10000"].update(lesion_margin=float("-inf")), "ham10000.lesion_margin"),
    ],
)
def test_non_finite_numbers_are_refused(config, change, key):
    change(config)
    with pytest.raises(ConfigError, match=f"config key {key}: must be a finite number"):
        resolve(config)


def test_yaml_nan_is_refused(config):
    config["train"].update(yaml.safe_load("lr: .nan"))
    with pytest.raises(ConfigError, match="config key train.lr: must be a finite number, got nan"):
        resolve(config)


@pytest.mark.parametrize(
    "change, key, message",
    [
        (lambda c: c["lidc"].update(patch_size=4000, volume_size=32), "lidc.patch_size", "do not fit"),
        (lambda c: c["lidc"].update(output_size=32), "lidc.output_size", "the networks take 64x64"),
        (lambda c: c["ham10000"].update(output_size=128), "ham10000.output_size", "the networks take 64x64"),
        (lambda c: c["train"].update(batch_size=100000), "train.batch_size", "greater than the maximum of 4096"),
        (lambda c: c["evaluate"].update(samples=10**9), "evaluate.samples", "greater than the maximum of 50000"),
        (lambda c: c["ham10000"].update(crop_fraction=0.95), "ham10000.crop_fraction", "larger than the image"),
    ],
)
def test_values_that_do_not_fit_together_are_refused(config, change, key, message):
    change(config)
    with pytest.raises(ConfigError, match=f"config key {key}: .*{message}"):
        resolve(config)


def test_every_error_is_reported_at_once(config):
    schema_bad = copy.deepcopy(config)
    schema_bad["lidc"].update(source="ftp")
    schema_bad["evaluate"].update(lr=float("nan"), samples="many")
    with pytest.raises(ConfigError) as raised:
        resolve(schema_bad)
    for key in ("lidc.source", "evaluate.lr", "evaluate.samples"):
        assert f"config key {key}:" in str(raised.value)
    config["lidc"].update(patch_size=4000, volume_size=32, output_size=32, patch_slices=2)
    with pytest.raises(ConfigError) as raised:
        resolve(config)
    for key in ("lidc.patch_size", "lidc.output_size", "lidc.patch_slices"):
        assert f"config key {key}:" in str(raised.value)


def command_line(config: dict, *assignments: str) -> dict:
    """``config`` as the workflow sees it after ``--config ASSIGNMENT ...`` (snakemake's own parsing)."""
    from snakemake.cli import parse_config
    from snakemake.utils import update_config

    update_config(config, parse_config(list(assignments)))
    return config


def test_config_on_the_command_line_sets_nested_numbers_and_booleans(config):
    config = command_line(
        config,
        "preset=ci",
        "train={steps: 5, lr: 1e-4, seeds: [0, 1], device: cpu}",
        "lidc={download: false, synthetic_cases: null, hu_window: [-900, 300]}",
        "evaluate={steps: {lidc: 3, ham10000: 4}}",
    )
    per_dataset = resolve(command_line(copy.deepcopy(config), "train={steps: {lidc: 2, ham10000: 6}}"))["train"]
    assert per_dataset["steps"] == {"lidc": 2, "ham10000": 6}
    assert config["train"]["steps"] == "5"  # what snakemake hands over
    resolved = resolve(config)
    assert resolved["train"]["steps"] == 5 and resolved["train"]["lr"] == 1e-4
    assert resolved["train"]["seeds"] == [0, 1] and resolved["train"]["device"] == "cpu"
    assert resolved["lidc"]["download"] is False and resolved["lidc"]["synthetic_cases"] is None
    assert resolved["lidc"]["hu_window"] == [-900, 300]
    assert resolved["evaluate"]["steps"] == {"lidc": 3, "ham10000": 4}


@pytest.mark.parametrize(
    "assignment, message",
    [
        (
            "train={steps: many}",
            "config key train.steps: 'many' is not valid under any of the given schemas: "
            "'many' is not of type 'integer'; 'many' is not of type 'object'",
        ),
        (
            "train={steps: true}",
            "config key train.steps: 'true' is not valid under any of the given schemas: "
            "'true' is not of type 'integer'",
        ),
        ("train={steps: {lidc: 10}}", "config key train.steps: no value for ham10000 (train.datasets)"),
        (
            "train={steps: {lidc: 10, mnist: 4}}",
            "config key train.steps: {'lidc': 10, 'mnist': 4} is not valid under any of the given "
            "schemas: {'lidc': 10, 'mnist': 4} is not of type 'integer'; 'mnist' is not one of ['lidc', 'ham10000']",
        ),
        ("lidc={download: 5}", "config key lidc.download: '5' is not of type 'boolean'"),
    ],
)
def test_config_on_the_command_line_still_refuses_wrong_values(config, assignment, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve(command_line(config, assignment))


@pytest.mark.parametrize(
    "sections, inner, outer",
    [
        # The default raw_dir, resources/ham10000/raw, inside the synthetic folder: a render would delete it.
        ({"ham10000": {"synthetic_dir": "resources/ham10000"}}, "ham10000.raw_dir", "ham10000.synthetic_dir"),
        # A raw_dir above the synthetic folder would read synthetic images as real.
        ({"ham10000": {"raw_dir": "resources"}}, "ham10000.synthetic_dir", "ham10000.raw_dir"),
        ({"ham10000": {"raw_dir": "/"}}, "ham10000.synthetic_dir", "ham10000.raw_dir"),
        ({"lidc": {"series_dir": "resources/synthetic/demo/lidc/LIDC-IDRI"}}, "lidc.series_dir", "lidc.synthetic_dir"),
        ({"lidc": {"synthetic_dir": "resources/lidc"}}, "lidc.series_dir", "lidc.synthetic_dir"),
        (
            {"lidc": {"synthetic_dir": "resources/synthetic/demo/ham10000/c"}},
            "lidc.synthetic_dir",
            "ham10000.synthetic_dir",
        ),
        (
            {"ham10000": {"medmnist_npz": "resources/synthetic/demo/ham10000/d"}},
            "ham10000.medmnist_npz",
            "ham10000.synth",
        ),
    ],
)
def test_data_folders_inside_one_another_are_refused_naming_both_keys(config, sections, inner, outer):
    for section, values in sections.items():
        config[section].update(values)
    with pytest.raises(ConfigError, match=f"config key {inner}: .* (lies inside|is the same path as) {outer}"):
        resolve(config)


def test_one_folder_for_two_kinds_of_data_is_refused(config):
    config["lidc"]["synthetic_dir"] = config["lidc"]["series_dir"]
    with pytest.raises(ConfigError, match="config key lidc.synthetic_dir: .* is the same path as lidc.series_dir"):
        resolve(config)


def test_sibling_folders_with_a_common_prefix_are_not_nested(config):
    config["preset"] = "ci"
    config["lidc"]["synthetic_dir"] = "resources/synthetic/ham10000-ci-lidc"  # a prefix of the name, not a parent
    assert resolve(config)["lidc"]["synthetic_dir"] == "resources/synthetic/ham10000-ci-lidc"


def test_paper_preset_takes_the_papers_kl_weight_and_crop(config):
    """Section III-G's "coefficient of 1 for all KL components" on the summed KL; Section III-A1's 48x48 patch
    of one size for every lesion. The demo keeps its measured reduction."""
    config["preset"] = "paper"
    paper = resolve(config)
    assert paper["train"]["kl_reduction"] == "sum" and paper["ham10000"]["crop"] == "fixed"
    config["preset"] = "demo"
    assert resolve(config)["train"]["kl_reduction"] == "mean"


def test_paper_preset_trains_the_lidc_evaluator_on_central_slices_and_the_models_on_every_slice(config):
    """docs/measurements.md: on every slice the evaluator learns the majority class the edge slices inflate."""
    config["preset"] = "paper"
    paper = resolve(config)
    assert paper["lidc"]["evaluator_slices"] == "central" and paper["lidc"]["patch_slices"] == "all"


# Keys whose value changes where data comes from, not what a run computes: no mark is asked of them.
FOLDERS = {"lidc": ("series_dir",), "ham10000": ("raw_dir", "medmnist_npz")}
PAPER_TABLE = "## The `paper` preset, key by key"


def marked_keys() -> dict[str, tuple[str, str]]:
    """config.yaml's marks: '<section>.<key>' -> (whose, text) for the top-level sections' keys and the
    ``paper`` preset's, from the comment block right above each key ("paper: ..." or "ours: ...")."""
    marks, stack, comments = {}, [], []
    for line in (ROOT / "config.yaml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(stripped.lstrip("#").strip())
            continue
        found = re.match(r"^( *)([A-Za-z_]\w*):(.*)$", line)
        if not found:
            comments = []
            continue
        depth = len(found.group(1)) // 2
        stack = stack[:depth] + [found.group(2)]
        text = " ".join(comments)
        comments = []
        leaf = found.group(3).split("#")[0].strip()
        if not leaf:
            continue
        path = stack[2:] if stack[:2] == ["presets", "paper"] else stack if stack[0] != "presets" else []
        mark = re.match(r"^(paper|ours): (.+)$", text)
        if len(path) == 2 and mark:
            marks[".".join(path)] = (mark.group(1), mark.group(2))
    return marks


def paper_table() -> dict[str, tuple[str, str, str]]:
    """docs/configuration.md's table of the paper preset: '<section>.<key>' -> (value, whose, text)."""
    readme = (ROOT / "docs" / "configuration.md").read_text()
    section = readme.split(PAPER_TABLE, 1)[1].split("\n#", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("| `") and len(cells) == 4:
            rows[cells[0].strip("`")] = (cells[1].strip("`"), cells[2], cells[3])
    return rows


def test_every_paper_value_is_marked_the_papers_or_ours(config):
    from drai.settings import transport_keys

    marks = marked_keys()
    config["preset"] = "paper"
    resolved = resolve(config)
    preset_keys = {f"{s}.{k}" for s, keys in config["presets"]["paper"].items() for k in keys}
    shared = {
        f"{s}.{k}"
        for s in ("lidc", "ham10000", "train", "evaluate")
        for k in config[s]
        if k not in transport_keys().get(s, ()) and k not in FOLDERS.get(s, ())
    }
    assert sorted((preset_keys | shared) - set(marks)) == []
    for key, (whose, text) in marks.items():
        section, name = key.split(".")
        assert name in resolved[section], key
        if whose == "paper":
            assert re.search(r'"[^"]+"', text), f"{key}: a 'paper' mark quotes the paper"


def test_the_documented_table_of_the_paper_preset_is_config_yaml(config):
    marks, table = marked_keys(), paper_table()
    config["preset"] = "paper"
    resolved = resolve(config)
    assert sorted(table) == sorted(marks)
    for key, (value, whose, text) in table.items():
        section, name = key.split(".")
        assert yaml.safe_load(value) == resolved[section][name], key
        assert whose == marks[key][0], key
        if whose == "paper":
            quote = re.search(r'"([^"]+)"', marks[key][1]).group(1)
            assert quote in text, f"{key}: docs/configuration.md gives the paper's words as config.yaml does"

from dataclasses import replace

import numpy as np
import pytest
import torch
import torchvision

from drai.data.lidc.labels import SIZE_BIN_LABELS
from drai.data.patchset import PatchSet
from drai.evaluation import evaluate_run, evaluation_data, pixel_matched_retrieval, retrieval_sets
from drai.metrics.cgacc import chance_accuracy
from drai.metrics.evaluator import (
    Evaluator,
    EvaluatorSettings,
    load_evaluator,
    save_evaluator,
    train_evaluator,
)
from drai.metrics.settings import EvaluationSettings, evaluation_settings, evaluator_settings
from toys import tiny_model, toy_patch_set

# The old dataclass defaults, spelled out: the settings have none; each test changes what it tests.
EVALUATOR = EvaluatorSettings(
    steps=200,
    batch_size=64,
    lr=1e-3,
    input_size=128,
    seed=0,
    weights=None,
    options={"evaluator_labels": "size", "evaluator_slices": "all"},
)
EVALUATION = EvaluationSettings(
    samples=5000, cifc_pairs=5000, retrieval_top_n=3, batch_size=250, seed=0, options={"evaluator_labels": "size"}
)


def toy_lidc(path, nodules=12, slices=(0,)):
    """A patch file in the LIDC layout: bright discs whose radius is the size bin."""
    rng = np.random.default_rng(0)
    rows = []
    for n in range(nodules):
        size_bin = n % 5
        for offset in slices:
            rows.append((n, size_bin, offset))
    yy, xx = np.mgrid[:64, :64]
    images, vectors, sizes, bins, malignancy, splits, curated, query, ids, offsets = ([] for _ in range(10))
    for n, size_bin, offset in rows:
        disc = ((yy - 32) ** 2 + (xx - 32) ** 2 <= (3 + 4 * size_bin) ** 2).astype(np.float32)
        images.append(np.clip(disc * 1.6 - 0.8 + rng.normal(0, 0.05, (64, 64)), -1, 1)[None].astype(np.float32))
        vector = np.zeros(17, np.float32)
        vector[12 + size_bin] = 1
        vector[n % 12] = 1
        vectors.append(vector)
        sizes.append(3.0 + 2 * size_bin)
        bins.append(size_bin)
        malign = [1.0, 2.0, 4.0, 5.0, 3.0][n % 5]
        malignancy.append(malign)
        splits.append("test" if n % 3 == 0 else "train")
        curated.append(malign != 3)
        query.append(malign == 3 and n % 3 == 0)
        ids.append(f"N{n}")
        offsets.append(offset)
    toy_patch_set(
        "lidc",
        images=np.stack(images),
        vectors=np.stack(vectors),
        sizes=np.array(sizes, np.float32),
        size_bins=np.array(bins),
        malignancy=np.array(malignancy, np.float32),
        splits=np.array(splits),
        curated=np.array(curated),
        query=np.array(query),
        nodule_ids=np.array(ids),
        slice_offsets=np.array(offsets),
    ).save(path)
    return path


def test_lidc_labels_size_or_malignancy(tmp_path):
    path = toy_lidc(tmp_path / "p.npz", nodules=30)
    size = evaluation_data(path, "lidc", {"evaluator_labels": "size"})
    assert size.class_names == SIZE_BIN_LABELS
    # Median malignancy 3 is not curated: it is in neither split.
    assert len(size.train.labels) + len(size.test.labels) == 24
    malignancy = evaluation_data(path, "lidc", {"evaluator_labels": "malignancy"})
    assert set(np.unique(malignancy.test.labels)) <= {0, 1} and malignancy.class_names == ("benign", "malignant")
    with pytest.raises(ValueError, match="lidc.evaluator_labels"):
        evaluation_data(path, "lidc", {"evaluator_labels": "colour"})


def test_lidc_evaluator_sees_every_slice_or_the_central_ones_and_the_models_every_slice(tmp_path):
    path = toy_lidc(tmp_path / "p.npz", nodules=30, slices=(-1, 0, 1))
    every = evaluation_data(path, "lidc", {"evaluator_labels": "size", "evaluator_slices": "all"})
    central = evaluation_data(path, "lidc", {"evaluator_labels": "size", "evaluator_slices": "central"})
    # the models' sets do not depend on the evaluator's slices
    for name in ("train", "test"):
        np.testing.assert_array_equal(getattr(every, name).labels, getattr(central, name).labels)
    assert len(central.test.labels) == 3 * len(central.evaluator_test.labels)
    assert len(every.evaluator_train.labels) == 3 * len(central.evaluator_train.labels)
    patches = PatchSet.load(path, "lidc")
    centre_rows = (patches["slice_offsets"] == 0) & patches["curated"] & patches.is_test
    np.testing.assert_array_equal(central.evaluator_test.images, patches.crops(centre_rows))
    assert "central slices" in central.evaluator_labels and "every slice" in every.evaluator_labels
    with pytest.raises(ValueError, match="lidc.evaluator_slices"):
        evaluation_data(path, "lidc", {"evaluator_labels": "size", "evaluator_slices": "edge"})


def test_ham10000_evaluator_sets_hold_seven_types_and_model_sets_the_modelled(tmp_path):
    from drai.data.crops import centre_crop

    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(7), 6)  # nv mel bkl (modelled), then four evaluator-only types
    splits = np.where(np.arange(42) < 28, "train", "test")
    augmented = np.zeros(42, bool)
    # Two flipped copies of training mel and bkl, as the balancing makes them.
    copies = np.flatnonzero((splits == "train") & np.isin(labels, [1, 2]))[:2]
    labels, splits = np.concatenate([labels, labels[copies]]), np.concatenate([splits, splits[copies]])
    augmented = np.concatenate([augmented, np.ones(2, bool)])
    images = rng.uniform(-1, 1, (len(labels), 3, 72, 72)).astype(np.float16)
    modelled = labels < 3
    vectors = np.eye(4, 3, dtype=np.float32)[np.minimum(labels, 3)]
    names = np.array(["nv", "mel", "bkl", "akiec", "bcc", "df", "vasc"])
    path = tmp_path / "ham.npz"
    toy_patch_set(
        "ham10000",
        images=images,
        labels=labels,
        vectors=vectors,
        splits=splits,
        augmented=augmented,
        modelled=modelled,
        class_names=names,
    ).save(path)
    data = evaluation_data(path, "ham10000")
    assert data.class_names == tuple(names)
    assert set(data.evaluator_train.labels) == set(range(7)) and set(data.evaluator_test.labels) == set(range(7))
    assert len(data.evaluator_train.labels) == 30 and len(data.evaluator_test.labels) == 14
    assert set(data.train.labels) == {0, 1, 2} and set(data.test.labels) == {0, 1, 2}
    assert len(data.test.labels) == 6  # modelled test items, no copies
    np.testing.assert_array_equal(data.test.vectors.argmax(1), data.test.labels)
    assert data.test.images.shape[1:] == (3, 64, 64)
    test_rows = np.flatnonzero(modelled & (splits == "test"))
    np.testing.assert_array_equal(data.test.images, centre_crop(images[test_rows]).astype(np.float32))


def test_retrieval_uses_central_slices_only(tmp_path):
    path = toy_lidc(tmp_path / "p.npz", nodules=30, slices=(-1, 0, 1))
    sets = retrieval_sets(path)
    assert len(sets["search_images"]) == 8 and len(sets["query_images"]) == 2
    # Queries are discs of size bin 4 (median malignancy 3: not curated); the two largest
    # search discs (bin 3) are both the pixel neighbours and the nearest in attributes.
    scores = pixel_matched_retrieval(path, top_n=2)
    assert scores["label_overlap_pct"] == 100.0
    assert scores["disagreement_divergence"] == pytest.approx((2 + 2 + 2.0**2) / 18)


def test_evaluator_learns_a_separable_toy_and_reports_it():
    rng = np.random.default_rng(0)
    labels = np.arange(48) % 2
    images = (labels[:, None, None, None] * 1.2 - 0.6 + rng.normal(0, 0.1, (48, 1, 64, 64))).astype(np.float32)
    model, report = train_evaluator(
        images[:32],
        labels[:32],
        images[32:],
        labels[32:],
        2,
        replace(EVALUATOR, steps=12, batch_size=16, input_size=64),
        progress=False,
    )
    assert report["test_accuracy"] == 1.0
    assert report["initialization"] == "random" and report["chance_accuracy"] == 0.5
    assert [h["step"] for h in report["history"]][-1] == 12


def test_evaluator_starts_from_a_local_imagenet_file(tmp_path):
    torch.manual_seed(1)
    reference = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True)
    torch.save(reference.state_dict(), tmp_path / "inception.pth")
    model = Evaluator(3, 64, imagenet_weights=tmp_path / "inception.pth")
    assert torch.equal(model.blocks[-1].branch3x3.conv.weight, reference.Mixed_6a.branch3x3.conv.weight)
    torch.save({"something": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="evaluate.weights"):
        Evaluator(3, 64, imagenet_weights=tmp_path / "other.pth")
    with pytest.raises(FileNotFoundError, match="evaluate.weights"):
        Evaluator(3, 64, imagenet_weights=tmp_path / "absent.pth")


@pytest.fixture(scope="module")
def toy_setting(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluation")
    patches = toy_lidc(folder / "p.npz", nodules=30, slices=(-1, 0, 1))
    torch.manual_seed(0)
    save_evaluator(Evaluator(5, 64), folder / "evaluator.pt")
    return patches, folder / "evaluator.pt", evaluation_data(patches, "lidc", {"evaluator_labels": "size"})


def test_run_metrics_do_not_depend_on_the_batch_size(toy_setting):
    patches, evaluator, data = toy_setting
    small = evaluate_run(
        tiny_model("DRAI"), data, evaluator, replace(EVALUATION, samples=40, cifc_pairs=20, batch_size=7), patches
    )
    large = evaluate_run(
        tiny_model("DRAI"), data, evaluator, replace(EVALUATION, samples=40, cifc_pairs=20, batch_size=64), patches
    )
    assert set(small) >= {
        "fid",
        "is",
        "kid",
        "precision",
        "recall",
        "cgacc",
        "cifc",
        "disagreement_divergence",
        "label_overlap_pct",
    }
    for key, value in small.items():
        assert value == pytest.approx(large[key], rel=1e-4, abs=1e-6), key


def test_cgacc_is_the_evaluators_accuracy_on_generated_images(toy_setting):
    patches, evaluator, data = toy_setting
    flat = load_evaluator(evaluator)
    torch.nn.init.zeros_(flat.fc.weight)
    with torch.no_grad():
        flat.fc.bias.copy_(torch.tensor([0.0, 0.0, 5.0, 0.0, 0.0]))  # always says class 2
    save_evaluator(flat, patches.parent / "class2.pt")
    metrics = evaluate_run(
        tiny_model("cInfoGAN"),
        data,
        patches.parent / "class2.pt",
        replace(EVALUATION, samples=200, cifc_pairs=4),
        patches,
    )
    picks = np.random.default_rng(0).integers(0, len(data.test.labels), 200)
    assert metrics["cgacc"] == pytest.approx(np.mean(data.test.labels[picks] == 2))
    # Images that all fall in one class follow no condition: their CGAcc is their chance level.
    assert 0 < metrics["cgacc"] < 1 and metrics["cgacc_chance"] == pytest.approx(metrics["cgacc"])
    assert metrics["cifc"] is None  # one-code model
    # Whatever items are drawn: all right when every test image is of class 2, all wrong when none is.
    for label, expected in ((2, 1.0), (0, 0.0)):
        relabelled = replace(data, test=replace(data.test, labels=np.full_like(data.test.labels, label)))
        assert (
            evaluate_run(
                tiny_model("cInfoGAN"),
                relabelled,
                patches.parent / "class2.pt",
                replace(EVALUATION, samples=50, cifc_pairs=4),
                patches,
            )["cgacc"]
            == expected
        )


def test_chance_accuracy_is_the_accuracy_against_shuffled_labels():
    labels = np.array([0, 0, 0, 1, 2, 2])
    # Each image in its own label's class: CGAcc 1, chance (3/6)^2 + (1/6)^2 + (2/6)^2.
    assert chance_accuracy(labels, labels) == pytest.approx(14 / 36)
    assert chance_accuracy(np.full(6, 1), labels) == pytest.approx(1 / 6)
    assert chance_accuracy(np.full(6, 3), labels) == 0.0  # a class no label has
    shuffles = np.random.default_rng(0).permuted(np.tile(labels, (20000, 1)), axis=1)
    assert np.mean(shuffles == labels) == pytest.approx(chance_accuracy(labels, labels), abs=0.01)


def test_settings_from_the_evaluate_section():
    section = {
        "steps": {"lidc": 240, "ham10000": 80},
        "batch_size": 64,
        "lr": 1e-3,
        "input_size": 64,
        "seed": 3,
        "weights": None,
        "samples": 500,
        "cifc_pairs": 50,
        "retrieval_top_n": 3,
        "batch_size_eval": 250,
        "imagenet_url": "https://example.org/inception-0cc3c7bd.pth",
    }
    config = {
        "evaluate": section,
        "lidc": {"evaluator_labels": "malignancy", "evaluator_slices": "central"},
        "ham10000": {},
    }
    assert evaluator_settings(config, "ham10000").steps == 80
    assert evaluator_settings({**config, "evaluate": {**section, "steps": 7}}, "lidc").steps == 7
    assert evaluator_settings(config, "lidc").seed == 3
    # The LIDC evaluator's options are LIDC's own: HAM10000's classifies lesion type, on every image.
    assert evaluator_settings(config, "lidc").options == {
        "evaluator_labels": "malignancy",
        "evaluator_slices": "central",
    }
    assert evaluator_settings(config, "ham10000").options == {}
    # The metrics need the classes, not the evaluator's images.
    assert evaluation_settings(config, "lidc") == EvaluationSettings(
        samples=500,
        cifc_pairs=50,
        retrieval_top_n=3,
        batch_size=250,
        seed=3,
        options={"evaluator_labels": "malignancy"},
    )


def test_imagenet_weights_are_fetched_checked_and_refused_offline(tmp_path):
    import hashlib
    import io
    import socket
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from drai.data.download import DownloadError
    from drai.metrics.evaluator import fetch_imagenet_weights
    from drai.metrics.settings import imagenet_weights_path, resolve_weights
    from fault_server import FaultyServer

    buffer = io.BytesIO()
    torch.save(torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(), buffer)
    payload = buffer.getvalue()
    name = f"inception_v3_google-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    with FaultyServer({f"/models/{name}": payload}, ["bad-checksum", "drop"]) as server:
        url = f"{server.base}/models/{name}"
        target = imagenet_weights_path(url, tmp_path / "weights")
        assert target.name == name
        fetch_imagenet_weights(url, target, retries=3, backoff_s=0.01, progress=False)
    assert target.read_bytes() == payload and not list(target.parent.glob("*.part"))
    Evaluator(3, 64, imagenet_weights=target)  # a usable torchvision state dict
    assert resolve_weights({"weights": "imagenet", "imagenet_url": url}) == str(imagenet_weights_path(url))
    assert resolve_weights({"weights": None, "imagenet_url": url}) is None
    settings = evaluator_settings(
        {
            "evaluate": {
                "weights": "imagenet",
                "imagenet_url": url,
                "steps": {"lidc": 3},
                "batch_size": 8,
                "lr": 1e-3,
                "input_size": 64,
                "seed": 0,
            },
            "lidc": {"evaluator_labels": "size", "evaluator_slices": "all"},
        },
        "lidc",
    )
    assert settings.weights == str(imagenet_weights_path(url)) and settings.steps == 3
    # Offline: nothing listens on the port.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    offline = tmp_path / "offline" / name
    with pytest.raises(DownloadError) as error:
        fetch_imagenet_weights(
            f"http://127.0.0.1:{port}/models/{name}", offline, retries=1, backoff_s=0.01, progress=False
        )
    message = str(error.value)
    assert "evaluate.weights" in message and "evaluate.imagenet_url" in message and "local" in message
    assert not offline.exists()
    with pytest.raises(ValueError, match="evaluate.imagenet_url"):
        imagenet_weights_path("https://example.org/weights.pth")


def with_noise_margin(source, path, margin=4, seed=5):
    """The same patch set stored with a margin of noise around every 64x64 image."""
    patches = PatchSet.load(source)
    images = patches.images
    padded = np.random.default_rng(seed).uniform(-1, 1, images.shape[:2] + (64 + 2 * margin,) * 2)
    padded = padded.astype(images.dtype)
    padded[..., margin:-margin, margin:-margin] = images
    replace(patches, images=padded).save(path)
    return path


def test_the_evaluation_sees_exactly_the_centre_crops(toy_setting, tmp_path):
    patches, evaluator, data = toy_setting
    wide = with_noise_margin(patches, tmp_path / "wide.npz")
    wide_data = evaluation_data(wide, "lidc", {"evaluator_labels": "size"})
    settings = replace(EVALUATION, samples=40, cifc_pairs=20)
    assert evaluate_run(tiny_model("DRAI"), wide_data, evaluator, settings, wide) == evaluate_run(
        tiny_model("DRAI"), data, evaluator, settings, patches
    )
    assert pixel_matched_retrieval(wide) == pixel_matched_retrieval(patches)
    assert np.array_equal(retrieval_sets(wide)["search_images"], retrieval_sets(patches)["search_images"])

"""Downstream use of generated images (not in the paper): CAS and real plus generated, on a toy task."""

import numpy as np
import pytest

from drai.evaluation import EvaluationData, LabelledSplit
from drai.metrics.downstream import (
    MIXES,
    build_classifier,
    conditions,
    downstream_of_run,
    fit_and_score,
    model_task,
    real_only,
)
from drai.metrics.settings import DownstreamSettings

SETTINGS = DownstreamSettings(classifier="small_cnn", steps=120, batch_size=32, lr=3e-3, options={})
CLASSES = ("small", "medium", "large")


def discs(labels: np.ndarray, seed: int) -> np.ndarray:
    """Gray 64x64 images of a bright disc whose radius is the class (4, 10 or 18 pixels), in noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:64, :64]
    images = []
    for label in labels:
        cy, cx = rng.integers(26, 38, 2)
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2 <= (4 + 7 * label) ** 2).astype(np.float32)
        images.append(np.clip(disc * 1.6 - 0.8 + rng.normal(0, 0.3, (64, 64)), -1, 1)[None])
    return np.stack(images).astype(np.float32)


def split(labels, seed) -> LabelledSplit:
    labels = np.asarray(labels)
    return LabelledSplit(discs(labels, seed), np.eye(3, dtype=np.float32)[labels], labels)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One thread: on a shared machine of two cores a second one makes these small steps slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def toy_data() -> EvaluationData:
    # An unbalanced training set (the real class mix is 6:3:1) and a balanced test set.
    train = split(np.repeat([0, 1, 2], [90, 45, 15]), 0)
    test = split(np.repeat([0, 1, 2], 30), 1)
    return EvaluationData("ham10000", CLASSES, train, test, "synthetic", train, test, "toy")


def copying_model(data: EvaluationData):
    """A "model" that answers each vector with a real training image of the same vector."""

    def generate(vectors, seed):
        rng = np.random.default_rng(seed)
        keys = [v.tobytes() for v in data.train.vectors]
        rows = [rng.choice([i for i, k in enumerate(keys) if k == v.tobytes()]) for v in vectors]
        return data.train.images[rows]

    return generate


def noise_model(vectors, seed):
    """A "model" that ignores its condition: noise images."""
    return np.tanh(np.random.default_rng(seed).normal(size=(len(vectors), 1, 64, 64))).astype(np.float32)


@pytest.fixture(scope="module")
def reference(toy_data):
    return real_only(toy_data, SETTINGS, seed=0)


def test_the_real_only_classifier_learns_the_toy_task(reference):
    assert reference["real_only"]["accuracy"] > 0.8 and reference["real_only"]["balanced_accuracy"] > 0.8
    assert reference["chance_balanced_accuracy"] == pytest.approx(1 / 3)
    assert reference["all_types"] is None  # the models generate every class the evaluator has


def test_a_model_that_copies_the_training_images_scores_as_real_only(toy_data, reference):
    result = downstream_of_run(copying_model(toy_data), toy_data, SETTINGS, seed=0)
    real = reference["real_only"]
    for mix in MIXES:
        for training_set in ("generated_only", "real_plus_generated"):
            scored = result[mix][training_set]
            assert scored["accuracy"] == pytest.approx(real["accuracy"], abs=0.1), (mix, training_set)
            assert scored["balanced_accuracy"] == pytest.approx(real["balanced_accuracy"], abs=0.1)
    # The real class mix copies the training set itself: the same images, the same classifier.
    assert result["real_mix"]["generated_only"]["train_images"] == len(toy_data.train.labels)


def test_a_noise_model_scores_chance_trained_on_its_images_alone(toy_data, reference):
    """Labels independent of the images teach nothing: chance, in expectation over the classifier's seeds.

    One classifier's predictions on the real images may still happen to follow the disc's size (its random
    features do), above or below chance: the mean over seeds and both mixes is what is chance.
    """
    task = model_task(toy_data)
    scores = []
    for seed in range(6):  # generated only, as downstream_of_run trains it, without the real + generated half
        for mix in MIXES:
            vectors, labels = conditions(task, mix, seed)
            scores.append(fit_and_score(task, noise_model(vectors, seed), labels, SETTINGS, seed)["balanced_accuracy"])
    assert np.mean(scores) == pytest.approx(1 / 3, abs=0.08)
    assert max(scores) < reference["real_only"]["balanced_accuracy"] - 0.3


def test_conditions_follow_the_real_class_mix_or_balance_the_classes(toy_data):
    task = model_task(toy_data)
    vectors, labels = conditions(task, "real_mix", seed=0)
    assert np.bincount(labels).tolist() == [90, 45, 15] and (vectors.argmax(1) == labels).all()
    vectors, labels = conditions(task, "balanced", seed=0)
    assert np.bincount(labels).tolist() == [50, 50, 50] and (vectors.argmax(1) == labels).all()
    with pytest.raises(ValueError, match="unknown condition mix"):
        conditions(task, "uniform", seed=0)


def test_ham10000s_unmodelled_types_are_a_real_only_row_of_their_own(toy_data):
    """The evaluator's sets hold a fourth class that no model generates: scored apart, real only."""
    extra_train, extra_test = split(np.repeat([0, 1, 2], 20), 2), split(np.repeat([0, 1, 2], 10), 3)
    evaluator_train = LabelledSplit(
        np.concatenate([toy_data.train.images, extra_train.images]),
        np.concatenate([toy_data.train.vectors, np.zeros_like(extra_train.vectors)]),
        np.concatenate([toy_data.train.labels, np.full(60, 3)]),
    )
    evaluator_test = LabelledSplit(
        np.concatenate([toy_data.test.images, extra_test.images]),
        np.concatenate([toy_data.test.vectors, np.zeros_like(extra_test.vectors)]),
        np.concatenate([toy_data.test.labels, np.full(30, 3)]),
    )
    data = EvaluationData(
        "ham10000",
        (*CLASSES, "other"),
        toy_data.train,
        toy_data.test,
        "synthetic",
        evaluator_train,
        evaluator_test,
        "t",
    )
    result = real_only(data, SETTINGS, seed=0)
    assert result["class_names"] == list(CLASSES)
    assert result["all_types"]["class_names"] == [*CLASSES, "other"] and result["all_types"]["test_images"] == 120


@pytest.mark.parametrize("name, channels", [("small_cnn", 1), ("resnet18", 3), ("resnet18", 1)])
def test_classifiers_take_the_images_channels_and_give_one_logit_per_class(name, channels):
    import torch

    model = build_classifier(name, channels, 5).eval()
    assert model(torch.zeros(2, channels, 64, 64)).shape == (2, 5)
    with pytest.raises(ValueError, match="downstream.classifier"):
        build_classifier("vgg", channels, 5)


def test_the_downstream_table_ranks_cas_against_fid_and_the_figure_draws_it(tmp_path):
    from drai.downstream import cas_fid_figure, downstream_table

    context = {"class_names": ["nv", "mel", "bkl"], "test_images": 90, "majority_accuracy": 0.5}
    context.update(chance_balanced_accuracy=1 / 3, settings={"classifier": "small_cnn", "steps": 9, "batch_size": 4})

    def scores(accuracy):
        return {"accuracy": accuracy, "balanced_accuracy": accuracy - 0.1}

    real = [{**context, "dataset": "ham10000", "seed": s, "real_only": scores(0.9), "all_types": None} for s in (0, 1)]
    real[0]["all_types"] = {**scores(0.8), "class_names": ["nv", "mel", "bkl", "bcc"], "test_images": 120}
    runs, metrics = [], []
    for variant, cas, fid in (("DRAI", 0.8, 0.1), ("DAI", 0.6, 0.2), ("cVAE", 0.4, 0.5), ("cInfoGAN", 0.5, 0.3)):
        for seed in (0, 1):
            mixes = {m: {"generated_only": scores(cas), "real_plus_generated": scores(0.9)} for m in MIXES}
            runs.append({**context, "dataset": "ham10000", "variant": variant, "seed": seed, **mixes})
            metrics.append({"dataset": "ham10000", "variant": variant, "seed": seed, "metrics": {"fid_logits": fid}})
    frame, caption = downstream_table("ham10000", real, runs, metrics, ["DRAI", "DAI", "cVAE", "cInfoGAN", "D-cVAE"])
    assert caption.startswith("Not in the paper.") and "small_cnn, 9 steps of 4" in caption
    assert list(frame["training set"][:4]) == [
        "real only (the reference)",
        "real only, all 4 types (another task, apart)",
        "DRAI: generated only (CAS)",
        "DRAI: real + generated",
    ]
    assert len(frame) == 2 + 2 * 4  # D-cVAE was not run
    drai = frame.iloc[2]
    assert drai["accuracy, real class mix"] == "0.800 ± 0.000" and drai["balanced accuracy, balanced classes"] == (
        "0.700 ± 0.000"
    )
    assert drai["FID (logits)"] == "0.100 ± 0.000" and frame.iloc[0]["FID (logits)"] == "—"
    assert "No model generates bcc" in caption
    # The lower the FID, the higher the CAS, model for model: the rankings agree.
    assert "Spearman's rho of CAS (accuracy, real class mix) against -FID (logits) over 4 models = 1.00" in caption
    panels = {"ham10000": {"runs": runs, "metrics": metrics, "real": real, "variants": ["DRAI", "DAI", "cVAE"]}}
    cas_fid_figure(panels, tmp_path / "cas.png")
    assert (tmp_path / "cas.png").stat().st_size > 1000


def test_a_class_of_the_test_items_alone_stays_in_the_task_and_out_of_the_balanced_conditions(toy_data):
    """Tiny data sets: the large class has test items but no training item."""
    keep = toy_data.train.labels < 2
    train = LabelledSplit(toy_data.train.images[keep], toy_data.train.vectors[keep], toy_data.train.labels[keep])
    data = EvaluationData("lidc", CLASSES, train, toy_data.test, "synthetic", train, toy_data.test, "toy")
    task = model_task(data)
    assert task.class_names == CLASSES and len(task.test_labels) == 90
    _, labels = conditions(task, "balanced", seed=0)
    assert np.bincount(labels, minlength=3).tolist() == [68, 67, 0]
    result = real_only(data, SETTINGS, seed=0)
    assert result["all_types"] is None and result["real_only"]["recall"][2] == 0.0

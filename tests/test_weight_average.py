"""Weight averaging (docs/models.md, "Weight averaging"): the trained model is the mean of the window's weights,
a stopped run resumes to the same mean, and without a window runs describe themselves as before."""

from dataclasses import replace

import pytest
import torch

from drai.checkpoints import load_checkpoint, load_model, run_meta
from drai.train.run import train
from toys import fake_data, tiny_settings

# Averages the weights after steps 3, 5 and 7.
SETTINGS = tiny_settings(steps=7, seed=1, average_window=4, average_every=2)


def weights_at_each_step(tmp_path, settings, variant="DRAI"):
    """Train with a checkpoint every step; returns model.pt's weights and the weights after each step."""
    images, vectors = fake_data(1, 17, size=72)
    run_dir = tmp_path / "run"
    seen = {}

    def keep(step):
        seen[step] = load_checkpoint(run_dir / "checkpoint.pt")["model"]

    path = train(images, vectors, variant, run_dir, settings, device="cpu", progress=False, after_step=keep)
    return load_checkpoint(path)["model"], seen


@pytest.mark.parametrize("variant", ["DRAI", "cVAE"])  # trained twice per batch, and once
def test_the_trained_model_is_the_mean_of_the_weights_in_the_window(tmp_path, variant):
    final, seen = weights_at_each_step(tmp_path, SETTINGS, variant)
    assert SETTINGS.averaged_steps() == [3, 5, 7]
    for name, value in final.items():
        if value.is_floating_point():
            expected = (seen[3][name] + seen[5][name] + seen[7][name]) / 3
            assert torch.allclose(value, expected, rtol=0, atol=1e-6), name
        else:  # batch counts: the last step's
            assert torch.equal(value, seen[7][name]), name
    moved = [
        name for name, value in final.items() if value.is_floating_point() and not torch.equal(value, seen[7][name])
    ]
    assert moved, "the trained model is the last step's"


def test_without_a_window_the_trained_model_is_the_last_steps(tmp_path):
    final, seen = weights_at_each_step(tmp_path, replace(SETTINGS, average_window=0))
    assert all(torch.equal(final[name], seen[7][name]) for name in final)


def test_a_run_stopped_inside_the_window_resumes_to_the_same_mean(tmp_path):
    images, vectors = fake_data(1, 17, size=72)
    settings = replace(SETTINGS, checkpoint_every=2)
    whole = train(images, vectors, "DRAI", tmp_path / "whole", settings, device="cpu", progress=False)
    # Stopped after step 4: its checkpoint holds the sum of step 3's weights only.
    stopped = train(images, vectors, "DRAI", tmp_path / "parts", settings, device="cpu", progress=False, stop_after=4)
    assert load_checkpoint(stopped)["average"]["count"] == 1
    resumed = train(images, vectors, "DRAI", tmp_path / "parts", settings, device="cpu", progress=False)
    a, b = load_checkpoint(whole)["model"], load_checkpoint(resumed)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_run_describes_its_window_and_without_one_describes_itself_as_before(tmp_path):
    # model.pt files written before averaging existed hold neither key: a run without a window is alike.
    plain = run_meta("DRAI", 1, 17, replace(SETTINGS, average_window=0, average_every=10))["settings"]
    assert "average_window" not in plain and "average_every" not in plain
    averaged = run_meta("DRAI", 1, 17, SETTINGS)["settings"]
    assert (averaged["average_window"], averaged["average_every"]) == (4, 2)
    images, vectors = fake_data(1, 17, size=72)
    path = train(images, vectors, "DRAI", tmp_path, SETTINGS, device="cpu", progress=False)
    assert load_checkpoint(path)["meta"]["settings"] == averaged
    assert isinstance(load_model(path), torch.nn.Module)


@pytest.mark.parametrize(
    ("window", "every", "message"),
    [
        (5, 2, r"train.average_window \(5\) must be a multiple of train.average_every \(2\)"),
        (7, 1, r"train.average_window \(7\) must be below train.steps \(7\)"),
    ],
)
def test_a_window_that_cannot_end_at_the_last_step_is_refused(window, every, message):
    with pytest.raises(ValueError, match=message):
        replace(SETTINGS, average_window=window, average_every=every)

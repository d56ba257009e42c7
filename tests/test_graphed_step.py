"""``train.cuda_graph``: the training step captured once as a CUDA graph and replayed.

On the CPU: the step the graph captures (batch gathered, cropped and transformed from the static
inputs the host's draws are copied into) trains exactly as the eager loop does, and the setting
is refused where there is no CUDA device. On a GPU (skipped without one): graphed training draws
what eager training draws and follows its losses, and a graphed run resumes on its own.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from drai.checkpoints import load_checkpoint
from drai.models.variants import get_variant, loss_terms
from drai.train.graphed import GraphedStep
from drai.train.run import LossReadback, build, train
from drai.train.step import draw_batch
from toys import fake_data, tiny_settings

SETTINGS = tiny_settings(steps=4, checkpoint_every=2, seed=3)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("variant", ["DRAI", "cVAE"])  # trained twice per batch (a transform), and once
def test_the_captured_step_trains_as_the_eager_loop(tmp_path, variant):
    images, vectors = fake_data(1, 17, size=72)
    eager = train(images, vectors, variant, tmp_path, SETTINGS, device="cpu", progress=False)
    # The step the graph holds, run without a graph on the CPU, fed the draws of the run's rng.
    torch.manual_seed(SETTINGS.seed)
    model, opt_g, opt_d = build(variant, 1, 17, SETTINGS)
    model.train()
    noise = torch.Generator().manual_seed(SETTINGS.seed)
    rng = np.random.default_rng(SETTINGS.seed)
    twice = get_variant(variant).trains_twice
    x_all, t_all = torch.from_numpy(images), torch.from_numpy(vectors)
    step = GraphedStep(model, opt_g, opt_d, x_all, t_all, SETTINGS, twice, noise, capture=False)
    readback = LossReadback(variant, loss_terms(get_variant(variant)), tmp_path / "none.pt")
    for number in range(1, SETTINGS.steps + 1):
        readback.add(number, *step(*draw_batch(rng, SETTINGS, len(images), 72, twice)))
    history = pd.read_csv(tmp_path / "losses.csv", float_precision="round_trip")
    assert pd.DataFrame(readback.rows()).equals(history)
    weights = load_checkpoint(eager)["model"]
    assert all(torch.equal(weights[name], value) for name, value in model.state_dict().items())
    assert torch.equal(noise.get_state(), load_checkpoint(tmp_path / "checkpoint.pt")["noise"])


def test_cuda_graph_without_a_cuda_device_is_refused_naming_the_key(tmp_path):
    images, vectors = fake_data(1, 17, size=72)
    with pytest.raises(ValueError, match=r"train.cuda_graph: true needs a CUDA device, and this run's device is cpu"):
        train(images, vectors, "DAI", tmp_path / "run", replace(SETTINGS, cuda_graph=True), device="cpu")
    assert not (tmp_path / "run").exists()  # nothing written
    with pytest.raises(ValueError, match="train.compile_mode must be eager with it, not 'reduce-overhead'"):
        settings = replace(SETTINGS, cuda_graph=True, compile_mode="reduce-overhead")
        train(images, vectors, "DAI", tmp_path / "run", settings, device="cuda")
    assert not (tmp_path / "run").exists()


def test_the_adam_of_a_graphed_run_keeps_its_step_count_on_the_device():
    _, opt_g, opt_d = build("DAI", 1, 17, replace(SETTINGS, cuda_graph=True, fused_adam=True))
    assert opt_g.defaults["capturable"] and opt_d.defaults["capturable"]
    _, opt_g, _ = build("DAI", 1, 17, SETTINGS)
    assert not opt_g.defaults["capturable"]


GPU = replace(SETTINGS, steps=6, checkpoint_every=3, fused_adam=True, loss_readback_every=3)


def losses_and_noise(run_dir):
    """A finished run's losses.csv and its last checkpoint's generator state."""
    return pd.read_csv(run_dir / "losses.csv"), load_checkpoint(run_dir / "checkpoint.pt")["noise"]


@needs_cuda
@pytest.mark.parametrize("variant", ["DRAI", "cVAE"])
def test_graphed_training_draws_what_eager_training_draws_and_follows_its_losses(tmp_path, variant):
    images, vectors = fake_data(1, 17, size=72)
    for graphed in (False, True):
        settings = replace(GPU, cuda_graph=graphed)
        train(images, vectors, variant, tmp_path / str(graphed), settings, device="cuda", progress=False)
    (eager, eager_noise), (graphed, noise) = losses_and_noise(tmp_path / "False"), losses_and_noise(tmp_path / "True")
    # Each replay advanced the run's generator as the eager step's draws do: the same draws, step after step.
    assert torch.equal(noise, eager_noise)
    # Step 1 runs eagerly (the warm-up), the others are replays: the same step, to the GPU's rounding.
    assert list(graphed.columns) == list(eager.columns) and len(graphed) == GPU.steps
    np.testing.assert_allclose(graphed.to_numpy(), eager.to_numpy(), rtol=2e-2, atol=2e-3)


@needs_cuda
def test_a_graphed_run_resumes_with_the_generator_state_its_graph_draws_from(tmp_path):
    images, vectors = fake_data(1, 17, size=72)
    settings = replace(GPU, cuda_graph=True)
    train(images, vectors, "DRAI", tmp_path / "whole", settings, device="cuda", progress=False)
    stopped = train(images, vectors, "DRAI", tmp_path / "parts", settings, device="cuda", progress=False, stop_after=4)
    assert load_checkpoint(stopped)["step"] == 3
    train(images, vectors, "DRAI", tmp_path / "parts", settings, device="cuda", progress=False)
    (whole, whole_noise), (resumed, noise) = losses_and_noise(tmp_path / "whole"), losses_and_noise(tmp_path / "parts")
    assert torch.equal(noise, whole_noise)
    assert resumed["step"].tolist() == list(range(1, GPU.steps + 1))
    np.testing.assert_allclose(resumed.to_numpy(), whole.to_numpy(), rtol=2e-2, atol=2e-3)

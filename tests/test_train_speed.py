"""The speed settings of training (docs/gpu.md) on the CPU.

At their eager values they must train exactly as before; reading the losses
back every N steps must give the same weights, losses.csv and resume.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

import drai.train.run
from drai.checkpoints import EAGER_SPEED_SETTINGS, load_checkpoint, load_model, run_meta
from drai.train.run import NonFiniteLoss, train
from toys import fake_data, tiny_settings

SETTINGS = tiny_settings(steps=7, checkpoint_every=4, seed=2)


def same_weights(a, b) -> bool:
    a, b = load_checkpoint(a)["model"], load_checkpoint(b)["model"]
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("variant", ["DRAI", "cVAE"])  # trained twice per batch, and once
def test_losses_read_back_every_n_steps_train_bit_identically(tmp_path, variant):
    images, vectors = fake_data(1, 17, size=72)
    eager = train(images, vectors, variant, tmp_path / "eager", SETTINGS, device="cpu", progress=False)
    batched = train(
        images,
        vectors,
        variant,
        tmp_path / "batched",
        replace(SETTINGS, loss_readback_every=3),
        device="cpu",
        progress=False,
    )
    assert same_weights(eager, batched)
    assert (tmp_path / "eager" / "losses.csv").read_bytes() == (tmp_path / "batched" / "losses.csv").read_bytes()


def test_a_run_reading_losses_back_every_n_steps_resumes_bit_identically(tmp_path):
    images, vectors = fake_data(3, 3, size=72)
    settings = replace(SETTINGS, loss_readback_every=5, checkpoint_every=3, steps=8)
    whole = train(images, vectors, "DAI+twice", tmp_path / "whole", settings, device="cpu", progress=False)
    stopped = train(
        images, vectors, "DAI+twice", tmp_path / "parts", settings, device="cpu", progress=False, stop_after=5
    )
    assert load_checkpoint(stopped)["step"] == 3 and len(load_checkpoint(stopped)["history"]) == 3
    resumed = train(images, vectors, "DAI+twice", tmp_path / "parts", settings, device="cpu", progress=False)
    assert same_weights(whole, resumed)
    history = pd.read_csv(tmp_path / "parts" / "losses.csv")
    assert history["step"].tolist() == list(range(1, 9))
    assert history.equals(pd.read_csv(tmp_path / "whole" / "losses.csv"))


def test_eager_speed_settings_leave_the_run_description_as_before(tmp_path):
    # Checkpoints and model.pt files written before the settings existed hold none of them, so a run
    # at the eager values describes itself alike: it resumes from them, and they still load.
    described = run_meta("DAI", 1, 17, SETTINGS)["settings"]
    assert not set(described) & set(EAGER_SPEED_SETTINGS)
    faster = run_meta("DAI", 1, 17, replace(SETTINGS, loss_readback_every=10, fused_adam=True))["settings"]
    assert (faster["loss_readback_every"], faster["fused_adam"]) == (10, True) and "compile_mode" not in faster
    images, vectors = fake_data(1, 17, size=72)
    path = train(images, vectors, "DAI", tmp_path, replace(SETTINGS, steps=2), device="cpu", progress=False)
    state = load_checkpoint(path)
    assert state["meta"]["settings"] == {**described, "steps": 2}
    assert isinstance(load_model(path), torch.nn.Module)


def test_a_nan_found_at_readback_names_its_step_and_no_checkpoint_holds_it(tmp_path, monkeypatch):
    images, vectors = fake_data(1, 17, size=72)
    real_step = drai.train.run.train_step
    calls = []

    def nan_from_step_6(*args, **kwargs):
        values = real_step(*args, **kwargs)
        calls.append(1)
        if len(calls) >= 6:
            values["g/kl_z"] = values["g/kl_z"] * float("nan")
        return values

    monkeypatch.setattr(drai.train.run, "train_step", nan_from_step_6)
    settings = replace(SETTINGS, steps=12, checkpoint_every=5, loss_readback_every=3)
    with pytest.raises(
        NonFiniteLoss,
        match=r"DAI: loss term g/kl_z is nan at step 6; the last good checkpoint is "
        r".*checkpoint\.pt",
    ):
        train(images, vectors, "DAI", tmp_path, settings, device="cpu", progress=False)
    # Read back at step 8 (three steps pending), found at step 6; the checkpoint is step 5's.
    assert len(calls) == 8
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 5
    assert not (tmp_path / "model.pt").exists()


def test_fused_adam_trains_as_the_loop_does_within_rounding(tmp_path):
    images, vectors = fake_data(1, 17, size=72)
    settings = replace(SETTINGS, steps=3)
    model, opt_g, _ = drai.train.run.build("DAI", 1, 17, replace(settings, fused_adam=True))
    assert opt_g.defaults["fused"] is True
    loop = train(images, vectors, "DAI", tmp_path / "loop", settings, device="cpu", progress=False)
    fused = train(
        images, vectors, "DAI", tmp_path / "fused", replace(settings, fused_adam=True), device="cpu", progress=False
    )
    a, b = load_checkpoint(loop)["model"], load_checkpoint(fused)["model"]
    # Same update, other rounding. Adam scales each step to about lr whatever the gradient's size, so a
    # parameter whose gradient is rounding noise (a bias before batch norm) may move apart by up to
    # 2 x steps x lr; almost every weight agrees to float32 rounding.
    differences = torch.cat([(a[k].float() - b[k].float()).abs().flatten() for k in a])
    assert differences.max() <= 2 * settings.steps * settings.lr
    assert differences.median() < 1e-6


def test_compile_mode_reaches_torch_compile_and_the_captured_step_trains_as_the_eager_one(tmp_path, monkeypatch):
    # Inductor's code generation takes minutes on a small CPU: the graph torch captures runs on
    # torch's "eager" backend here, which must compute exactly what the plain step does.
    modes = []
    real_compile = torch.compile

    def eager_backend_compile(function, mode=None, **kwargs):
        modes.append(mode)
        return real_compile(function, backend="eager", **kwargs)

    monkeypatch.setattr(torch, "compile", eager_backend_compile)
    images, vectors = fake_data(1, 17, size=72)
    settings = replace(SETTINGS, steps=3)
    eager = train(images, vectors, "DRAI", tmp_path / "eager", settings, device="cpu", progress=False)
    assert modes == []
    compiled = train(
        images,
        vectors,
        "DRAI",
        tmp_path / "compiled",
        replace(settings, compile_mode="max-autotune"),
        device="cpu",
        progress=False,
    )
    assert modes == ["max-autotune"]
    assert same_weights(eager, compiled)
    assert pd.read_csv(tmp_path / "eager" / "losses.csv").equals(pd.read_csv(tmp_path / "compiled" / "losses.csv"))


def test_each_compiled_pass_begins_a_new_cuda_graph_step(tmp_path, monkeypatch):
    # CUDA graphs reuse their outputs' memory at the next replay; a twice-trained step replays
    # the compiled losses twice, so each pass must begin a new step (harmless off the GPU).
    marks = []
    real_compile = torch.compile
    monkeypatch.setattr(
        torch, "compile", lambda function, mode=None, **kw: real_compile(function, backend="eager", **kw)
    )
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(1))
    images, vectors = fake_data(1, 17, size=72)
    settings = replace(SETTINGS, steps=2)
    train(images, vectors, "DRAI", tmp_path / "eager", settings, device="cpu", progress=False)
    assert marks == []
    train(
        images,
        vectors,
        "DRAI",
        tmp_path / "compiled",
        replace(settings, compile_mode="reduce-overhead"),
        device="cpu",
        progress=False,
    )
    assert len(marks) == 2 * 2  # DRAI trains each batch twice (selfReg)


SHARING_RUN = """
import sys
import numpy as np
from drai.devices import claim_device
from drai.train.run import train
from drai.train.settings import TrainSettings

lock_dir, data, run_dir, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with np.load(data) as arrays:
    images, vectors = arrays["images"], arrays["vectors"]
with claim_device("auto", lock_dir, device_count=2, slots=2) as device:
    print(device, flush=True)
    sys.stdin.readline()  # go on once both runs hold their slot
    settings = TrainSettings(steps=5, batch_size=4, width=4, z_dim=4, c_dim=4, checkpoint_every=2, seed=seed,
                             average_window=0, average_every=1, augment=False, lr=2e-4, beta1=0.5,
                             kl_reduction="mean", loss_readback_every=1,
                             fused_adam=False, compile_mode="eager", cuda_graph=False)
    # No GPU here: the claimed cuda:0 stands for the device both runs share; they train on the CPU.
    train(images, vectors, "DAI", run_dir, settings, device="cpu", progress=False, stop_after=3)
"""


def test_two_runs_share_one_gpu_through_its_slots_and_each_resumes_on_its_own(tmp_path):
    import fcntl
    import os
    import subprocess
    import sys

    images, vectors = fake_data(1, 17, size=72)
    np.savez(tmp_path / "data.npz", images=images, vectors=vectors)
    locks = tmp_path / "locks"
    locks.mkdir()
    held = []
    for name in ("gpu-1.lock", "gpu-1.slot-1.lock"):  # another job holds both slots of cuda:1
        held.append(os.open(locks / name, os.O_RDONLY | os.O_CREAT))
        fcntl.flock(held[-1], fcntl.LOCK_EX | fcntl.LOCK_NB)
    runs = {seed: tmp_path / f"seed{seed}" for seed in (0, 1)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", SHARING_RUN, str(locks), str(tmp_path / "data.npz"), str(run), str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed, run in runs.items()
    ]
    try:
        devices = [child.stdout.readline().strip() for child in children]  # both hold a slot now
        assert devices == ["cuda:0", "cuda:0"]
        for child in children:  # both train at once
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            child.communicate(timeout=300)
            assert child.returncode == 0
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
        for fd in held:
            os.close(fd)
    settings = replace(SETTINGS, steps=5, checkpoint_every=2, augment=False)  # what SHARING_RUN trains
    finals = {}
    for seed, run in runs.items():
        assert load_checkpoint(run / "checkpoint.pt")["step"] == 2 and not (run / "model.pt").exists()
        resumed = train(images, vectors, "DAI", run, replace(settings, seed=seed), device="cpu", progress=False)
        whole = train(
            images,
            vectors,
            "DAI",
            tmp_path / f"whole{seed}",
            replace(settings, seed=seed),
            device="cpu",
            progress=False,
        )
        assert same_weights(resumed, whole)
        finals[seed] = load_checkpoint(resumed)["model"]
    assert not all(torch.equal(finals[0][k], finals[1][k]) for k in finals[0])  # two runs, not one


@pytest.mark.parametrize("preset", ["demo", "ci"])
def test_demo_and_ci_train_as_plain_eager_code(preset):
    from pathlib import Path

    import yaml

    from drai.config import resolve

    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yaml").read_text())
    config["preset"] = preset
    from drai.train.settings import train_settings

    resolved = resolve(config)["train"]
    assert {k: resolved[k] for k in EAGER_SPEED_SETTINGS} == EAGER_SPEED_SETTINGS
    assert resolved["runs_per_gpu"] == 1
    settings = train_settings(resolve(config), "lidc", seed=0)
    assert {k: getattr(settings, k) for k in EAGER_SPEED_SETTINGS} == EAGER_SPEED_SETTINGS


def test_bad_speed_settings_are_named():
    from pathlib import Path

    import yaml

    from drai.config import ConfigError, resolve

    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yaml").read_text())
    config["train"].update(runs_per_gpu=0, compile_mode="fast", loss_readback_every=0)
    with pytest.raises(ConfigError) as raised:
        resolve(config)
    assert "config key train.runs_per_gpu: 0 is less than the minimum of 1" in str(raised.value)
    assert "config key train.loss_readback_every: 0 is less than the minimum of 1" in str(raised.value)
    assert "config key train.compile_mode: 'fast' is not one of ['eager', 'default'" in str(raised.value)

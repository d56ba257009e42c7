"""Checkpoints on a full disk and checkpoints of a step the run never reaches."""

import errno
from pathlib import Path

import pytest
import torch

import drai.checkpoints as checkpoints
from drai.checkpoints import load_checkpoint, save_checkpoint
from drai.train.run import train
from toys import fake_data, tiny_settings

# Averages the weights of both steps: on the old code a checkpoint past them ended in "weight average of 0 steps".
TINY = tiny_settings(average_window=1, augment=False)


def _full_disk_from_torch(monkeypatch):
    """torch.save writes part of the file, then the disk is full."""

    def save(state, target):
        with open(target, "wb") if isinstance(target, (str, Path)) else target as handle:
            handle.write(b"PK\x03\x04 part of a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints.torch, "save", save)


def _full_disk_from_the_kernel(monkeypatch):
    """Every byte torch writes goes to /dev/full, whose writes fail with ENOSPC."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    monkeypatch.setattr(checkpoints, "open", lambda path, mode: open("/dev/full", mode), raising=False)


@pytest.mark.parametrize("fill", [_full_disk_from_torch, _full_disk_from_the_kernel], ids=["torch", "kernel"])
def test_a_full_disk_is_named_and_the_previous_checkpoint_kept(tmp_path, monkeypatch, fill):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(3)}, "meta": {}, "step": 1})
    before = path.read_bytes()
    fill(monkeypatch)
    with pytest.raises(OSError, match=rf"{path}: disk full \(No space left on device\): not written; the previous"):
        save_checkpoint(path, {"model": {"w": torch.zeros(3)}, "meta": {}, "step": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before and load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary file left


def test_a_checkpoint_past_the_runs_steps_is_set_aside_and_the_run_starts_afresh(tmp_path, caplog):
    images, vectors = fake_data(1, 17, n=8)
    run = tmp_path / "run"
    train(images, vectors, "DAI", run, TINY, device="cpu", progress=False)
    checkpoint = run / "checkpoint.pt"
    state = load_checkpoint(checkpoint)
    save_checkpoint(checkpoint, {**state, "step": 5})  # the run's own settings, a step it never reaches
    (run / "model.pt").unlink()
    with caplog.at_level("WARNING", logger="drai.train.run"):
        model = train(images, vectors, "DAI", run, TINY, device="cpu", progress=False)
    assert f"{checkpoint}: holds step 5, outside this run's train.steps of 2" in caplog.text
    aside = list(run.glob("checkpoint.pt.unreadable-*"))
    assert len(aside) == 1 and load_checkpoint(aside[0])["step"] == 5
    fresh = train(images, vectors, "DAI", tmp_path / "fresh", TINY, device="cpu", progress=False)
    a, b = load_checkpoint(model)["model"], load_checkpoint(fresh)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)

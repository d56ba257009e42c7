"""GPU choice for several GPU jobs on one machine, without a GPU: the device count is injected."""

import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml

from drai.config import resolve
from drai.devices import DeviceError, claim_device, cuda_device_count, pick_device


@pytest.fixture(autouse=True)
def no_visible_devices_variable(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.mark.parametrize("requested", ["cpu", "cuda:1"])
def test_explicit_devices_pass_through(tmp_path, requested):
    with claim_device(requested, tmp_path, device_count=4) as device:
        assert device == requested
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("count", [0, 1])
@pytest.mark.parametrize("requested", ["auto", "cuda"])
def test_one_gpu_or_none_is_left_alone(tmp_path, requested, count):
    # None visible, or a scheduler already narrowed CUDA_VISIBLE_DEVICES to one.
    with claim_device(requested, tmp_path, device_count=count) as device:
        assert device == requested
    assert list(tmp_path.iterdir()) == []


def test_concurrent_jobs_get_different_gpus_and_free_them(tmp_path):
    with ExitStack() as stack:
        held = [stack.enter_context(claim_device("auto", tmp_path, device_count=3)) for _ in range(3)]
        assert held == ["cuda:0", "cuda:1", "cuda:2"]
    with claim_device("cuda", tmp_path, device_count=3) as first:
        with claim_device("auto", tmp_path, device_count=3) as second:
            assert (first, second) == ("cuda:0", "cuda:1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu-0.lock", "gpu-1.lock", "gpu-2.lock"]


def test_a_freed_gpu_is_reused(tmp_path):
    with claim_device("auto", tmp_path, device_count=2) as first:
        with claim_device("auto", tmp_path, device_count=2) as second:
            assert (first, second) == ("cuda:0", "cuda:1")
        with claim_device("auto", tmp_path, device_count=2) as third:
            assert third == "cuda:1"


def test_waits_while_every_gpu_is_taken(tmp_path):
    got = []
    with ExitStack() as stack:
        for _ in range(2):
            stack.enter_context(claim_device("auto", tmp_path, device_count=2))

        def job():
            with claim_device("auto", tmp_path, device_count=2, poll_s=0.02) as device:
                got.append(device)

        waiter = threading.Thread(target=job)
        waiter.start()
        time.sleep(0.3)
        assert got == [] and waiter.is_alive()
    waiter.join(timeout=5)
    assert got == ["cuda:0"]


def test_locks_hold_across_processes(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from drai.devices import claim_device\n"
            f"with claim_device('auto', {str(tmp_path)!r}, device_count=2) as d:\n"
            "    print(d, flush=True)\n"
            "    sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "cuda:0"
        with claim_device("auto", tmp_path, device_count=2) as device:
            assert device == "cuda:1"
    finally:
        holder.communicate(timeout=30)
    # The holder has exited, so its GPU is free again.
    with claim_device("auto", tmp_path, device_count=2) as device:
        assert device == "cuda:0"


def test_lock_files_name_the_physical_gpus(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    with claim_device("auto", tmp_path, device_count=2) as first:
        with claim_device("auto", tmp_path, device_count=2) as second:
            assert (first, second) == ("cuda:0", "cuda:1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu-3.lock", "gpu-5.lock"]


def test_the_claimed_gpu_becomes_the_current_device(tmp_path, monkeypatch):
    # torch-fidelity moves work with a bare .cuda(): it must land on the claimed GPU.
    import torch

    current = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    with claim_device("auto", tmp_path, device_count=2):
        with claim_device("auto", tmp_path, device_count=2) as second:
            assert second == "cuda:1"
            assert current == [0, 1]


def test_slots_put_several_jobs_on_each_gpu_spread_over_the_gpus(tmp_path):
    with ExitStack() as stack:
        held = [stack.enter_context(claim_device("auto", tmp_path, device_count=2, slots=3)) for _ in range(6)]
        assert held == ["cuda:0", "cuda:1"] * 3
        got = []

        def seventh():
            with claim_device("auto", tmp_path, device_count=2, poll_s=0.02, slots=3) as device:
                got.append(device)

        waiter = threading.Thread(target=seventh)
        waiter.start()
        time.sleep(0.3)
        assert got == [] and waiter.is_alive()  # every slot of both GPUs is held
    waiter.join(timeout=5)
    assert got == ["cuda:0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "gpu-0.lock",
        "gpu-0.slot-1.lock",
        "gpu-0.slot-2.lock",
        "gpu-1.lock",
        "gpu-1.slot-1.lock",
        "gpu-1.slot-2.lock",
    ]


def test_a_one_slot_job_takes_the_gpus_own_lock_which_slotted_jobs_take_last(tmp_path):
    # Evaluator and metrics jobs ask for one slot: the GPU's own lock, gpu-N.lock.
    with claim_device("auto", tmp_path, device_count=2, slots=2) as first:
        with claim_device("auto", tmp_path, device_count=2, slots=2) as second:
            with claim_device("auto", tmp_path, device_count=2) as one_slot:
                assert (first, second, one_slot) == ("cuda:0", "cuda:1", "cuda:0")
                with claim_device("auto", tmp_path, device_count=2, slots=2) as fourth:
                    assert fourth == "cuda:1"


def test_slots_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="slots per GPU must be at least 1, got 0"):
        with claim_device("auto", tmp_path, device_count=2, slots=0):
            pass


@pytest.mark.skipif(cuda_device_count() > 0, reason="this machine has a GPU")
def test_a_gpu_asked_for_on_a_machine_without_one_stops_naming_the_key():
    with pytest.raises(
        DeviceError, match=r"config key train.device is 'cuda', but torch finds no CUDA device"
    ) as error:
        pick_device("cuda", key="train.device")
    assert "train.device: cpu" in str(error.value)
    assert str(pick_device("auto")) == "cpu" and str(pick_device("cpu")) == "cpu"


def test_the_paper_preset_asks_for_a_gpu_and_the_others_take_what_there_is():
    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yaml").read_text())
    for preset, device in (("paper", "cuda"), ("demo", "auto"), ("ci", "auto")):
        resolved = resolve({**config, "preset": preset})
        assert resolved["train"]["device"] == resolved["evaluate"]["device"] == device, preset

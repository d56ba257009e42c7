"""One GPU per job when several GPU jobs share a machine.

With no scheduler to hand out GPUs (``profiles/local-gpus``), every job sees
every GPU and would pick ``cuda:0``. :func:`claim_device` gives each job a GPU
of its own: it takes an exclusive, non-blocking ``flock`` on one lock file per
GPU and keeps it for the job's lifetime (the kernel drops it if the process
dies). A scheduler that already narrowed ``CUDA_VISIBLE_DEVICES`` to one GPU
(SLURM's ``--gpus=1``) leaves one visible device, and nothing is locked.

Several runs per GPU (``train.runs_per_gpu``): each GPU then has that many
slots, one lock file each, and a job holds one slot. The first slot's lock
file is the GPU's own (``gpu-N.lock``), which a job asking for one slot per
GPU (the evaluator and metrics jobs) takes; the others are
``gpu-N.slot-J.lock``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

DEFAULT_LOCK_DIR = Path(os.environ.get("DRAI_GPU_LOCK_DIR", Path(tempfile.gettempdir()) / "drai-gpu-locks"))


class DeviceError(RuntimeError):
    """A device was asked for that this machine does not have; the message names the config key."""


def pick_device(requested: str = "auto", key: str = "train.device"):
    """The torch device for ``requested`` (the value of config key ``key``).

    "auto": CUDA when torch sees a GPU, else the CPU. "cuda" (or "cuda:N"): a GPU, and a
    :class:`DeviceError` where there is none, rather than a run on the CPU that would take weeks
    (the `paper` preset asks for "cuda").
    """
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        import socket

        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise DeviceError(
            f"config key {key} is {requested!r}, but torch finds no CUDA device on {socket.gethostname()}"
            + (f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else "")
            + ". Run this job where there is a GPU (on SLURM: a GPU partition, and the rule's gpu resource, "
            f"profiles/slurm), or set {key}: cpu to run it on the CPU anyway."
        )
    return torch.device(requested)


def cuda_device_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def make_current(index: int) -> None:
    """Make ``cuda:index`` torch's current device: libraries that move work with a
    bare ``.cuda()`` (torch-fidelity) then use the claimed GPU, not GPU 0."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.set_device(index)


def _lock_names(count: int) -> list[str]:
    """A name per visible device for its lock file: the physical id from
    CUDA_VISIBLE_DEVICES when set, so jobs that see different subsets agree."""
    visible = [d.strip().replace("/", "_") for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return visible if len(visible) == count else [str(i) for i in range(count)]


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)  # flock needs no write access
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextmanager
def claim_device(
    requested: str = "auto",
    lock_dir: str | Path = DEFAULT_LOCK_DIR,
    device_count: int | None = None,
    poll_s: float = 5.0,
    slots: int = 1,
) -> Iterator[str]:
    """The device this job trains on, held until the ``with`` block ends.

    ``requested`` "auto" or "cuda" with more than one visible GPU: "cuda:i",
    the first GPU with a free slot (``slots`` per GPU); the GPUs' extra slots
    are handed out first, one GPU after another, so that runs spread over the
    GPUs and a GPU's first slot stays free for one-slot jobs as long as
    possible. When every slot is held, wait and try again every ``poll_s``
    seconds. Anything else ("cpu", "cuda:1", one GPU or none) is yielded
    unchanged: the scheduler's ``gpu`` resource already bounds how many jobs
    share it. ``device_count`` stands in for the visible GPU count (tests);
    by default torch is asked.
    """
    if slots < 1:
        raise ValueError(f"slots per GPU must be at least 1, got {slots}")
    count = 0
    if requested in ("auto", "cuda"):
        count = cuda_device_count() if device_count is None else device_count
    if count <= 1:
        yield requested
        return
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    try:
        lock_dir.chmod(0o1777)  # jobs of other users lock here too
    except PermissionError:
        pass
    names = _lock_names(count)
    order = [*range(1, slots), 0]  # extra slots first, the GPU's own lock last
    candidates = [
        (index, lock_dir / (f"gpu-{name}.lock" if slot == 0 else f"gpu-{name}.slot-{slot}.lock"))
        for slot in order
        for index, name in enumerate(names)
    ]
    waiting = False
    while True:
        for index, path in candidates:
            fd = _try_lock(path)
            if fd is not None:
                log.info("using cuda:%d (lock %s)", index, path)
                make_current(index)
                try:
                    yield f"cuda:{index}"
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
                return
        if not waiting:
            log.info("all %d GPUs are in use, %d job(s) each (locks in %s); waiting for one", count, slots, lock_dir)
            waiting = True
        time.sleep(poll_s)

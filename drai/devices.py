"""One GPU per job when several GPU jobs share a machine.

With no scheduler to hand out GPUs (``profiles/local-gpus``), every job sees
every GPU and would pick ``cuda:0``. :func:`claim_device` gives each job a GPU
of its own: it takes an exclusive, non-blocking ``flock`` on one lock file per
GPU and keeps it for the job's lifetime (the kernel drops it if the process
dies). A scheduler that already narrowed ``CUDA_VISIBLE_DEVICES`` to one GPU
(SLURM's ``--gpus=1``) leaves one visible device, and nothing is locked.
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
) -> Iterator[str]:
    """The device this job trains on, held until the ``with`` block ends.

    ``requested`` "auto" or "cuda" with more than one visible GPU: "cuda:i",
    the first GPU no other job holds; when all are held, wait and try again
    every ``poll_s`` seconds. Anything else ("cpu", "cuda:1", one GPU or none)
    is yielded unchanged. ``device_count`` stands in for the visible GPU count
    (tests); by default torch is asked.
    """
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
    paths = [lock_dir / f"gpu-{name}.lock" for name in _lock_names(count)]
    waiting = False
    while True:
        for index, path in enumerate(paths):
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
            log.info("all %d GPUs are in use (locks in %s); waiting for one", count, lock_dir)
            waiting = True
        time.sleep(poll_s)

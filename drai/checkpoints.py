"""Checkpoints of a training run, and the trained model read back from one.

A checkpoint holds tensors and plain values only (model, optimizers, step,
every random state, the loss history and the run's description,
:func:`run_meta`); it is written atomically and loaded with
``torch.load(weights_only=True)``: nothing is unpickled. A file that is not a
readable checkpoint raises :class:`CheckpointError` naming it.
"""

from __future__ import annotations

import errno
import os
import pickle
import time
from dataclasses import asdict
from pathlib import Path

import torch

from drai.io import atomic_path
from drai.models.family import ModelFamily, Shape
from drai.models.variants import get_variant
from drai.train.settings import TrainSettings


class CheckpointError(ValueError):
    """A file that is not a readable DRAI checkpoint; the message names it."""


#: The speed settings' values that train as plain eager code does. A run description leaves them out
#: at these values, so its checkpoints and files are those of code without the settings.
EAGER_SPEED_SETTINGS = {"loss_readback_every": 1, "fused_adam": False, "compile_mode": "eager", "cuda_graph": False}
#: Likewise the weight averaging's settings when it is off (a window of 0 steps: the last step's weights).
NO_AVERAGING = {"average_window": 0, "average_every": 1}


def run_meta(variant_name: str, channels: int, t_dim: int, settings: TrainSettings) -> dict:
    """What a checkpoint says about its run: enough to rebuild the model, and to tell other settings apart."""
    left_out = dict(EAGER_SPEED_SETTINGS)
    if not settings.average_window:
        left_out.update({k: getattr(settings, k) for k in NO_AVERAGING})
    described = {k: v for k, v in asdict(settings).items() if k not in left_out or v != left_out[k]}
    return {"variant": variant_name, "channels": int(channels), "t_dim": int(t_dim), "settings": described}


def checkpoint_state(model, opt_g, opt_d, step, noise, rng, history, meta, average=None) -> dict:
    """What a resumed run needs (:data:`CHECKPOINT_KEYS`): weights, optimizers, step, random states, losses;
    with weight averaging, also the sum of the weights averaged so far (``average``)."""
    return {
        "average": average or {},
        "model": model.state_dict(),
        "opt_g": opt_g.state_dict(),
        "opt_d": opt_d.state_dict() if opt_d is not None else {},
        "step": step,
        "noise": noise.get_state(),
        "rng": rng.bit_generator.state,
        "history": history,
        "meta": meta,
    }


CHECKPOINT_KEYS = ("model", "opt_g", "opt_d", "step", "noise", "rng", "history", "meta")


#: errno values of a write that found no room: the disk full, or the user's quota used up.
NO_ROOM = (errno.ENOSPC, errno.EDQUOT)


def save_checkpoint(path: Path, state: dict) -> None:
    """Written atomically: on any failure the previous file at ``path`` is kept as it was.

    A full disk raises OSError saying so and naming ``path``. torch is handed a
    Python file object: writing to a file name, its own writer reports a full
    disk only as "unexpected pos ...", without the errno.
    """
    try:
        with atomic_path(path, suffix=".pt") as tmp:
            with open(tmp, "wb") as handle:
                torch.save(state, handle)
    except OSError as error:
        if error.errno not in NO_ROOM:
            raise
        raise OSError(
            error.errno,
            f"{path}: disk full ({os.strerror(error.errno)}): not written; the previous file there is kept as it was",
        ) from None


def load_checkpoint(path: str | Path, device="cpu", required: tuple[str, ...] = ("model", "meta")) -> dict:
    """A checkpoint's contents; ``weights_only`` refuses anything but tensors and plain values.

    Anything else (a truncated file, another program's file, a pickle carrying
    code) raises CheckpointError naming the file. torch's own messages are not
    passed on: they suggest ``weights_only=False``, which would run that code.
    """
    if not Path(path).is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path}: not a DRAI checkpoint (it holds something other than tensors and plain values, "
            "which is not loaded)"
        ) from None
    except Exception as error:  # truncated or foreign files raise RuntimeError, EOFError, KeyError, ...
        # torch's zip reader says what is wrong in its first sentence; other errors say nothing useful.
        reason = str(error).split(". ")[0] if isinstance(error, RuntimeError) else "not a file torch.save wrote"
        raise CheckpointError(f"{path}: not a DRAI checkpoint, or a damaged one ({reason})") from None
    missing = [key for key in required if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a DRAI checkpoint (no {', '.join(missing)})")
    return state


def set_aside(path: Path) -> Path:
    """Rename an unreadable file out of the way (kept for inspection, never deleted)."""
    aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    os.replace(path, aside)
    return aside


def load_model(path: str | Path, device: str = "cpu") -> ModelFamily:
    """A trained model from ``model.pt`` (or a checkpoint), in eval mode."""
    state = load_checkpoint(path, device)
    try:
        meta = state["meta"]
        settings = TrainSettings(**{**EAGER_SPEED_SETTINGS, **NO_AVERAGING, **meta["settings"]})
        model = ModelFamily(
            get_variant(meta["variant"]),
            Shape(meta["channels"], meta["t_dim"], settings.width, settings.z_dim, settings.c_dim),
        )
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(
            f"{path}: not a DRAI checkpoint (its run description or weights do not fit: {reason})"
        ) from None
    return model.to(device).eval()

"""Training one run = (dataset, variant, seed), resumable and deterministic on CPU.

The run folder holds ``checkpoint.pt`` (written every ``checkpoint_every``
steps, atomically), and at the end ``model.pt``, ``losses.csv``,
``config.yaml``, ``model_card.md`` and ``losses.png``; ``model.pt`` holds the
last step's weights, or with ``average_window`` the mean of the weights over
the last steps (:class:`WeightAverage`). A run killed at any
moment resumes from its last checkpoint; on CPU the resumed run ends with the
weights an uninterrupted one would have (model, optimizer and every random
state are in the checkpoint). Checkpoints hold tensors and plain values only
and are loaded with ``torch.load(weights_only=True)``: nothing is unpickled.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import socket
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from drai.checkpoints import (
    CHECKPOINT_KEYS,
    CheckpointError,
    checkpoint_state,
    load_checkpoint,
    run_meta,
    save_checkpoint,
    set_aside,
)
from drai.data.crops import centre_crop
from drai.data.patchset import PatchSet
from drai.data.registry import get_dataset
from drai.devices import pick_device
from drai.io import save_figure, write_csv, write_text
from drai.models.family import TRANSFORMS, ModelFamily, Shape, training_losses, transform
from drai.models.variants import get_variant, loss_terms, model_card
from drai.progress import MilestoneLog, progress_bar
from drai.scheduler import StopForNow
from drai.train.settings import TrainSettings
from drai.train.step import crop_and_flip, draw_batch, train_step

log = logging.getLogger(__name__)


class NonFiniteLoss(FloatingPointError):
    """A loss term became NaN or infinite; the message names the term and the step."""


def load_training_set(patches_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Training images (N, C, S, S) float32 as stored (S >= 64, with their margin) and conditioning vectors.

    The rows are the dataset's :meth:`~drai.data.registry.Dataset.training_rows` (LIDC: the curated
    training nodules; HAM10000: the training split, with its augmented copies, of the modelled lesion
    types). :func:`train` crops the 64x64 windows.
    """
    patches = PatchSet.load(patches_path)
    keep = get_dataset(patches.dataset).training_rows(patches)
    images = patches.images[keep].astype(np.float32)
    vectors = patches.vectors[keep].astype(np.float32)
    if len(images) == 0:
        raise ValueError(f"{patches_path}: no training images")
    try:
        centre_crop(images[:0])  # the stored size must hold a centred 64x64 window
    except ValueError as error:
        raise ValueError(f"{patches_path}: {error}") from None
    return images, vectors


def build(variant_name: str, channels: int, t_dim: int, settings: TrainSettings):
    variant = get_variant(variant_name)
    model = ModelFamily(variant, Shape(channels, t_dim, settings.width, settings.z_dim, settings.c_dim))
    # fused: one kernel for all of a side's parameters; None leaves torch's default (foreach on CUDA, loops on CPU).
    # capturable: the step count on the device, so that a CUDA graph can capture the update (train.cuda_graph).
    adam = {"lr": settings.lr, "betas": (settings.beta1, 0.999), "fused": True if settings.fused_adam else None}
    if settings.cuda_graph:
        adam["capturable"] = True
    opt_g = torch.optim.Adam(model.generator_side(), **adam)
    opt_d = torch.optim.Adam(model.discriminator_side(), **adam) if model.discriminator_side() else None
    return model, opt_g, opt_d


class LossReadback:
    """Every step's loss terms, kept on the device and copied back every ``every`` steps in one transfer.

    A float() per term and step makes the host wait for the GPU each step, so
    it can never queue the next step's kernels ahead. The rows that come back
    are those a per-step read gives (float32 values made Python floats; a
    twice-trained step's two passes averaged on the host, as before), and the
    NaN/Inf guard checks every row, naming the first bad term and its step.
    """

    def __init__(self, variant_name: str, names: list[str], checkpoint_path: Path):
        self.variant_name, self.names, self.checkpoint_path = variant_name, names, checkpoint_path
        self.keys: list[str] | None = None
        self.pending: list[tuple[int, torch.Tensor]] = []

    def add(self, step: int, *passes: dict[str, torch.Tensor]) -> None:
        """A step's terms, one dict per pass of its batch."""
        if self.keys is None:
            self.keys = list(passes[0])  # the column order of losses.csv: the terms' own order
        self.pending.append((step, torch.stack([torch.stack([p[k].float() for k in self.keys]) for p in passes])))

    def __len__(self) -> int:
        return len(self.pending)

    def rows(self) -> list[dict]:
        """The pending steps' rows ({"step": s, term: value, ...}); raises NonFiniteLoss at the first bad one."""
        if not self.pending:
            return []
        values = torch.stack([v for _, v in self.pending]).cpu().tolist()  # the one transfer
        steps = [s for s, _ in self.pending]
        self.pending = []
        rows = []
        for step, passes in zip(steps, values, strict=True):
            first = dict(zip(self.keys, passes[0], strict=True))
            if len(passes) > 1:
                second = dict(zip(self.keys, passes[1], strict=True))
                first = {k: (first[k] + second[k]) / 2 for k in first}
            for name in self.names:
                if not math.isfinite(first[name]):
                    raise NonFiniteLoss(
                        f"{self.variant_name}: loss term {name} is {first[name]} at step {step}; the last good "
                        f"checkpoint is {self.checkpoint_path if self.checkpoint_path.exists() else 'none yet'}"
                    )
            rows.append({"step": step, **first})
        return rows


class WeightAverage:
    """The mean of the model's weights at ``settings.averaged_steps()`` (not in the paper).

    A uniform average of the weights over the last steps of training (Polyak
    averaging; Yazici et al., "The Unusual Effectiveness of Averaging in GAN
    Training", 2019). On the demo's LIDC data the condition appears in the
    generator's images and fades again within tens of steps (docs/models.md, "Weight
    averaging"); the average holds what the steps of the window share.
    Floating-point tensors are averaged (batch-norm statistics included);
    integer ones (batch counts) are the last step's. The running sum goes into
    every checkpoint, so that a resumed run averages what an uninterrupted one
    would.
    """

    def __init__(self, settings: TrainSettings):
        self.steps = set(settings.averaged_steps())
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, step: int, model: torch.nn.Module) -> None:
        if step not in self.steps:
            return
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                if name in self.sums:
                    self.sums[name] += value
                else:
                    self.sums[name] = value.detach().clone()
        self.count += 1

    def state(self) -> dict:
        return {"sums": self.sums, "count": self.count} if self.count else {}

    def load(self, state: dict) -> None:
        self.sums, self.count = dict(state.get("sums", {})), int(state.get("count", 0))

    def apply(self, model: torch.nn.Module) -> None:
        """Give ``model`` the averaged weights (after the last step, when every averaged step is in)."""
        if not self.steps:
            return
        if self.count != len(self.steps):
            raise RuntimeError(f"weight average of {self.count} steps, expected {len(self.steps)}")
        weights = model.state_dict()
        weights.update({name: total / self.count for name, total in self.sums.items()})
        model.load_state_dict(weights)


def compiled_losses(mode: str):
    """:func:`training_losses`, compiled with ``torch.compile(mode=...)`` ("eager": as it is).

    Compiling fuses the many small kernels of a step; ``reduce-overhead`` and
    ``max-autotune`` also replay them as CUDA graphs. Where the code cannot
    be captured (the seeded generator's draws), torch runs that part eagerly.
    """
    if mode == "eager":
        return training_losses
    return torch.compile(training_losses, mode=mode, dynamic=False)


def _to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A host array on ``device``; to a GPU through pinned memory, without waiting for it."""
    tensor = torch.from_numpy(array)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def train(
    images: np.ndarray,
    vectors: np.ndarray,
    variant_name: str,
    run_dir: str | Path,
    settings: TrainSettings,
    device: str = "auto",
    stop_after: int | None = None,
    progress: bool = True,
    extra_config: dict | None = None,
    after_step=None,
    stop_when=None,
) -> Path:
    """Train one run in ``run_dir``; resume from its checkpoint when there is one.

    ``images`` are stored patches (N, C, S, S), S >= 64: with
    ``settings.augment`` every batch is a random 64x64 crop of them, flipped at
    random (drawn from the run's seeded ``rng``, so a resumed run draws what an
    uninterrupted one would); without it, their centre crop.

    ``stop_after`` ends the call after that many steps of this call (it stands
    in for a killed job in tests). ``after_step(step)`` is called after every
    step (benchmarks time the loop with it). ``stop_when()`` too: when it gives
    a reason (the job's time limit is near, a SIGTERM; :class:`drai.scheduler.JobClock`),
    the run writes a checkpoint at that step and raises :class:`drai.scheduler.StopForNow`,
    to be resumed by a later call. Returns the path of ``model.pt``, or of the
    checkpoint when stopped early by ``stop_after``.
    """
    run_dir = Path(run_dir)
    dev = pick_device(device)
    if settings.cuda_graph and dev.type != "cuda":
        raise ValueError(
            f"train.cuda_graph: true needs a CUDA device, and this run's device is {dev} (train.device: {device}); "
            "set train.cuda_graph: false to train without a CUDA graph"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = run_dir / "checkpoint.pt"
    torch.manual_seed(settings.seed)
    if dev.type == "cpu":
        torch.use_deterministic_algorithms(True)
    variant = get_variant(variant_name)
    model, opt_g, opt_d = build(variant_name, images.shape[1], vectors.shape[1], settings)
    model.to(dev)
    if dev.type == "cuda":
        model.to(memory_format=torch.channels_last)
    noise = torch.Generator(device=dev).manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    history: list[dict] = []
    step = 0
    meta = run_meta(variant_name, images.shape[1], vectors.shape[1], settings)
    state = None
    average = WeightAverage(settings)
    if checkpoint_path.exists():
        try:
            state = load_checkpoint(checkpoint_path, dev, required=CHECKPOINT_KEYS)
        except CheckpointError as error:
            # A damaged checkpoint would stop every rerun: keep it aside and start afresh.
            log.warning("%s; set aside as %s, starting afresh", error, set_aside(checkpoint_path))
    if state is not None and state["meta"] != meta:
        # The settings changed (that is why the workflow reruns the job): start afresh.
        log.warning("%s was made with other settings; starting afresh", checkpoint_path)
        state = None
    if state is not None and not (isinstance(state["step"], int) and 0 <= state["step"] <= settings.steps):
        # This run never writes such a step: the file is not its checkpoint (nor one to resume from).
        log.warning(
            "%s: holds step %s, outside this run's train.steps of %d; not a checkpoint of this run: "
            "set aside as %s, starting afresh",
            checkpoint_path,
            state["step"],
            settings.steps,
            set_aside(checkpoint_path),
        )
        state = None
    if state is not None:
        model.load_state_dict(state["model"])
        opt_g.load_state_dict(state["opt_g"])
        if opt_d is not None:
            opt_d.load_state_dict(state["opt_d"])
        noise.set_state(state["noise"].cpu())  # generator states are CPU byte tensors
        rng.bit_generator.state = state["rng"]
        history, step = state["history"], state["step"]
        average.load(state.get("average", {}))
        log.info("resuming %s from step %d", run_dir, step)
    journal = RunJournal(run_dir / JOURNAL_NAME)
    journal.note(f"resumed at step {step}" if step else "started at step 0")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else nullcontext()
    if not settings.augment:
        images = np.ascontiguousarray(centre_crop(images))
    else:
        centre_crop(images[:0])  # the same check of the stored size
    stored = images.shape[-1]
    # The patch sets are small (at most a few hundred MB): keep them on the device.
    x_all = torch.from_numpy(images).to(dev)
    t_all = torch.from_numpy(vectors).to(dev)
    names = loss_terms(variant)
    model.train()
    bar = progress_bar(total=settings.steps, initial=step, desc=f"{variant_name}", unit="step", disable=not progress)
    losses_fn = compiled_losses(settings.compile_mode)
    readback = LossReadback(variant_name, names, checkpoint_path)
    milestones = MilestoneLog(settings.steps, step, log)
    graphed = None
    if settings.cuda_graph:  # after the resume: the capture reads the restored weights, optimizers and generator
        from drai.train.graphed import GraphedStep  # here: only a CUDA run needs it

        graphed = GraphedStep(model, opt_g, opt_d, x_all, t_all, settings, variant.trains_twice, noise)
    done_here = 0
    while step < settings.steps:
        if stop_after is not None and done_here >= stop_after:
            bar.close()
            return checkpoint_path
        index, rows, cols, transform_index = draw_batch(rng, settings, len(images), stored, variant.trains_twice)
        if graphed is not None:
            readback.add(step + 1, *graphed(index, rows, cols, transform_index))
        else:
            index = _to_device(index, dev)
            x, t = x_all[index], t_all[index]
            if settings.augment:
                x = crop_and_flip(x, _to_device(rows, dev), _to_device(cols, dev))
            if dev.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            kl = settings.kl_reduction
            if variant.trains_twice:
                # Each batch is trained twice: as it is, then transformed (Section III-G).
                x_t = transform(x, TRANSFORMS[transform_index])
                first = train_step(model, opt_g, opt_d, x, t, noise, x_t, autocast, kl, losses_fn, as_tensors=True)
                second = train_step(model, opt_g, opt_d, x_t, t, noise, x, autocast, kl, losses_fn, as_tensors=True)
                readback.add(step + 1, first, second)
            else:
                readback.add(
                    step + 1,
                    train_step(model, opt_g, opt_d, x, t, noise, None, autocast, kl, losses_fn, as_tensors=True),
                )
        step += 1
        done_here += 1
        average.add(step, model)
        stop_reason = stop_when() if stop_when is not None else None
        checkpoint_due = step % settings.checkpoint_every == 0 or step == settings.steps or stop_reason
        # Read back before every checkpoint, so that no checkpoint holds a step past a NaN.
        if checkpoint_due or len(readback) >= settings.loss_readback_every:
            rows = readback.rows()
            history.extend(rows)
            bar.update(len(rows))
            bar.set_postfix({k.split("/")[1][:8]: f"{rows[-1][k]:.3f}" for k in names[:4]})
            milestones.update(step, {k: rows[-1][k] for k in names})
        if checkpoint_due:
            save_checkpoint(
                checkpoint_path,
                checkpoint_state(model, opt_g, opt_d, step, noise, rng, history, meta, average.state()),
            )
        if after_step is not None:
            after_step(step)
        if stop_reason and step < settings.steps:
            bar.close()
            journal.note(f"stopped at step {step} ({stop_reason})")
            raise StopForNow(step, str(checkpoint_path), stop_reason)
    bar.close()
    average.apply(model)
    model_path = run_dir / "model.pt"
    final = {"model": model.state_dict(), "meta": meta, "step": step}
    write_csv(run_dir / "losses.csv", pd.DataFrame(history))
    write_text(run_dir / "config.yaml", yaml.safe_dump({**meta, **(extra_config or {})}, sort_keys=True))
    write_text(run_dir / "model_card.md", model_card(variant))
    loss_figure(pd.DataFrame(history), run_dir / "losses.png", variant_name)
    save_checkpoint(model_path, final)  # last: its presence means the run is complete
    journal.note(f"finished at step {step}")
    return model_path


#: The run folder's journal: a line per start, stop and end of the run's jobs.
JOURNAL_NAME = "jobs.log"


class RunJournal:
    """A line per start, stop and end of a run, appended across the jobs that train it.

    A run that outlasts its job's time limit continues in further jobs (drai/scheduler.py), and the
    workflow replaces a job's log file each time the job starts: this file keeps the whole story
    (when, where, which SLURM job, at which step), next to the checkpoint it is about.
    """

    def __init__(self, path: Path):
        self.path = path

    def note(self, event: str) -> None:
        job = os.environ.get("SLURM_JOB_ID")
        where = socket.gethostname() + (f", SLURM job {job}" if job else "")
        stamp = datetime.datetime.now().isoformat(timespec="seconds")
        with open(self.path, "a") as journal:
            journal.write(f"{stamp} {where}: {event}\n")


def save_untrained(variant_name: str, channels: int, t_dim: int, settings: TrainSettings, path: str | Path) -> Path:
    """The model as training would start it (seeded), saved like ``model.pt`` at step 0.

    The reference point that shows a trained model learned something.
    """
    torch.manual_seed(settings.seed)
    model, _, _ = build(variant_name, channels, t_dim, settings)
    save_checkpoint(
        Path(path), {"model": model.state_dict(), "meta": run_meta(variant_name, channels, t_dim, settings), "step": 0}
    )
    return Path(path)


def loss_figure(history: pd.DataFrame, output: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = draw_losses(history, title)
    save_figure(fig, output, dpi=110)
    plt.close(fig)


def draw_losses(history: pd.DataFrame, title: str):
    """Each loss term over the steps (a rolling mean), discriminators left, generator side right: one
    colour per term across both panels (DRAI has 11 terms, more than matplotlib's 10-colour cycle)."""
    import matplotlib.pyplot as plt

    terms = [column for column in history.columns if column != "step"]
    colours = plt.get_cmap("tab20").colors
    fig, (ax_d, ax_g) = plt.subplots(1, 2, figsize=(12, 4))
    window = max(len(history) // 50, 1)
    for i, column in enumerate(terms):
        ax = ax_d if column.startswith("d/") else ax_g
        smooth = history[column].rolling(window, min_periods=1).mean()
        ax.plot(history["step"], smooth, label=column[2:], lw=1.2, color=colours[(2 * i) % 20 + (2 * i) // 20 % 2])
    for ax, side in ((ax_d, "discriminators"), (ax_g, "generator side")):
        ax.set_title(f"{title}: {side}", fontsize=10)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    return fig

"""Train one (dataset, variant, seed) run; resumes from the run's checkpoint.

In a SLURM job the run stops before the job's time limit with a checkpoint and
the job is requeued, to resume where it stopped (drai/scheduler.py); the run
folder's jobs.log keeps a line per job's start and stop.
"""

import sys

import torch

from _common import setup_logging
from drai.devices import claim_device
from drai.scheduler import JobClock, StopForNow
from drai.settings import from_params, transport
from drai.train.run import load_training_set, train
from drai.train.settings import TrainSettings

log = setup_logging(snakemake)
torch.set_num_threads(snakemake.threads)
settings = from_params(TrainSettings, snakemake.params.settings)
images, vectors = load_training_set(snakemake.input.patches)
log.info(
    "%s on %s: %d training images, %s", snakemake.wildcards.variant, snakemake.wildcards.dataset, len(images), settings
)
clock = JobClock.of_this_job().listen()
# Several GPU jobs on one machine: each locks one of a GPU's train.runs_per_gpu slots for the run.
with claim_device(transport(snakemake.config, "train")["device"], slots=snakemake.resources.runs_per_gpu) as device:
    try:
        model = train(
            images,
            vectors,
            snakemake.wildcards.variant,
            snakemake.output.model.rsplit("/", 1)[0],
            settings,
            device=device,
            extra_config={"dataset": snakemake.wildcards.dataset, "data": snakemake.input.patches},
            stop_when=clock.should_stop,
        )
    except StopForNow as stopped:
        sys.exit(clock.continue_later(stopped))
log.info("wrote %s", model)

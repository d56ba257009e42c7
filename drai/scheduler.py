"""A job's time limit, and continuing past it: what a batch scheduler (SLURM) tells a running job.

A training run can outlast the time limit of the job that runs it (the
`paper` preset's DRAI: 100k steps, hours on a GPU). Rather than being killed
at the limit, the job stops a margin before it, writes a checkpoint at the
step it reached, and asks SLURM to put it back in the queue (``scontrol
requeue``): the same job starts again with a fresh time limit and the run
resumes from that checkpoint. snakemake-executor-plugin-slurm follows a job
under its id through requeues (``slurm-requeue: true`` in profiles/slurm), so
the workflow only sees the job finish. Where the job cannot be requeued it
ends with an error instead, and the workflow's next try of the job (its
``retries``) resumes the run. A termination signal (SLURM's at the limit,
preemption, a cancelled job) also ends the run at the next step with a
checkpoint.

Outside a SLURM job there is no time limit: only the signal applies.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time

log = logging.getLogger(__name__)

#: Seconds between the stop and the job's limit: enough to finish a step, write the
#: checkpoint and leave, and never more than this.
MARGIN_BOUNDS_S = (20.0, 300.0)
#: The margin's share of the time a job has when it starts (a 4-hour job stops 5 minutes early,
#: a 1-minute one 20 seconds early).
MARGIN_SHARE = 0.1


class StopForNow(Exception):
    """Training stopped at ``step`` with a checkpoint, to continue in a later job."""

    def __init__(self, step: int, checkpoint: str, reason: str):
        super().__init__(f"stopped at step {step} ({reason}); the run resumes from {checkpoint}")
        self.step, self.checkpoint, self.reason = step, checkpoint, reason


def parse_slurm_duration(text: str) -> float | None:
    """Seconds of a SLURM duration as squeue prints it ("days-hours:minutes:seconds",
    "hours:minutes:seconds", "minutes:seconds"); None for UNLIMITED, NOT_SET, INVALID and anything
    else that is not a duration."""
    days, _, clock = text.strip().rpartition("-")
    parts = clock.split(":")
    if not (days == "" or days.isdigit()) or not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return float(int(days or 0) * 86400 + seconds)


def slurm_time_left(job_id: str, squeue: str | None = None) -> float | None:
    """Seconds left before SLURM's time limit of job ``job_id``, or None when it has none or squeue
    cannot say."""
    squeue = squeue or shutil.which("squeue")
    if squeue is None:
        return None
    try:
        result = subprocess.run([squeue, "-h", "-j", job_id, "-o", "%L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("squeue could not tell job %s's time left: %s", job_id, error)
        return None
    if result.returncode != 0:
        log.warning("squeue could not tell job %s's time left: %s", job_id, result.stderr.strip())
        return None
    return parse_slurm_duration(result.stdout.strip().splitlines()[0]) if result.stdout.strip() else None


def stop_margin(time_left: float) -> float:
    low, high = MARGIN_BOUNDS_S
    return min(high, max(low, MARGIN_SHARE * time_left))


class JobClock:
    """When the job running this process should stop: its time limit less a margin, or a SIGTERM.

    ``deadline``: a :func:`time.monotonic` value, or None without a time limit.
    ``job_id``: the SLURM job to requeue when the run stops for the time limit.
    """

    def __init__(self, deadline: float | None = None, job_id: str | None = None):
        self.deadline, self.job_id = deadline, job_id
        self.signalled: str | None = None

    @classmethod
    def of_this_job(cls, environ=os.environ, squeue: str | None = None) -> JobClock:
        """The clock of the SLURM job this process runs in (``SLURM_JOB_ID``); without one, no deadline."""
        job_id = environ.get("SLURM_JOB_ID")
        left = slurm_time_left(job_id, squeue) if job_id else None
        if left is None:
            return cls(None, job_id)
        margin = stop_margin(left)
        log.info(
            "SLURM job %s has %.0f s left: training stops %.0f s before its time limit and continues in the "
            "requeued job",
            job_id,
            left,
            margin,
        )
        return cls(time.monotonic() + left - margin, job_id)

    def listen(self) -> JobClock:
        """From now on a SIGTERM (SLURM at the limit or on preemption, a cancel) stops the run at the next step."""

        def note(number, frame):
            self.signalled = signal.Signals(number).name

        signal.signal(signal.SIGTERM, note)
        return self

    def should_stop(self) -> str | None:
        """Why the run should stop now, or None."""
        if self.signalled:
            return f"{self.signalled} received"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "the job's time limit is near"
        return None

    def continue_later(self, stopped: StopForNow, scontrol: str | None = None, wait_s: float = 300.0) -> int:
        """After a stop for the time limit: requeue this SLURM job and wait to be ended by it.

        Returns the exit status for the job when that is not possible (no SLURM job, a stop for a
        signal, a job SLURM will not requeue): non-zero, so that the workflow's next try resumes.
        """
        scontrol = scontrol or shutil.which("scontrol")
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # SLURM's SIGTERM now ends this process at once
        if stopped.reason != "the job's time limit is near" or not self.job_id or scontrol is None:
            log.error("%s", stopped)
            return 75  # EX_TEMPFAIL: try again
        result = subprocess.run([scontrol, "requeue", self.job_id], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            log.error(
                "%s, but SLURM did not requeue job %s (%s); the next try of this job resumes it",
                stopped,
                self.job_id,
                result.stderr.strip(),
            )
            return 75
        log.info("%s: SLURM job %s requeued, it continues when it starts again", stopped, self.job_id)
        time.sleep(wait_s)  # SLURM ends this instance of the job now; should it not, fail it
        return 75

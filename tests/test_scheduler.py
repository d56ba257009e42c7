"""A training run that outlasts its job (drai/scheduler.py): the job's time left from SLURM, a stop
with a checkpoint before the limit or at a SIGTERM, a requeue, and a resumed run that ends where an
uninterrupted one does. The real SLURM test (tests/test_slurm.py) runs it through the workflow."""

import logging
import os
import signal
import stat
import time
from dataclasses import replace

import pytest
import torch

from drai.checkpoints import load_checkpoint
from drai.progress import MilestoneLog
from drai.scheduler import JobClock, StopForNow, parse_slurm_duration, stop_margin
from drai.train.run import train
from drai.train.settings import train_settings
from toys import fake_data


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("1-02:03:04", 93784.0),
        ("02:03:04", 7384.0),
        ("03:04", 184.0),
        ("45", 45.0),
        ("UNLIMITED", None),
        ("NOT_SET", None),
        ("INVALID", None),
        ("", None),
        ("1:2:3:4", None),
    ],
)
def test_slurm_durations_are_read_as_squeue_prints_them(text, seconds):
    assert parse_slurm_duration(text) == seconds


def test_the_margin_grows_with_the_job_and_stays_bounded():
    assert stop_margin(40) == 20  # a one-minute job still trains
    assert stop_margin(1200) == 120
    assert stop_margin(4 * 3600) == 300


def fake_command(tmp_path, name, script):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_a_slurm_job_stops_its_margin_before_the_time_squeue_gives(tmp_path):
    squeue = fake_command(tmp_path, "squeue", 'echo "$@" > "$(dirname "$0")/args"; echo 1:00:00\n')
    before = time.monotonic()
    clock = JobClock.of_this_job({"SLURM_JOB_ID": "4242"}, squeue=squeue)
    assert (tmp_path / "args").read_text().split() == ["-h", "-j", "4242", "-o", "%L"]
    assert clock.job_id == "4242"
    assert before + 3600 - 300 <= clock.deadline <= time.monotonic() + 3600 - 300
    assert clock.should_stop() is None
    clock.deadline = time.monotonic() - 1
    assert clock.should_stop() == "the job's time limit is near"


def test_without_a_time_limit_there_is_no_deadline(tmp_path):
    assert JobClock.of_this_job({}).deadline is None  # not in a SLURM job
    unlimited = fake_command(tmp_path, "squeue", "echo UNLIMITED\n")
    assert JobClock.of_this_job({"SLURM_JOB_ID": "7"}, squeue=unlimited).deadline is None
    failing = fake_command(tmp_path, "squeue2", "echo 'slurm_load_jobs error' >&2; exit 1\n")
    assert JobClock.of_this_job({"SLURM_JOB_ID": "7"}, squeue=failing).deadline is None


def test_a_sigterm_stops_the_run_at_the_next_step():
    previous = signal.getsignal(signal.SIGTERM)
    try:
        clock = JobClock().listen()
        assert clock.should_stop() is None
        os.kill(os.getpid(), signal.SIGTERM)
        assert clock.should_stop() == "SIGTERM received"
    finally:
        signal.signal(signal.SIGTERM, previous)


def small_settings(ci_config, **changes):
    return replace(
        train_settings(ci_config, "lidc", 0),
        **{"steps": 9, "checkpoint_every": 4, "average_window": 0, "batch_size": 4, **changes},
    )


@pytest.mark.parametrize("variant", ["DRAI", "cVAE"])
def test_a_run_stopped_between_checkpoints_resumes_to_the_uninterrupted_weights(tmp_path, ci_config, variant):
    settings = small_settings(ci_config)
    images, vectors = fake_data(1, 17, size=72)
    plain = train(images, vectors, variant, tmp_path / "plain", settings, device="cpu", progress=False)

    calls = []

    def stop_when():  # asked after every step; at step 6, not a multiple of checkpoint_every
        calls.append(1)
        return "the job's time limit is near" if len(calls) == 6 else None

    with pytest.raises(StopForNow) as stopped:
        train(
            images,
            vectors,
            variant,
            tmp_path / "split",
            settings,
            device="cpu",
            progress=False,
            stop_when=stop_when,
        )
    assert stopped.value.step == 6 and load_checkpoint(tmp_path / "split" / "checkpoint.pt")["step"] == 6
    assert not (tmp_path / "split" / "model.pt").exists()
    resumed = train(images, vectors, variant, tmp_path / "split", settings, device="cpu", progress=False)
    events = [line.split(": ", 1)[1] for line in (tmp_path / "split" / "jobs.log").read_text().splitlines()]
    assert events == [
        "started at step 0",
        "stopped at step 6 (the job's time limit is near)",
        "resumed at step 6",
        "finished at step 9",
    ]
    expected, got = load_checkpoint(plain)["model"], load_checkpoint(resumed)["model"]
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[name], got[name]) for name in expected)


def test_a_stop_asked_at_the_last_step_ends_the_run_as_usual(tmp_path, ci_config):
    settings = small_settings(ci_config, steps=3)
    images, vectors = fake_data(1, 17, size=72)
    calls = []
    model = train(
        images,
        vectors,
        "cInfoGAN",
        tmp_path,
        settings,
        device="cpu",
        progress=False,
        stop_when=lambda: calls.append(1) or ("the job's time limit is near" if len(calls) == 3 else None),
    )
    assert model == tmp_path / "model.pt" and load_checkpoint(model)["step"] == 3


def test_after_a_stop_for_the_time_limit_the_job_requeues_itself(tmp_path, caplog):
    scontrol = fake_command(tmp_path, "scontrol", 'echo "$@" > "$(dirname "$0")/args"\n')
    previous = signal.getsignal(signal.SIGTERM)
    try:
        clock = JobClock(deadline=0.0, job_id="4242")
        status = clock.continue_later(
            StopForNow(6, "run/checkpoint.pt", "the job's time limit is near"), scontrol=scontrol, wait_s=0
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert (tmp_path / "args").read_text().split() == ["requeue", "4242"]
    assert status != 0  # should SLURM not end the job, it fails, and the workflow's next try resumes


def test_a_job_slurm_will_not_requeue_fails_to_be_tried_again(tmp_path, caplog):
    refuses = fake_command(tmp_path, "scontrol", "echo 'Requested operation is presently disabled' >&2; exit 1\n")
    never = fake_command(tmp_path, "scontrol2", 'touch "$(dirname "$0")/called"\n')
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with caplog.at_level(logging.ERROR):
            stopped = StopForNow(6, "run/checkpoint.pt", "the job's time limit is near")
            assert JobClock(0.0, "4242").continue_later(stopped, scontrol=refuses, wait_s=0) != 0
            assert "did not requeue job 4242" in caplog.text and "presently disabled" in caplog.text
            # A stop for a signal (preemption, a cancel) or outside SLURM: no requeue, a failed try.
            for clock, reason in (
                (JobClock(0.0, "4242"), "SIGTERM received"),
                (JobClock(), "the job's time limit is near"),
            ):
                assert clock.continue_later(StopForNow(6, "c.pt", reason), scontrol=never, wait_s=0) != 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not (tmp_path / "called").exists()


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_log_gets_a_line_every_five_percent(caplog):
    clock = FakeClock()
    logger = logging.getLogger("test.milestones")
    milestones = MilestoneLog(total=1000, start=0, logger=logger, clock=clock)
    with caplog.at_level(logging.INFO, logger="test.milestones"):
        for step in range(10, 1001, 10):  # losses read back every 10 steps
            clock.now = step * 0.5
            milestones.update(step, {"d/x": 0.25, "g/x": 1.5})
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 20, lines
    assert lines[0] == "step 50/1000 (5%): d/x 0.25, g/x 1.5; 0.5 s/step, 8 min left"
    assert lines[-1] == "step 1000/1000 (100%): d/x 0.25, g/x 1.5; 0.5 s/step, 0 s left"

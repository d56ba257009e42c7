"""profiles/slurm on a real SLURM: a single-node cluster that this test starts itself.

With snakemake-executor-plugin-slurm and the profile as shipped (only the GPU
rules' gpu set to 0: the node has none; status from squeue, and a short wait
before the first status check), it proves that

(a) the ci preset runs to completion (see below), every job an sbatch job,
    the job status coming from squeue (accounting is off, so sacct cannot
    answer);
(b) a job that fails makes snakemake exit non-zero (retries off, so it is
    submitted once);
(c) a training job that SLURM kills and puts back in the queue (`scontrol
    requeue`, what preemption does) runs again under the same job id and
    resumes from its checkpoint;
(d) sbatch asks for what the profile says: one GPU and requeue for the GPU
    rules;
(e) the per-case LIDC jobs travel in groups: one sbatch call per case (its
    series and its patches), one per other job that is not a local rule (the
    tables, the figures and the targets run where snakemake runs), and a group
    job asks for no more CPUs and memory than the profile allows;
(f) a training job whose time limit (1 minute) is shorter than its run stops
    before the limit with a checkpoint, requeues itself, and resumes from that
    checkpoint, until the run is done: one sbatch call, nothing retrained.

The cluster: munged (as user munge, in /run/munge, with /etc/munge/munge.key),
`slurmctld -i` and slurmd started directly (no systemd); configuration, state,
spool and logs in a temporary folder; no accounting, no cgroups. slurmd runs
configless (it fetches the configuration from slurmctld and links it at
/run/slurm/conf) because the plugin drops SLURM_CONF from the environment of
the `srun` it runs inside each job. Every job left over is cancelled and every
daemon the test started is stopped, by its pid, at the end, also on failure.

Needs root and Debian's slurmctld, slurmd, slurm-client and munge
(tests/install_slurm.sh installs them); skipped otherwise, with the reason.
Deselect with `-m "not slurm"`. To keep it short, (a) runs the ci preset's
data and the training runs of two of its ten variants; DRAI_SLURM_FULL=1 (and
CI, where CI is set) runs the whole preset: every variant, and every rule of
the default target.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workflow_rules import gpu_rules, local_rules

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
TOOLS = ("munged", "munge", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo", "srun")
GPU_RULES = sorted(gpu_rules())  # the rules that ask for a GPU; the test node has none
PROFILE = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
CONF_LINK = Path("/run/slurm/conf")  # where configless slurmd links its configuration
MUNGE_KEY = Path("/etc/munge/munge.key")

# Through SLURM each job costs two snakemake start-ups more than locally, so on
# a 2-core machine the whole ci preset takes many minutes. By default: its data
# and the training runs of two variants; DRAI_SLURM_FULL=1: all of it.
FULL = bool(os.environ.get("DRAI_SLURM_FULL") or os.environ.get("CI"))  # CI: all of it
TEST_CONFIG = {"preset": "ci"} if FULL else {"preset": "ci", "train": {"variants": ["DRAI", "cInfoGAN"]}}
TARGETS = [] if FULL else ["lidc", "ham10000", "train_all"]
# Rules that run where snakemake runs, never as SLURM jobs (`localrule:` in the rule files): the
# targets, tables and figures (seconds of work each); ham10000_raw and lidc_series only when they
# download, which the ci preset does not.
# The rules that run where snakemake runs, never through sbatch: those named in the rule files, and those
# made in a loop.
LOCAL_RULES = local_rules() | {
    "ground_truth_table",
    "memorization_table",
    *(f"table{n}" for n in range(1, 7)),
    *(f"fig{n}" for n in range(10, 20)),
}

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def why_not() -> str | None:
    missing = [tool for tool in TOOLS if shutil.which(tool, path=SEARCH_PATH) is None]
    if missing:
        return f"SLURM is not installed ({', '.join(missing)} missing): run tests/install_slurm.sh as root"
    if os.geteuid() != 0:
        return "slurmd must run as root to start jobs: run this test as root"
    if Path("/etc/slurm/slurm.conf").exists():
        return "this machine has a SLURM configuration of its own (/etc/slurm/slurm.conf); it would shadow the test's"
    running = sorted(_running({"slurmctld", "slurmd"}))
    if running:
        return f"a SLURM daemon runs here already ({', '.join(running)})"
    return None


def _running(names: set[str]) -> set[str]:
    found = set()
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            found.add(comm.read_text().strip())
        except OSError:
            pass
    return found & names


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_until(what: str, condition, timeout: float, interval: float = 0.2, details=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s\n{details()}")
        time.sleep(interval)


class Cluster:
    """munged, slurmctld and slurmd, started and stopped by pid."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.conf = folder / "slurm.conf"
        self.env = {**os.environ, "PATH": SEARCH_PATH, "SLURM_CONF": str(self.conf)}
        self.daemons: list[subprocess.Popen] = []
        self.cpus = self.memory_mb = 0

    def run(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=timeout, check=check)

    def ok(self, *args: str) -> bool:
        try:
            return self.run(*args, check=False, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _start(self, name: str, args: list[str], env: dict | None = None, user: str | None = None):
        with open(self.folder / f"{name}.out", "w") as out:
            proc = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env or self.env,
                user=user,
                group=user,
                start_new_session=True,
            )
        self.daemons.append(proc)

    def logs(self, lines: int = 25) -> str:
        parts = []
        for path in sorted(self.folder.glob("*.out")) + sorted(self.folder.glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def state(self, job: str) -> str:
        return self.run("squeue", "-h", "--states=all", "-j", job, "-o", "%T", check=False).stdout.strip()

    def show(self, job: str) -> str:
        return " ".join(self.run("scontrol", "show", "job", job, check=False).stdout.split())

    def start(self) -> None:
        if not self.ok("munge", "-n"):  # a munged already running is used as it is
            run_dir = Path("/run/munge")
            run_dir.mkdir(mode=0o755, exist_ok=True)
            shutil.chown(run_dir, "munge", "munge")
            if not MUNGE_KEY.exists():
                MUNGE_KEY.write_bytes(os.urandom(1024))
                shutil.chown(MUNGE_KEY, "munge", "munge")
                MUNGE_KEY.chmod(0o600)
            self._start("munged", [shutil.which("munged", path=SEARCH_PATH), "--foreground"], user="munge")
            wait_until("munged answers", lambda: self.ok("munge", "-n"), 30, details=self.logs)

        host = (
            subprocess.run(["hostname", "-s"], capture_output=True, text=True).stdout.strip()
            or socket.gethostname().split(".")[0]
        )
        hardware = dict(
            item.split("=", 1) for item in self.run("slurmd", "-C").stdout.splitlines()[0].split() if "=" in item
        )
        self.cpus, self.memory_mb = int(hardware["CPUs"]), int(hardware["RealMemory"])
        ctld_port, slurmd_port = _free_ports(2)
        for sub in ("state", "spool"):
            (self.folder / sub).mkdir()
        self.conf.write_text(f"""\
ClusterName=drai-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmctldParameters=enable_configless
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
MailProg=/bin/true
StateSaveLocation={self.folder}/state
SlurmdSpoolDir={self.folder}/spool
SlurmctldPidFile={self.folder}/slurmctld.pid
SlurmdPidFile={self.folder}/slurmd.pid
SlurmctldLogFile={self.folder}/slurmctld.log
SlurmdLogFile={self.folder}/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# squeue shows a finished job this long: the plugin's sacct-free status check relies on
# it, and the test looks at every job of the run afterwards
MinJobAge=3600
ReturnToService=2
NodeName={host} NodeAddr=127.0.0.1 CPUs={hardware["CPUs"]} RealMemory={hardware["RealMemory"]} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
        self._start("slurmctld", [shutil.which("slurmctld", path=SEARCH_PATH), "-D", "-i", "-f", str(self.conf)])
        wait_until(
            "slurmctld answers", lambda: "UP" in self.run("scontrol", "ping", check=False).stdout, 30, details=self.logs
        )
        if CONF_LINK.is_symlink() and not CONF_LINK.exists():
            CONF_LINK.unlink()  # left by an earlier run
        slurmd_env = {k: v for k, v in self.env.items() if k != "SLURM_CONF"}
        self._start(
            "slurmd",
            [shutil.which("slurmd", path=SEARCH_PATH), "-D", "-N", host, "--conf-server", f"127.0.0.1:{ctld_port}"],
            env=slurmd_env,
        )
        wait_until(
            "the node is idle",
            lambda: self.run("sinfo", "-h", "-N", "-o", "%T", check=False).stdout.strip() == "idle",
            60,
            details=self.logs,
        )

    def stop(self) -> None:
        if any(proc.poll() is None for proc in self.daemons):
            try:
                jobs = self.run("squeue", "-h", "-o", "%i", check=False).stdout.split()
                if jobs:
                    self.run("scancel", *jobs, check=False)
                    wait_until("jobs cancelled", lambda: not self.run("squeue", "-h", "-o", "%i").stdout.split(), 60)
            except (subprocess.SubprocessError, TimeoutError) as error:
                print(f"could not cancel every job: {error}", file=sys.stderr)
        for proc in reversed(self.daemons):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if CONF_LINK.is_symlink() and os.readlink(CONF_LINK).startswith(str(self.folder)):
            CONF_LINK.unlink()


@pytest.fixture(scope="module")
def cluster():
    reason = why_not()
    if reason:
        pytest.skip(reason)
    # A short folder: slurmd's sockets live in the spool folder (paths under 108 bytes).
    folder = Path(tempfile.mkdtemp(prefix="drai-slurm-"))
    cluster = Cluster(folder)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def start_snakemake(
    cluster: Cluster,
    workdir: Path,
    *args: str,
    snakefile: Path = ROOT / "Snakefile",
    log_name: str = "snakemake.out",
    no_gpus: bool = True,
    set_resources: tuple[str, ...] = (),
) -> tuple[subprocess.Popen, Path]:
    """snakemake with profiles/slurm; what this single node needs on top: squeue for the status
    (accounting is off), an early first status check, and no GPU for the GPU rules."""
    command = [
        str(SNAKEMAKE),
        *args,
        "--snakefile",
        str(snakefile),
        "--profile",
        str(ROOT / "profiles" / "slurm"),
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
    ]
    resources = [*(f"{rule}:gpu=0" for rule in GPU_RULES if no_gpus), *set_resources]
    if resources:
        command += ["--set-resources", *resources]
    # A group job asks for the profile's cores and mem_mb; a smaller node gets a smaller group job.
    if cluster.cpus < PROFILE["cores"]:
        command += ["--cores", str(cluster.cpus)]
    if cluster.memory_mb < PROFILE["resources"]["mem_mb"]:
        command += ["--resources", f"mem_mb={cluster.memory_mb}"]
    log = workdir / log_name
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=workdir, env=cluster.env, stdout=out, stderr=subprocess.STDOUT)
    return proc, log


def finish(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def run_snakemake(cluster: Cluster, workdir: Path, *args: str, timeout: float, **kwargs) -> tuple[int, str]:
    proc, log = start_snakemake(cluster, workdir, *args, **kwargs)
    code = finish(proc, timeout)
    return code, log.read_text()


def config_args(workdir: Path, *extra: Path) -> list[str]:
    return ["--configfile", str(ROOT / "config.yaml"), str(workdir / "slurm-test.yaml"), *map(str, extra)]


def submitted(output: str) -> list[str]:
    return re.findall(r"has been submitted with SLURM jobid (\d+)", output)


def submitted_rules(output: str) -> set[str]:
    return set(re.findall(r"has been submitted with SLURM jobid \d+ \(log: \S*/slurm_logs/rule_([^/]+)/", output))


def submitted_groups(output: str) -> dict[str, str]:
    """SLURM job id -> name of every group job submitted."""
    found = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/group_([^/]+)/", output)
    return dict(found)


def planned_jobs(output: str) -> dict[str, int]:
    """The first 'Job stats' table snakemake prints: jobs per rule, before the checkpoint adds the cases."""
    table = output[output.index("Job stats:") :].split("total", 1)[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\S+)\s+(\d+)$", table, re.MULTILINE)}


@pytest.fixture(scope="module")
def ci_on_slurm(cluster, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("slurm-ci")
    (workdir / "slurm-test.yaml").write_text(yaml.safe_dump(TEST_CONFIG))
    started = time.monotonic()
    code, output = run_snakemake(cluster, workdir, *TARGETS, *config_args(workdir), timeout=2400 if FULL else 1200)
    print(f"ci preset on SLURM: {time.monotonic() - started:.0f} s")
    return workdir, code, output


def test_ci_preset_runs_on_slurm(cluster, ci_on_slurm):
    from drai.models.variants import VARIANTS

    workdir, code, output = ci_on_slurm
    assert code == 0, output[-5000:] + cluster.logs()
    results = workdir / "results" / "ci"
    for dataset in ("lidc", "ham10000"):
        assert (results / "data" / dataset / "patches.npz").exists()
        assert (results / "data" / dataset / "qc_patches.png").exists()
        for variant in TEST_CONFIG.get("train", {}).get("variants", list(VARIANTS)):
            assert (results / "runs" / dataset / variant / "seed0" / "model.pt").exists(), (dataset, variant)
    # Every job went through SLURM, and squeue still knows each one as COMPLETED.
    assert submitted_rules(output) >= {"lidc_nodules", "lidc_patches", "ham10000_raw", "ham10000_patches", "train"}, (
        output[-3000:]
    )
    jobs = submitted(output)
    states = dict(
        line.split("|", 1) for line in cluster.run("squeue", "-h", "--states=all", "-o", "%i|%T").stdout.split()
    )
    assert {states.get(job) for job in jobs} == {"COMPLETED"}
    # Each case's two jobs went as one group job, one sbatch call each; every other job that runs
    # something and is not a local rule (tables, figures, targets) had its own.
    cases = len(list((results / "data" / "lidc" / "cases").glob("*.npz")))
    groups = submitted_groups(output)
    assert cases > 1 and sorted(groups.values()) == ["lidc_case_lidc_case_patches_lidc_series"] * cases, output[-3000:]
    assert not {"lidc_series", "lidc_case_patches"} & submitted_rules(output)
    assert not LOCAL_RULES & submitted_rules(output), submitted_rules(output) & LOCAL_RULES
    planned = planned_jobs(output)
    targets = TARGETS or ["all"]
    assert "lidc_series" not in planned and set(targets) <= set(planned)
    remote = sum(count for rule, count in planned.items() if rule not in LOCAL_RULES)
    assert len(jobs) == remote + len(groups), (planned, len(jobs), len(groups))
    if FULL:  # the local rules ran all the same
        assert (results / "tables" / "table1.md").exists() and (results / "figures" / "fig12_lidc.png").exists()
    # A group job asks for at most the profile's CPUs and memory (or the node's, if smaller).
    for job in groups:
        cpus, memory = cluster.run("squeue", "-h", "--states=all", "-j", job, "-o", "%C|%m").stdout.split("|")
        assert int(cpus) <= min(PROFILE["cores"], cluster.cpus), cpus
        number, unit = re.fullmatch(r"([\d.]+)([MGT]?)", memory.strip()).groups()
        memory_mb = float(number) * {"": 1, "M": 1, "G": 1024, "T": 1024**2}[unit]
        assert memory_mb <= min(PROFILE["resources"]["mem_mb"], cluster.memory_mb), memory
    # Accounting is off: sacct cannot answer, so the status came from squeue.
    sacct = cluster.run("sacct", check=False)
    assert sacct.returncode != 0 and "accounting storage is disabled" in sacct.stderr + sacct.stdout
    assert "Falling back to 'sacct'" not in output


def test_a_failing_job_fails_the_run(cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(
        'rule fails:\n    output: "never.txt"\n    shell: "echo failing on purpose >&2; exit 3"\n'
    )
    # No retry: each failure costs the plugin's growing wait between status checks.
    code, output = run_snakemake(cluster, tmp_path, "--retries", "0", snakefile=tmp_path / "Snakefile", timeout=300)
    assert code != 0, output[-3000:]
    assert not (tmp_path / "never.txt").exists()
    assert "Error in rule fails" in output and "SLURM status is: 'FAILED'" in output
    assert len(submitted(output)) == 1, output[-3000:]
    failed = submitted(output)[0]
    assert cluster.state(failed) == "FAILED"
    slurm_log = tmp_path / ".snakemake" / "slurm_logs" / "rule_fails" / f"{failed}.log"
    assert "failing on purpose" in slurm_log.read_text()  # kept, as the plugin keeps a failed job's log


def test_sbatch_asks_for_what_the_profile_says(cluster, tmp_path):
    # The profile as it is: a GPU for `train`, which this node has none of, so sbatch refuses
    # the job and the plugin shows its sbatch call: one GPU, and requeueable.
    (tmp_path / "Snakefile").write_text('rule train:\n    output: "model.pt"\n    shell: "touch {output}"\n')
    code, output = run_snakemake(
        cluster, tmp_path, "--retries", "0", snakefile=tmp_path / "Snakefile", timeout=300, no_gpus=False
    )
    assert code != 0 and "SLURM sbatch failed" in output, output[-3000:]
    call = output[output.index("sbatch call:") :]
    assert " --gpus=1 " in call and " --requeue " in call, call[:2000]


def test_a_requeued_training_job_resumes_from_its_checkpoint(cluster, ci_on_slurm):
    from drai.checkpoints import load_checkpoint

    workdir, code, _ = ci_on_slurm
    assert code == 0, "needs the data of the ci run on SLURM (test_ci_preset_runs_on_slurm)"
    steps = 200
    run = workdir / "results" / "ci" / "runs" / "lidc" / "cInfoGAN" / "seed0"
    shutil.rmtree(run)
    longer = workdir / "longer.yaml"
    longer.write_text(yaml.safe_dump({"train": {"steps": steps, "checkpoint_every": 5}}))
    proc, log = start_snakemake(
        cluster,
        workdir,
        str((run / "model.pt").relative_to(workdir)),
        *config_args(workdir, longer),
        log_name="requeue.out",
    )
    try:
        wait_until(
            "a checkpoint", lambda: (run / "checkpoint.pt").exists() or proc.poll() is not None, 300, interval=0.05
        )
        assert proc.poll() is None and not (run / "model.pt").exists(), "the run ended before it could be requeued"
        job = submitted(log.read_text())[-1]
        cluster.run("scontrol", "requeue", job)  # SLURM kills the job and queues it again
        wait_until(
            "the job back in the queue",
            lambda: re.search(r"JobState=(PENDING|RUNNING) .*Restarts=1", cluster.show(job)),
            60,
        )
        # A requeued job waits about two minutes (BeginTime) before it may start again; not here.
        if cluster.state(job) == "PENDING":
            cluster.run("scontrol", "update", f"JobId={job}", "StartTime=now")
        code = finish(proc, timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert code == 0, output[-5000:] + cluster.logs()
    assert submitted(output) == [job]  # snakemake waited for the same SLURM job, submitted once
    assert "Restarts=1" in cluster.show(job)
    train_log = (workdir / "results" / "ci" / "logs" / "train" / "lidc" / "cInfoGAN" / "seed0.log").read_text()
    resumed = re.search(r"resuming \S+ from step (\d+)", train_log)
    assert resumed and 0 < int(resumed[1]) < steps, train_log
    assert "starting afresh" not in train_log
    assert pd.read_csv(run / "losses.csv")["step"].tolist() == list(range(1, steps + 1))
    assert load_checkpoint(run / "model.pt")["step"] == steps


def seconds_per_step(patches: Path, variant: str, tmp: Path) -> float:
    """One training step of ``variant`` at the ci preset's settings, timed here (the node is this machine)."""
    from dataclasses import replace

    from drai.config import resolve
    from drai.train.run import load_training_set, train
    from drai.train.settings import train_settings

    config = yaml.safe_load((ROOT / "config.yaml").read_text()) | {"preset": "ci"}
    settings = replace(train_settings(resolve(config), "lidc", 0), steps=40, checkpoint_every=40, average_window=0)
    images, vectors = load_training_set(patches)
    times = []
    train(
        images,
        vectors,
        variant,
        tmp,
        settings,
        device="cpu",
        progress=False,
        after_step=lambda s: times.append(time.monotonic()),
    )
    return (times[-1] - times[9]) / (len(times) - 10)


def test_a_training_job_that_outlives_its_time_limit_continues_in_its_requeued_job(cluster, ci_on_slurm, tmp_path):
    from drai.checkpoints import load_checkpoint

    workdir, code, _ = ci_on_slurm
    assert code == 0, "needs the data of the ci run on SLURM (test_ci_preset_runs_on_slurm)"
    results = workdir / "results" / "ci"
    # About 100 s of training, in jobs of one minute: each stops about 20 s before its limit, after the
    # snakemake and torch start-up, so the run needs several jobs.
    # At least 500 steps: timed while the machine is busy, a step may look several times slower than the job
    # then runs it, and 200 steps at 0.09 s ended inside one job; 500 at 0.5 s take about ten jobs.
    step_s = seconds_per_step(results / "data" / "lidc" / "patches.npz", "DRAI", tmp_path / "timing")
    steps = max(500, min(50000, round(100 / step_s)))
    every = max(1, steps // 5)
    run = results / "runs" / "lidc" / "DRAI" / "seed0"
    shutil.rmtree(run)
    log_file = results / "logs" / "train" / "lidc" / "DRAI" / "seed0.log"
    log_file.unlink(missing_ok=True)
    longer = workdir / "time-limit.yaml"
    longer.write_text(yaml.safe_dump({"train": {"steps": steps, "checkpoint_every": every, "average_window": 0}}))
    proc, log = start_snakemake(
        cluster,
        workdir,
        str((run / "model.pt").relative_to(workdir)),
        *config_args(workdir, longer),
        log_name="time-limit.out",
        set_resources=("train:runtime=1",),
    )
    started = time.monotonic()
    try:
        while proc.poll() is None and time.monotonic() - started < 900:
            jobs = submitted(log.read_text())
            # A requeued job is held about two minutes (BeginTime) before it may start again; not here.
            if jobs and cluster.state(jobs[-1]) == "PENDING" and "Restarts=0" not in cluster.show(jobs[-1]):
                cluster.run("scontrol", "update", f"JobId={jobs[-1]}", "StartTime=now", check=False)
            time.sleep(1)
        code = finish(proc, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert code == 0, output[-5000:] + cluster.logs()
    [job] = submitted(output)  # one sbatch call: the same SLURM job ran again after each stop
    assert "TimeLimit=00:01:00" in cluster.show(job)
    restarts = int(re.search(r"Restarts=(\d+)", cluster.show(job))[1])
    # The workflow replaces a job's log when the job starts again; the run's journal keeps every job's lines.
    journal = (run / "jobs.log").read_text()
    stops = [int(n) for n in re.findall(r"stopped at step (\d+) \(the job's time limit is near\)", journal)]
    resumes = [int(n) for n in re.findall(r"resumed at step (\d+)", journal)]
    assert restarts >= 1 and len(stops) == len(resumes) == restarts, (restarts, journal)
    assert f"SLURM job {job}" in journal and journal.strip().endswith(f"finished at step {steps}")
    # Each job took up where the last stopped: at most one checkpoint interval lost (none when it stops itself).
    assert all(stop - every <= resume <= stop for stop, resume in zip(stops, resumes, strict=True)), journal
    assert "resuming" in log_file.read_text() and "starting afresh" not in log_file.read_text()
    assert pd.read_csv(run / "losses.csv")["step"].tolist() == list(range(1, steps + 1))
    assert load_checkpoint(run / "model.pt")["step"] == steps

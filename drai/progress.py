"""Progress bars that suit where they are shown.

On a terminal, tqdm's bar as usual. In a file (a rule's output under
snakemake, a SLURM log) a redrawn bar would be thousands of carriage-return
"lines", so there the same status is written as one plain line every
``LOG_INTERVAL_S`` seconds, and once more at the end.
"""

from __future__ import annotations

import math
import sys
import time

from tqdm import tqdm

#: Seconds between two status lines in a log file.
LOG_INTERVAL_S = 60.0


class _PlainLines:
    """A stream for tqdm that turns each redraw into one line (nothing for a cleared bar)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\x1b[A", "").replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


class _LogBar(tqdm):
    """A bar for a log: a new postfix or description waits for the next status line instead of forcing one."""

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
        super().set_postfix(ordered_dict, refresh=False, **kwargs)

    def set_description(self, desc=None, refresh=True):
        super().set_description(desc, refresh=False)


def progress_bar(*args, file=None, **kwargs) -> tqdm:
    """``tqdm(*args, **kwargs)`` on a terminal; plain status lines every ``LOG_INTERVAL_S`` otherwise."""
    stream = sys.stderr if file is None else file
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return tqdm(*args, file=stream, **kwargs)
    kwargs.setdefault("mininterval", LOG_INTERVAL_S)
    return _LogBar(*args, file=_PlainLines(stream), ascii=True, dynamic_ncols=False, ncols=100, **kwargs)


class MilestoneLog:
    """One line in the job's log every ``percent`` of a run: the step, its loss terms, the seconds per
    step and the time left, so that ``tail -f`` of a rule's log (a SLURM job's) shows where a long
    run stands. The progress bar goes to the terminal or the scheduler's output, not to that log."""

    def __init__(self, total: int, start: int, logger, percent: float = 5.0, clock=time.monotonic):
        self.total, self.logger, self.clock = total, logger, clock
        self.every = max(1, math.ceil(total * percent / 100))
        self.start_step, self.start_time = start, clock()
        self.last = start

    def update(self, step: int, terms: dict[str, float]) -> None:
        """After ``step`` (with that step's ``terms``): a line when a multiple of the interval was passed."""
        if step // self.every == self.last // self.every and step != self.total:
            return
        self.last = step
        done = step - self.start_step
        seconds_per_step = (self.clock() - self.start_time) / done if done else float("nan")
        left = seconds_per_step * (self.total - step)
        losses = ", ".join(f"{name} {value:.4g}" for name, value in terms.items())
        self.logger.info(
            "step %d/%d (%.0f%%): %s; %.3g s/step, %s left",
            step,
            self.total,
            100 * step / self.total,
            losses,
            seconds_per_step,
            _duration(left),
        )


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unknown time"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"

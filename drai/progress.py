"""Progress bars that suit where they are shown.

On a terminal, tqdm's bar as usual. In a file (a rule's output under
snakemake, a SLURM log) a redrawn bar would be thousands of carriage-return
"lines", so there the same status is written as one plain line every
``LOG_INTERVAL_S`` seconds, and once more at the end.
"""

from __future__ import annotations

import sys

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

"""Mapping a function over jobs in worker processes, with a progress bar."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator

from drai.progress import progress_bar


def progress_map(
    function: Callable,
    jobs: list,
    processes: int = 1,
    desc: str = "",
    unit: str = "it",
    progress: bool = True,
    initializer: Callable | None = None,
    chunksize: int = 4,
) -> Iterator:
    """Yield ``function(job)`` for each job, in order, in ``processes`` forked workers.

    Fork, not spawn: spawn would re-run the calling script, and a Snakemake
    script is ``__main__``.
    """
    with progress_bar(total=len(jobs), desc=desc, unit=unit, disable=not progress) as bar:
        if processes > 1:
            with multiprocessing.get_context("fork").Pool(processes, initializer=initializer) as pool:
                for result in pool.imap(function, jobs, chunksize=chunksize):
                    bar.update()
                    yield result
        else:
            for job in jobs:
                result = function(job)
                bar.update()
                yield result

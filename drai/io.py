"""Atomic file output: a crash never leaves a file that looks finished."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

log = logging.getLogger(__name__)


def _remove_leftovers(path: Path, suffix: str, folders: bool = False) -> None:
    """Remove the temporary files (or folders) an earlier, killed write of ``path`` left.

    Only names of this module's own pattern for ``path`` (``.NAME.XXXXXXXX`` +
    suffix, as tempfile makes them) are touched; each output is written by one
    job at a time, so none of them is in use.
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}{re.escape(suffix)}")
    for entry in path.parent.iterdir():
        if not pattern.fullmatch(entry.name) or entry.is_symlink():
            continue
        if folders and entry.is_dir():
            shutil.rmtree(entry)
        elif not folders and entry.is_file():
            entry.unlink()
        else:
            continue
        log.info("removed %s, left by an interrupted write of %s", entry, path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary name keeps ``path``'s suffix (or ``suffix``) so that writers
    that infer a format from the extension (matplotlib, numpy) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = suffix or "".join(path.suffixes) or ".tmp"
    _remove_leftovers(path, suffix)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(tmp)
    # mkstemp makes the file private; give it the permissions of a normal new file.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


#: The file by which a folder of synthetic data marks itself (readers of real data refuse such a folder).
SYNTHETIC_MARKER = "SYNTHETIC_DATA_NOT_REAL.txt"
#: The line of the marker after which it lists the files the project wrote (path, tab, bytes), one a line.
_FILE_LIST_HEADER = "Files written (path, tab, bytes):"


def mark_synthetic(folder: str | os.PathLike, what: str) -> None:
    """Mark ``folder`` as holding synthetic data this project rendered (``what``).

    Call it last: the marker lists every file then in ``folder`` with its size,
    and :func:`atomic_dir` replaces the folder only while it holds those files
    and no other.
    """
    folder = Path(folder)
    listed = [f"{name}\t{size}" for name, size in sorted(_files_under(folder).items()) if name != SYNTHETIC_MARKER]
    (folder / SYNTHETIC_MARKER).write_text(
        f"{what}\nRendered by the drai workflow from annotations: synthetic, not patient data. "
        "This folder may be replaced when the data is rendered again, as long as it holds only the files below.\n"
        f"{_FILE_LIST_HEADER}\n" + "".join(f"{line}\n" for line in listed)
    )


def is_synthetic(folder: str | os.PathLike) -> bool:
    return (Path(folder) / SYNTHETIC_MARKER).is_file()


def _files_under(folder: Path) -> dict[str, int | None]:
    """Every entry below ``folder`` but its folders: relative POSIX path -> bytes (None: a link or special file)."""
    found = {}
    for parent, folders, names in os.walk(folder):
        for name in names + [f for f in folders if os.path.islink(os.path.join(parent, f))]:
            path = Path(parent, name)
            plain = path.is_file() and not path.is_symlink()
            found[path.relative_to(folder).as_posix()] = path.stat().st_size if plain else None
    return found


def _listed_files(marker: Path) -> dict[str, int] | None:
    """The files a marker lists with their sizes; None for a marker that lists none (an older version's)."""
    lines = marker.read_text(errors="replace").splitlines()
    if _FILE_LIST_HEADER not in lines:
        return None
    listed = {}
    for line in lines[lines.index(_FILE_LIST_HEADER) + 1 :]:
        name, _, size = line.rpartition("\t")
        if name and size.isdigit():
            listed[name] = int(size)
    return listed


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; move it onto ``path`` on success.

    An existing ``path`` is replaced only when it is empty, or marked synthetic
    (:func:`mark_synthetic`) and holding exactly the files its marker lists, at
    their sizes: a folder holding any file this project did not write (a real
    image copied in, a real-data folder configured inside it) is never deleted
    (FileExistsError, before anything is written).
    """
    path = Path(path)
    _check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path, "", folders=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        yield tmp
        if path.exists():
            _check_replaceable(path)
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _check_replaceable(path: Path) -> None:
    if not path.exists():
        return
    if path.is_symlink() or not path.is_dir():
        raise FileExistsError(f"{path}: exists and is not a folder; not replaced")
    if not any(path.iterdir()):
        return
    refusal = f"{path}: exists and holds data this project did not render as synthetic"
    advice = "not replaced: move it away or choose another folder"
    if not is_synthetic(path):
        raise FileExistsError(f"{refusal} (no {SYNTHETIC_MARKER}); {advice}")
    listed = _listed_files(path / SYNTHETIC_MARKER)
    if listed is None:
        raise FileExistsError(
            f"{path}: marked synthetic by an older version of this project, whose {SYNTHETIC_MARKER} does not "
            f"list its files, so files of yours in it cannot be told apart; {advice} "
            "(delete it if it holds nothing of yours)"
        )
    present = _files_under(path)
    present.pop(SYNTHETIC_MARKER)
    foreign = sorted(name for name, size in present.items() if listed.get(name) != size or size is None)
    if foreign:
        raise FileExistsError(
            f"{refusal}: {path / foreign[0]} is not a file it wrote ({len(foreign)} such file(s)); {advice}"
        )


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_csv(path, frame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def write_npz(path, **arrays) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)


#: A line that every figure saved by :func:`save_figure` carries in its lower right corner; the
#: workflow's jobs set it to the preset that made the figure (workflow_scripts/_common.py).
_figure_note: str | None = None


def note_on_figures(text: str | None) -> None:
    """From now on, every figure this process saves says ``text`` (None: nothing)."""
    global _figure_note
    _figure_note = text


def save_figure(fig, path, **kwargs) -> None:
    if _figure_note:
        fig.text(0.998, 0.002, _figure_note, ha="right", va="bottom", fontsize=6, color="0.35")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kwargs)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")

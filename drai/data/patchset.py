"""The patch-set contract: what every ``patches.npz`` holds, and how it is read.

One row per patch. Every patch set has

* ``images``  (N, C, S, S) float16 or float32 in [-1, 1], C the dataset's
  channels. S >= 64 and S - 64 is even: the 64x64 window the models see is
  the centre crop (:func:`drai.data.crops.centre_crop`); the margin is for
  training-time crops.
* ``vectors`` (N, T) float32: the conditioning vector t of each patch, T the
  dataset's width.
* ``splits``  (N,) str: ``"train"`` or ``"test"``.

and, for the whole set, ``dataset`` (the key of its :class:`drai.data.registry.Dataset`)
and ``source`` (where the data came from: ``synthetic``, or the archive or
folder it was read from, as the dataset's ``source`` setting names it). Each
dataset declares its further per-row fields (:attr:`drai.data.registry.Dataset.fields`,
each a :class:`drai.data.registry.Field`: LIDC's nodule ids and size bins,
HAM10000's labels and copies ...); the selections that readers need (training
items, the evaluation split, figure images, retrieval sets) are the dataset's
too, so that no reader branches on a dataset's name.

:meth:`PatchSet.load` enforces all of this (and each dataset's own rules,
:meth:`drai.data.registry.Dataset.contract_errors`: its vector width, labels
within its class names), so that no reader trains or scores on a file that
breaks it; every refusal names the file.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drai.data.crops import centre_crop
from drai.data.registry import datasets, get_dataset
from drai.io import write_npz

#: The per-row fields of every patch set, with what they mean.
COMMON_FIELDS = {
    "images": "(N, C, S, S) float in [-1, 1]; the models see the centre 64x64 crop",
    "vectors": "(N, T) float32: the conditioning vector t",
    "splits": "(N,) str: 'train' or 'test'",
}


class PatchSetError(ValueError):
    """A file that does not hold a patch set as the contract describes it; the message names it."""


@dataclass(frozen=True)
class PatchSet:
    """A dataset's patches: the common fields as attributes, its own in ``fields``."""

    dataset: str
    source: str
    images: np.ndarray
    vectors: np.ndarray
    splits: np.ndarray
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        rows = len(self.images)
        for name, values in (("vectors", self.vectors), ("splits", self.splits)):
            if len(values) != rows:
                raise PatchSetError(f"{self.dataset} patch set: field {name!r} has {len(values)} rows, images {rows}")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, name: str) -> np.ndarray:
        if name in COMMON_FIELDS:
            return getattr(self, name)
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"{self.dataset} patch set has no field {name!r}") from None

    @property
    def is_train(self) -> np.ndarray:
        return self.splits == "train"

    @property
    def is_test(self) -> np.ndarray:
        return self.splits == "test"

    def crops(self, rows=slice(None)) -> np.ndarray:
        """The 64x64 images the models see (centre crops) of ``rows``, float32."""
        return np.ascontiguousarray(centre_crop(self.images[rows]), dtype=np.float32)

    def save(self, path: str | Path) -> None:
        """Written atomically; the dataset's declared fields must all be there."""
        missing = [f.name for f in get_dataset(self.dataset).fields if f.name not in self.fields]
        if missing:
            raise PatchSetError(f"{path}: {self.dataset} patch set without its field(s) {', '.join(missing)}")
        write_npz(
            path,
            images=self.images,
            vectors=self.vectors,
            splits=self.splits,
            **self.fields,
            dataset=np.array(self.dataset),
            source=np.array(self.source),
        )

    @classmethod
    def load(cls, path: str | Path, dataset: str | None = None) -> "PatchSet":
        """Read ``path``; ``dataset`` (when given) must be the one the file holds.

        A file written before patch sets named their dataset is recognised by
        the dataset whose required fields it has.
        """
        arrays = _read_arrays(path)
        missing = [name for name in (*COMMON_FIELDS, "source") if name not in arrays]
        if missing:
            raise PatchSetError(f"{path}: not a patch set: no {', '.join(missing)}")
        stored = str(arrays.pop("dataset")) if "dataset" in arrays else None
        if stored is None:
            fits = [k for k, d in datasets().items() if all(f.name in arrays for f in d.fields if f.default is None)]
            stored = dataset if dataset in fits else (fits[0] if len(fits) == 1 else None)
            if stored is None:
                known = ", ".join(datasets())
                raise PatchSetError(f"{path}: names no dataset, and its fields fit {fits or 'none'} of {known}")
        if dataset is not None and stored != dataset:
            raise PatchSetError(f"{path}: holds {stored} patches, not {dataset}")
        spec = get_dataset(stored)
        rows = len(arrays["images"])
        fields = {}
        for declared in spec.fields:
            if declared.name in arrays:
                if declared.per_row and len(arrays[declared.name]) != rows:
                    raise PatchSetError(
                        f"{path}: field {declared.name!r} has {len(arrays[declared.name])} rows, images {rows}"
                    )
                fields[declared.name] = arrays.pop(declared.name)
            elif declared.default is not None:
                fields[declared.name] = declared.default(rows)
            else:
                raise PatchSetError(
                    f"{path}: {stored} patch set without its field {declared.name!r} ({declared.meaning}); "
                    "written by an older version: rebuild it"
                )
        common = {name: arrays.pop(name) for name in COMMON_FIELDS}
        source = str(arrays.pop("source"))
        fields.update(arrays)  # fields no dataset declares travel along unchanged
        patches = cls(stored, source, **common, fields=fields)
        errors = contract_errors(patches)
        if errors:
            more = f" (and {len(errors) - 1} more: {'; '.join(errors[1:])})" if len(errors) > 1 else ""
            raise PatchSetError(f"{path}: {errors[0]}{more}; not a patch set as the contract describes it")
        return patches


def _read_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``, or PatchSetError naming the file (and the array, where one is at fault)."""
    name = None
    try:
        with np.load(path) as data:
            arrays = {}
            for name in data.files:
                arrays[name] = data[name]
            return arrays
    # A 0-byte file: EOFError; a cut or garbled zip: BadZipFile (a CRC mismatch too) or zlib.error;
    # an object array: ValueError (nothing is unpickled).
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        where = f"array {name!r}: " if name else ""
        reason = str(error) or type(error).__name__
        raise PatchSetError(f"{path}: not a readable patch set ({where}{reason})") from None


#: The values of ``splits``.
SPLITS = ("train", "test")


def contract_errors(patches: PatchSet) -> list[str]:
    """What in ``patches`` breaks the contract (module docstring), each said in a sentence; [] when nothing."""
    spec = get_dataset(patches.dataset)
    images, vectors = patches.images, patches.vectors
    errors = []
    if images.dtype.kind != "f":
        errors.append(f"images are {images.dtype}, not float in [-1, 1] (8-bit values v map to v / 127.5 - 1)")
    if images.ndim != 4 or images.shape[1] != spec.channels or images.shape[2] != images.shape[3]:
        errors.append(
            f"images have shape {images.shape}, not (N, C, S, S) with the {spec.channels} channel(s) of {spec.name}"
        )
    else:
        try:
            centre_crop(images[:0])
        except ValueError as error:
            errors.append(str(error))
    if images.size and images.dtype.kind == "f":
        low, high = float(images.min()), float(images.max())
        if not (np.isfinite(low) and np.isfinite(high)):
            errors.append("images hold NaN or infinite values")
        elif low < -1 or high > 1:
            errors.append(f"images range from {low:g} to {high:g}, not within [-1, 1]")
    if vectors.ndim != 2 or vectors.dtype.kind != "f":
        errors.append(f"vectors are {vectors.dtype} of shape {vectors.shape}, not (N, T) float")
    elif not np.isfinite(vectors).all():
        errors.append("vectors hold NaN or infinite values")
    unknown = sorted(set(np.asarray(patches.splits).astype(str).tolist()) - set(SPLITS))
    if unknown:
        errors.append(f"splits hold {unknown}, not only {' and '.join(SPLITS)}")
    if vectors.ndim == 2:
        errors += spec.contract_errors(patches)
    return errors

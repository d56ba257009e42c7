"""HAM10000 per workflow step: raw files in place, then the patch set with its reports."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from drai.data.ham10000.metadata import DataError, all_classes, find_files, refuse_synthetic
from drai.data.ham10000.patches import (
    CROPS,
    augment,
    build_patches,
    class_counts,
    crop_window,
    cut_patch,
    from_medmnist,
    load_rgb,
)
from drai.data.ham10000.settings import LesionPatchSettings, PatchSetSettings, RawSettings
from drai.data.ham10000.source import download_dataset
from drai.data.ham10000.synthetic import write_dataset
from drai.data.patchset import PatchSet
from drai.io import write_csv, write_json, write_text
from drai.qc import panel_grid, patch_grid

log = logging.getLogger(__name__)


def prepare_raw(settings: RawSettings, manifest_path: str | Path, download: dict | None = None) -> dict:
    """Make the configured source's files available; write a manifest of them.

    ``download``: with source dataverse, fetch missing files with these
    keyword arguments of :func:`download_dataset` (server, doi, retries,
    timeout_s); None: use only what is under ``settings.root``.
    """
    source, root = settings.source, settings.root
    if source == "synthetic":
        # Synthetic images get a folder of their own: raw_dir is for real data only.
        write_dataset(root, settings.synthetic)
    elif source == "dataverse":
        if Path(root).is_dir():
            refuse_synthetic(root)
        if download is not None:
            download_dataset(root, **download)
    elif source == "medmnist":
        path = Path(settings.medmnist_npz)
        if not path.is_file():
            raise DataError(f"{path}: dermamnist_64.npz not found (config key ham10000.medmnist_npz)")
        manifest = {"source": source, "npz": str(path)}
        write_json(manifest_path, manifest)
        return manifest
    else:
        raise DataError(f"unknown ham10000.source {source!r}")
    files = find_files(root)
    manifest = {
        "source": source,
        "root": str(root),
        "metadata": str(files.metadata),
        "images": len(files.images),
        "masks": len(files.masks),
        "test_images": len(files.test_images),
        "ground_truth": None if files.ground_truth is None else str(files.ground_truth),
    }
    write_json(manifest_path, manifest)
    return manifest


def make_patch_set(manifest: dict, settings: PatchSetSettings, outputs: dict, processes: int = 1) -> pd.DataFrame:
    """patches.npz, images.csv, class counts, skipped rows and the QC figure.

    Rows of all seven lesion types: ``class_names`` lists the modelled classes
    (``ham10000.classes``) first, and ``labels`` index it, so a conditioning
    vector's argmax is its label; ``vectors`` are one-hot over the modelled
    classes (zeros for the others) and ``modelled`` marks the rows the
    generative models use. The other types are for the evaluator alone.
    """
    classes = tuple(settings.classes)
    names = all_classes(classes)
    if manifest["source"] == "medmnist":
        # Whole 64x64 images: no margin to store.
        table, patches = from_medmnist(manifest["npz"], names)
        before = table.copy()
        skipped = pd.DataFrame(columns=["image_id", "file", "reason"])
        split_source = "MedMNIST dermamnist_64 (train+val / test)"
        table, patches = augment(
            table, patches, tuple(settings.augment_classes), settings.augment_copies, settings.seed
        )
    else:
        table, patches, skipped, split_source, before = build_patches(
            manifest["root"], settings, processes, allow_synthetic=manifest["source"] == "synthetic"
        )
    class_ids = table["dx"].map({name: i for i, name in enumerate(names)}).to_numpy(np.int64)
    modelled = class_ids < len(classes)
    table = table.assign(class_id=class_ids, modelled=modelled, split_source=split_source)
    PatchSet(
        "ham10000",
        manifest["source"],
        images=patches.astype(np.float16),  # lossless for 8-bit RGB mapped to [-1, 1]
        vectors=np.eye(len(classes) + 1, len(classes), dtype=np.float32)[np.minimum(class_ids, len(classes))],
        splits=table["split"].to_numpy(dtype=str),
        fields=dict(
            labels=class_ids,
            modelled=modelled,
            image_ids=table["image_id"].to_numpy(dtype=str),
            lesion_ids=table["lesion_id"].astype(str).to_numpy(dtype=str),
            augmented=table["augmented"].to_numpy(bool),
            flips=table["flip"].to_numpy(dtype=str),
            class_names=np.array(names),
            split_source=np.array(split_source),
        ),
    ).save(outputs["patches"])
    write_csv(outputs["table"], table)
    counts = class_counts(before, table, names, classes)
    write_csv(outputs["counts_csv"], counts)
    write_text(outputs["counts_md"], _counts_markdown(counts, split_source, manifest["source"]))
    write_csv(outputs["skipped"], skipped)
    for row in skipped.itertuples():
        log.warning("skipped %s (%s): %s", row.image_id, row.file, row.reason)
    lesion = None if manifest["source"] == "medmnist" else settings.lesion  # MedMNIST: whole images, no crop
    ham10000_qc_figure(patches, table, names, outputs["qc"], manifest["source"], classes, lesion=lesion)
    return table


def _counts_markdown(counts: pd.DataFrame, split_source: str, source: str) -> str:
    lines = [
        f"HAM10000 images per class ({source} data; test split: {split_source})",
        "",
        "| class | train before augmentation | train after | test | used by |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['class']} | {r.train_before} | {r.train_after} | {r.test} | "
        f"{'models and evaluator' if r.modelled else 'evaluator only'} |"
        for _, r in counts.iterrows()
    ]
    return "\n".join(lines) + "\n"


def ham10000_qc_figure(
    patches: np.ndarray,
    table: pd.DataFrame,
    classes,
    output,
    source: str,
    modelled=None,
    per_class: int = 8,
    lesion: LesionPatchSettings | None = None,
) -> None:
    """Patches per class, each row saying whether the models use it.

    With ``lesion`` (the crop settings the patches were made with), each image is shown in both crops, the one
    used and the other (cut again from the image file), and a last row shows the patches whose window the border
    rule moved, with the lesion centre marked; without it (MedMNIST's whole images), the patches alone.
    """
    modelled = classes if modelled is None else modelled
    labels = {name: f"{name} ({'modelled' if name in modelled else 'evaluator only'})" for name in classes}
    if lesion is None:
        groups = {labels[name]: np.flatnonzero((table["dx"] == name).to_numpy()) for name in classes}
        titles = [f"{split} {flip}".strip() for split, flip in zip(table["split"], table["flip"], strict=True)]
        patch_grid(patches, groups, titles, f"HAM10000 lesion patches per class ({source} data)", output, per_class)
        return
    rows = qc_rows(patches, table, classes, lesion, labels, pairs=per_class // 2)
    other = next(c for c in CROPS if c != lesion.crop)
    panel_grid(
        rows,
        f"HAM10000 lesion patches per class ({source} data): crop {lesion.crop}, and {other} beside it",
        output,
        note=f"fixed: a window of {lesion.crop_fraction:g} x the image's short side for every lesion; per lesion: "
        f"{lesion.lesion_margin:g} x the lesion's extent. A window that runs past the image's edge is moved "
        "inside it; + marks the lesion centre where it is not the patch centre.",
    )


def qc_rows(
    patches: np.ndarray, table: pd.DataFrame, classes, lesion: LesionPatchSettings, labels: dict, pairs: int = 4
) -> dict[str, list[tuple]]:
    """The QC figure's rows of (image, title, marker) panels: per class, ``pairs`` images in the crop used and in
    the other crop; then up to ``2 * pairs`` patches that the border rule moved most (none: no such row)."""
    other = replace(lesion, crop=next(c for c in CROPS if c != lesion.crop))
    rng = np.random.default_rng(0)
    original = ~table["augmented"].to_numpy(bool)
    centre = (lesion.stored_size - 1) / 2

    def marker(shift_x: float, shift_y: float):
        return (centre + shift_x, centre + shift_y) if np.hypot(shift_x, shift_y) > 0.5 else None

    rows = {}
    for name in classes:
        members = np.flatnonzero((table["dx"] == name).to_numpy() & original)
        chosen = rng.choice(members, size=min(pairs, members.size), replace=False) if members.size else []
        panels = []
        for index in chosen:
            row = table.iloc[index]
            image = load_rgb(row["file"])
            window = crop_window(image.shape[1], image.shape[0], row.centre_x, row.centre_y, row.extent, other)
            moved = window.lesion_in_patch(row.centre_x, row.centre_y, lesion.output_size)
            panels.append(
                (patches[index], lesion.crop.replace("_", " "), marker(row.window_shift_x, row.window_shift_y))
            )
            panels.append((cut_patch(image, window, other), other.crop.replace("_", " "), marker(*moved)))
        rows[f"{labels[name]}\n(n={int((table['dx'] == name).sum())})"] = panels
    shift = np.hypot(table["window_shift_x"].to_numpy(float), table["window_shift_y"].to_numpy(float))
    moved = [i for i in np.argsort(-shift, kind="stable") if original[i] and shift[i] > 0.5][: 2 * pairs]
    if moved:
        rows[f"moved at the border\n(n={int(((shift > 0.5) & original).sum())})"] = [
            (
                patches[i],
                f"{table['dx'].iloc[i]}, {shift[i]:.0f} px",
                marker(table["window_shift_x"].iloc[i], table["window_shift_y"].iloc[i]),
            )
            for i in moved
        ]
    return rows

"""Quality-control figures: a few patches of each group, one row per group."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from drai.io import save_figure


def patch_grid(
    images: np.ndarray,
    groups: dict[str, np.ndarray],
    titles: Sequence[str],
    title: str,
    output,
    per_group: int = 8,
    seed: int = 0,
) -> None:
    """Up to ``per_group`` random patches of each group (label -> indices into ``images``).

    ``images`` are (N, C, H, W) in [-1, 1], gray for one channel, RGB for three;
    ``titles`` label each image.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(groups), per_group, figsize=(per_group * 1.2, len(groups) * 1.3), squeeze=False)
    for row, (label, members) in enumerate(groups.items()):
        members = np.asarray(members)
        chosen = rng.choice(members, size=min(per_group, members.size), replace=False) if members.size else []
        for col in range(per_group):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(chosen):
                ax.set_frame_on(False)
                continue
            image = images[chosen[col]].astype(np.float32)
            if image.shape[0] == 1:
                ax.imshow(image[0], cmap="gray", vmin=-1, vmax=1)
            else:
                ax.imshow(np.clip((image.transpose(1, 2, 0) + 1) / 2, 0, 1))
            ax.set_title(titles[chosen[col]], fontsize=6)
        axes[row, 0].set_ylabel(f"{label}\n(n={members.size})", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, output, dpi=120)
    plt.close(fig)


def panel_grid(rows: dict[str, list[tuple]], title: str, output, note: str = "") -> None:
    """A figure of labelled rows of patches, each panel (image, title, marker).

    ``image`` is (C, H, W) in [-1, 1]; ``marker``, when not None, is an (x, y)
    point in the image's pixels drawn as a red cross (e.g. a lesion centre that
    is not the patch's). ``note`` is printed under the figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max((len(panels) for panels in rows.values()), default=1)
    fig, axes = plt.subplots(len(rows), columns, figsize=(columns * 1.2, len(rows) * 1.35 + 0.4), squeeze=False)
    for row, (label, panels) in enumerate(rows.items()):
        for col in range(columns):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(panels):
                ax.set_frame_on(False)
                continue
            image, caption, marker = panels[col]
            image = np.asarray(image, np.float32)
            if image.shape[0] == 1:
                ax.imshow(image[0], cmap="gray", vmin=-1, vmax=1)
            else:
                ax.imshow(np.clip((image.transpose(1, 2, 0) + 1) / 2, 0, 1))
            if marker is not None:
                ax.plot(*marker, marker="+", color="red", markersize=7, markeredgewidth=1.2)
            ax.set_title(caption, fontsize=6)
        axes[row, 0].set_ylabel(label, fontsize=7)
    fig.suptitle(title, fontsize=9)
    if note:
        fig.text(0.5, 0.005, note, ha="center", va="bottom", fontsize=6, wrap=True)
    fig.tight_layout(rect=(0, 0.03 if note else 0, 1, 1))
    save_figure(fig, output, dpi=120)
    plt.close(fig)

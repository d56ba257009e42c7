"""``drai``: use trained models beyond the reproduction.

drai variants                      list the model variants
drai card VARIANT                  a variant's model card (its losses)
drai sample MODEL --data P --index I [-n 8] -o out.png
    images for the conditioning vector of patch I (shown first), style sampled
drai sample MODEL --vector 0,1,0,... [-n 8] -o out.png
drai hybrid MODEL --data P --content I --style J -o out.png
    content of I with the style of J, both ways of Section II-F:
    content from I's conditioning vector, and content inferred from image I
drai neighbours MODEL --data P --query I [--by style|content] [-k 5] [-o out.png]
    nearest patches to I by style or content code (mean absolute error)
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image

from drai.data.patchset import PatchSet
from drai.data.registry import get_dataset
from drai.models.variants import VARIANTS, get_variant, model_card


def _load_patches(path: str) -> tuple[np.ndarray, np.ndarray]:
    """The centre 64x64 crops and vectors of the rows the models are conditioned on."""
    patches = PatchSet.load(path)
    rows = get_dataset(patches.dataset).model_rows(patches)
    return patches.crops(rows), patches.vectors[rows].astype(np.float32)


def save_grid(rows: list[np.ndarray], path: str) -> None:
    """Rows of images (N, C, H, W) in [-1, 1] into one PNG, a blank border around the figures' mosaic."""
    from drai.figures.layout import PAD, MosaicGrid, empty_cells, mosaic

    cells = empty_cells(len(rows), max(len(r) for r in rows), rows[0])
    for i, row in enumerate(rows):
        cells[i, : len(row)] = row
    canvas, _, _ = mosaic(MosaicGrid(cells))
    canvas = np.pad(canvas, ((PAD, PAD), (PAD, PAD), (0, 0)), constant_values=1.0)
    Image.fromarray((canvas * 255).round().astype(np.uint8)).save(path)


def _model(path: str):
    from drai.checkpoints import load_model

    return load_model(path)


def cmd_sample(args) -> None:
    from drai.figures.codes import content_of, generate, sample_styles

    model = _model(args.model)
    if args.vector is not None:
        t, shown = np.array([[float(v) for v in args.vector.split(",")]], np.float32), []
    else:
        images, vectors = _load_patches(args.data)
        t, shown = vectors[args.index : args.index + 1], [images[args.index : args.index + 1]]
    if t.shape[1] != model.shape.t_dim:
        sys.exit(f"drai sample: the vector has {t.shape[1]} values, the model takes {model.shape.t_dim}")
    z = sample_styles(model, args.n, args.seed)
    c = np.repeat(content_of(model, t), args.n, axis=0)
    save_grid([np.concatenate([*shown, generate(model, z, c)])], args.output)
    print(f"wrote {args.output}")


def cmd_hybrid(args) -> None:
    from drai.figures.codes import content_of, generate, infer_codes

    model = _model(args.model)
    images, vectors = _load_patches(args.data)
    x = images[[args.content, args.style]]
    z, c = infer_codes(model, x)
    row = [x, generate(model, z[1:2], content_of(model, vectors[args.content : args.content + 1]))]
    if c is not None:
        row.append(generate(model, z[1:2], c[0:1]))
    save_grid([np.concatenate(row)], args.output)
    print(
        f"wrote {args.output}: content, style, hybrid from t"
        + (", hybrid from the content image" if c is not None else "")
    )


def cmd_neighbours(args) -> None:
    from drai.figures.codes import infer_codes
    from drai.metrics.retrieval import nearest

    model = _model(args.model)
    images, _ = _load_patches(args.data)
    z, c = infer_codes(model, images)
    codes = z if args.by == "style" or c is None else c
    # The query is its own nearest item (distance 0); every other one keeps its rank (ties by index).
    found = [int(i) for i in nearest(codes[args.query : args.query + 1], codes, args.k + 1)[0] if i != args.query]
    found = found[: args.k]
    print(" ".join(str(i) for i in found))
    if args.output:
        save_grid([images[[args.query] + found]], args.output)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="drai", description="Use trained DRAI-family models.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("variants", help="list the model variants")
    card = sub.add_parser("card", help="a variant's model card")
    card.add_argument("variant")
    sample = sub.add_parser("sample", help="generate images for a conditioning vector")
    sample.add_argument("model")
    sample.add_argument("--vector", help="comma-separated conditioning vector")
    sample.add_argument("--data", help="patches.npz to take the vector (and reference image) from")
    sample.add_argument("--index", type=int, default=0)
    sample.add_argument("-n", type=int, default=8)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("-o", "--output", default="samples.png")
    hybrid = sub.add_parser("hybrid", help="mix the content of one image with the style of another")
    hybrid.add_argument("model")
    hybrid.add_argument("--data", required=True)
    hybrid.add_argument("--content", type=int, required=True)
    hybrid.add_argument("--style", type=int, required=True)
    hybrid.add_argument("-o", "--output", default="hybrid.png")
    neighbours = sub.add_parser("neighbours", help="nearest patches by style or content code")
    neighbours.add_argument("model")
    neighbours.add_argument("--data", required=True)
    neighbours.add_argument("--query", type=int, required=True)
    neighbours.add_argument("--by", choices=("style", "content"), default="content")
    neighbours.add_argument("-k", type=int, default=5)
    neighbours.add_argument("-o", "--output")
    args = parser.parse_args(argv)
    if args.command == "variants":
        for variant in VARIANTS.values():
            print(f"{variant.name:20s} {variant.summary}")
    elif args.command == "card":
        try:
            print(model_card(get_variant(args.variant)), end="")
        except ValueError as error:
            parser.exit(2, f"drai card: {error}\n")
    else:
        from drai.checkpoints import CheckpointError

        if args.command == "sample" and (args.vector is None) == (args.data is None):
            parser.error("sample takes either --vector or --data")
        command = {"sample": cmd_sample, "hybrid": cmd_hybrid, "neighbours": cmd_neighbours}[args.command]
        try:
            command(args)
        except CheckpointError as error:
            parser.exit(2, f"drai {args.command}: {error}\n")


if __name__ == "__main__":
    main()

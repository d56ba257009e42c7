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
import torch
from PIL import Image

from drai.data.crops import centre_crop
from drai.models.variants import VARIANTS, get_variant, model_card


def _load_patches(path: str) -> tuple[np.ndarray, np.ndarray]:
    """The centre 64x64 crops and vectors of the rows the models are conditioned on (``modelled``)."""
    with np.load(path) as data:
        keep = data["modelled"] if "modelled" in data.files else slice(None)
        return (centre_crop(data["images"][keep]).astype(np.float32), data["vectors"][keep].astype(np.float32))


def _to_uint8(images: torch.Tensor | np.ndarray) -> list[np.ndarray]:
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else images
    array = ((np.clip(array, -1, 1) + 1) * 127.5).round().astype(np.uint8)
    return [a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0) for a in array]


def save_grid(rows: list[list[np.ndarray]], path: str, pad: int = 2) -> None:
    """Rows of equally sized images into one PNG (gray or RGB)."""
    size = rows[0][0].shape[0]
    columns = max(len(r) for r in rows)
    rgb = rows[0][0].ndim == 3
    canvas = np.full(
        (len(rows) * (size + pad) + pad, columns * (size + pad) + pad) + ((3,) if rgb else ()), 255, np.uint8
    )
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            y, x = pad + i * (size + pad), pad + j * (size + pad)
            canvas[y : y + size, x : x + size] = image
    Image.fromarray(canvas).save(path)


def _model(path: str):
    from drai.checkpoints import load_model

    return load_model(path)


@torch.no_grad()
def cmd_sample(args) -> None:
    model = _model(args.model)
    reference = []
    if args.vector is not None:
        t = torch.tensor([[float(v) for v in args.vector.split(",")]])
    else:
        images, vectors = _load_patches(args.data)
        t = torch.from_numpy(vectors[args.index : args.index + 1])
        reference = _to_uint8(images[args.index : args.index + 1])
    if t.shape[1] != model.shape.t_dim:
        sys.exit(f"drai sample: the vector has {t.shape[1]} values, the model takes {model.shape.t_dim}")
    noise = torch.Generator().manual_seed(args.seed)
    c = model.content_of(t).repeat(args.n, 1)
    z = torch.randn(args.n, model.shape.z_dim, generator=noise)
    save_grid([reference + _to_uint8(model.generate(z, c))], args.output)
    print(f"wrote {args.output}")


@torch.no_grad()
def cmd_hybrid(args) -> None:
    model = _model(args.model)
    images, vectors = _load_patches(args.data)
    x = torch.from_numpy(images[[args.content, args.style]])
    z, c = model.infer(x)
    from_vector = model.generate(z[1:2], model.content_of(torch.from_numpy(vectors[args.content : args.content + 1])))
    row = _to_uint8(x) + _to_uint8(from_vector)
    if c is not None:
        row += _to_uint8(model.generate(z[1:2], c[0:1]))
    save_grid([row], args.output)
    print(
        f"wrote {args.output}: content, style, hybrid from t"
        + (", hybrid from the content image" if c is not None else "")
    )


@torch.no_grad()
def cmd_neighbours(args) -> None:
    model = _model(args.model)
    images, _ = _load_patches(args.data)
    codes = []
    for start in range(0, len(images), 256):
        z, c = model.infer(torch.from_numpy(images[start : start + 256]))
        codes.append(z if args.by == "style" or c is None else c)
    codes = torch.cat(codes)
    distance = (codes - codes[args.query]).abs().mean(dim=1)
    distance[args.query] = float("inf")
    nearest = torch.argsort(distance)[: args.k].tolist()
    print(" ".join(str(i) for i in nearest))
    if args.output:
        save_grid([_to_uint8(images[[args.query] + nearest])], args.output)


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

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
from pathlib import Path

import numpy as np
from PIL import Image

from drai.data.patchset import PatchSet
from drai.data.registry import UnknownDatasetError, add_dataset_folders, get_dataset
from drai.models.variants import VARIANTS, get_variant, model_card


class UsageError(Exception):
    """Bad input to a command (a missing file, an index out of range): one line, no traceback."""


def _load_patches(path: str) -> tuple[np.ndarray, np.ndarray]:
    """The centre 64x64 crops and vectors of the rows the models are conditioned on."""
    if not Path(path).is_file():
        raise UsageError(f"--data {path}: no such file")
    try:
        patches = PatchSet.load(path)
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"--data {path}: not a patch set the workflow wrote ({error})") from None
    rows = get_dataset(patches.dataset).model_rows(patches)
    return patches.crops(rows), patches.vectors[rows].astype(np.float32)


def _check_index(option: str, index: int, count: int, data: str) -> None:
    if not 0 <= index < count:
        raise UsageError(
            f"{option} {index}: out of range, {data} has {count} patches the models are conditioned on "
            f"(0 to {count - 1})"
        )


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
    from drai.figures.arrays import content_of, generate, sample_styles

    model = _model(args.model)
    if args.vector is not None:
        try:
            t, shown = np.array([[float(v) for v in args.vector.split(",")]], np.float32), []
        except ValueError:
            raise UsageError(f"--vector {args.vector}: not comma-separated numbers") from None
    else:
        images, vectors = _load_patches(args.data)
        _check_index("--index", args.index, len(images), args.data)
        t, shown = vectors[args.index : args.index + 1], [images[args.index : args.index + 1]]
    if t.shape[1] != model.shape.t_dim:
        raise UsageError(f"the vector has {t.shape[1]} values, the model takes {model.shape.t_dim}")
    z = sample_styles(model, args.n, args.seed)
    c = np.repeat(content_of(model, t), args.n, axis=0)
    save_grid([np.concatenate([*shown, generate(model, z, c)])], args.output)
    print(f"wrote {args.output}")


def cmd_hybrid(args) -> None:
    from drai.figures.arrays import content_of, generate, infer_codes

    model = _model(args.model)
    images, vectors = _load_patches(args.data)
    _check_index("--content", args.content, len(images), args.data)
    _check_index("--style", args.style, len(images), args.data)
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
    from drai.figures.arrays import infer_codes
    from drai.metrics.retrieval import nearest

    model = _model(args.model)
    images, _ = _load_patches(args.data)
    _check_index("--query", args.query, len(images), args.data)
    z, c = infer_codes(model, images)
    codes = z if args.by == "style" or c is None else c
    # The query is its own nearest item (distance 0); every other one keeps its rank (ties by index).
    found = [int(i) for i in nearest(codes[args.query : args.query + 1], codes, args.k + 1)[0] if i != args.query]
    found = found[: args.k]
    print(" ".join(str(i) for i in found))
    if args.output:
        save_grid([images[[args.query] + found]], args.output)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("drai")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drai", description="Use trained DRAI-family models.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--dataset-folder",
        action="append",
        default=[],
        metavar="FOLDER",
        help="a folder of dataset packages beyond drai/data/ (the config's dataset_folders), for a model of one; "
        "may be given more than once",
    )
    sub = parser.add_subparsers(dest="command", required=True, help="what to do")
    sub.add_parser("variants", help="list the model variants")
    card = sub.add_parser("card", help="a variant's model card")
    card.add_argument("variant", help="a variant's name, as `drai variants` lists them")
    model_help = "a trained model: a run's model.pt (results/<preset>/runs/<dataset>/<variant>/seed<N>/model.pt)"
    data_help = "the patch set the model was trained on (results/<preset>/data/<dataset>/patches.npz)"
    sample = sub.add_parser("sample", help="generate images for a conditioning vector")
    sample.add_argument("model", help=model_help)
    sample.add_argument("--vector", help="comma-separated conditioning vector (instead of --data and --index)")
    sample.add_argument("--data", help=data_help + ", to take the vector and a reference image from")
    sample.add_argument("--index", type=int, default=0, help="the patch whose vector is used (default 0)")
    sample.add_argument("-n", type=_positive, default=8, help="images to generate, each with its own style (default 8)")
    sample.add_argument("--seed", type=int, default=0, help="seed of the sampled styles (default 0)")
    sample.add_argument("-o", "--output", default="samples.png", help="the PNG to write (default samples.png)")
    hybrid = sub.add_parser("hybrid", help="mix the content of one image with the style of another")
    hybrid.add_argument("model", help=model_help)
    hybrid.add_argument("--data", required=True, help=data_help)
    hybrid.add_argument("--content", type=int, required=True, help="the patch whose content is kept")
    hybrid.add_argument("--style", type=int, required=True, help="the patch whose style is taken")
    hybrid.add_argument("-o", "--output", default="hybrid.png", help="the PNG to write (default hybrid.png)")
    neighbours = sub.add_parser("neighbours", help="nearest patches by style or content code")
    neighbours.add_argument("model", help=model_help)
    neighbours.add_argument("--data", required=True, help=data_help)
    neighbours.add_argument("--query", type=int, required=True, help="the patch whose neighbours are sought")
    neighbours.add_argument(
        "--by", choices=("style", "content"), default="content", help="the code compared (default content)"
    )
    neighbours.add_argument("-k", type=_positive, default=5, help="neighbours to list (default 5)")
    neighbours.add_argument("-o", "--output", help="a PNG of the query and its neighbours (default: none)")
    return parser


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        add_dataset_folders(args.dataset_folder)
    except ValueError as error:
        parser.exit(2, f"drai: --dataset-folder {error}\n")
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
        except (CheckpointError, UsageError, UnknownDatasetError) as error:
            parser.exit(2, f"drai {args.command}: {error}\n")


if __name__ == "__main__":
    main()

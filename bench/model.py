"""Model-level latency table (issue 3): encoder vs optimisation-based inversion, manipulation, attribute definition.

python -m bench.model --checkpoint checkpoints/celeba64 --data ../shared/data/celeba64
"""

from __future__ import annotations

import argparse

import torch

from bench.inversion import invert
from bench.timing import median_seconds
from model.attributes import AttributeClassifier, builtin_directory, fit_binary
from model.checkpoint import load_model
from model.d2c import encode_all
from model.data import load_dataset
from model.manipulation import default_settings, manipulate


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((-10 * torch.log10((a - b).pow(2).flatten(1).mean(dim=1))).mean())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.model", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default="checkpoints/celeba64")
    parser.add_argument("--data", default="../shared/data/celeba64")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint, args.device)
    test = load_dataset(args.data, split="test", limit=16)
    images = test.float_images(slice(None)).to(args.device)
    rows = []
    # 1. one encoder pass vs 100 Adam iterations through the decoder, on the same 4 images
    batch = images[:4]
    encode_seconds, latents = median_seconds(lambda: model.encode(batch), device=args.device)
    invert_seconds, inverted = median_seconds(lambda: invert(model, batch, 100).latents, repeats=1, device=args.device)
    rows.append(
        ("encode (4 images)", f"{encode_seconds * 1000:.1f} ms", f"PSNR {psnr(model.decode(latents), batch):.2f} dB")
    )
    rows.append(
        (
            "optimisation inversion, 100 Adam steps (4 images)",
            f"{invert_seconds * 1000:.0f} ms",
            f"PSNR {psnr(model.decode(inverted), batch):.2f} dB",
        )
    )
    rows.append(("speed ratio inversion / encode", f"{invert_seconds / encode_seconds:.0f}x", ""))
    # 2. manipulation (paper procedure and fast mode, tuned defaults) at batch 1 and 16
    classifier = AttributeClassifier.load(builtin_directory(args.checkpoint), "blond")
    settings = default_settings([(classifier, True)])
    for size in (1, 16):
        for mode in ("paper", "fast"):

            def edit(size=size, mode=mode):
                return model.decode(
                    manipulate(model, model.encode(images[:size]), [(classifier, True)], settings, mode=mode)
                )

            seconds, _ = median_seconds(edit, repeats=3, device=args.device)
            rows.append(
                (
                    f"edit, {mode}, batch {size} (encode + edit + decode)",
                    f"{seconds * 1000:.0f} ms",
                    f"{seconds / size * 1000:.0f} ms per image",
                )
            )
    # 3. define an attribute from 100 images: encode them, fit with 5-fold CV
    examples = load_dataset(args.data, split="train", limit=100)
    labels = examples.attribute("Smiling").bool()

    def define():
        example_latents = encode_all(model, examples.images)
        return fit_binary("bench_smiling", example_latents[labels], example_latents[~labels])

    seconds, fitted = median_seconds(define, repeats=3, device=args.device)
    rows.append(
        (
            "define an attribute from 100 images (encode + fit)",
            f"{seconds * 1000:.0f} ms",
            f"CV accuracy {fitted.metadata['cv_accuracy']:.2f}",
        )
    )
    print(f"threads: {torch.get_num_threads()}, checkpoint: {args.checkpoint}\n")
    print("| measurement | time | note |\n| --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()

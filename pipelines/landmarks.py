"""Measure where the five face landmarks sit in the training framing: the template faces are aligned onto.

    python -m pipelines.landmarks --data ../shared/data/celeba64 [--count 2000]

Each train image is enlarged 4x (the HOG detector misses faces under about 80 px), its face detected and its five
landmarks predicted; the positions are normalised to the image (0 = left or top edge, 1 = right or bottom edge)
and averaged. Prints the mean positions as the constants of `faces/template.py`, and how many images were used
and how many had no face found.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from faces.detection import FaceFinder

UPSCALE = 4


def normalised_landmarks(finder: FaceFinder, image: np.ndarray) -> np.ndarray | None:
    """The largest face's landmarks in [0, 1] image units, or None when no face is found."""
    height, width = image.shape[:2]
    longest = UPSCALE * max(height, width)
    faces = finder.find(image, min_side=longest, max_side=longest)  # searched (and predicted) enlarged 4x
    if not faces:
        return None
    # pixel centres sit at integers: the edge-based coordinate is the centre + 0.5
    return (faces[0].landmarks + 0.5) / np.array([width, height])


def measure(images: list[Path]) -> tuple[np.ndarray, int, int]:
    """(mean normalised landmarks 5 x 2, images used, images without a face found)."""
    finder, found, failed = FaceFinder(), [], 0
    for path in images:
        landmarks = normalised_landmarks(finder, np.asarray(Image.open(path).convert("RGB")))
        if landmarks is None:
            failed += 1
        else:
            found.append(landmarks)
    if not found:
        raise SystemExit(f"no face found in any of the {len(images)} images")
    return np.mean(found, axis=0), len(found), failed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.landmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the CelebA-64 folder (its train/ is measured)")
    parser.add_argument("--count", type=int, default=2000, help="the first COUNT train images, in name order")
    args = parser.parse_args(argv)
    images = sorted((args.data / "train").glob("*.jpg"))[: args.count]
    if not images:
        raise SystemExit(f"no .jpg images in {args.data / 'train'}")
    template, used, failed = measure(images)
    print(f"{used} images used, {failed} without a face found (of the first {len(images)} in {args.data / 'train'})")
    print(f"# python -m pipelines.landmarks --data {args.data} --count {args.count}: {used} images, {failed} failed")
    print("TEMPLATE = (")
    for x, y in template:
        print(f"    ({x:.4f}, {y:.4f}),")
    print(")")


if __name__ == "__main__":
    main()

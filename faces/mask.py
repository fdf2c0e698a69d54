"""The paste-back mask: where the decoded edit changed the frame, feathered, so nothing else is touched.

The decoder changes a little everywhere when the latent moves; that level (the least-changed quarter of the frame)
is taken as noise, and only changes clearly above it are kept. The mask then grows a little and is blurred, so it
has no hard edge, and fades to zero at the frame's border, so the frame leaves no seam in the photo.
"""
from __future__ import annotations

import cv2
import numpy as np

CHANGE_FLOOR = 0.02  # about 5 / 255: a change below this is not kept whatever the noise
NOISE_PERCENTILE = 25  # the noise level: this percentile of the frame's change magnitudes
NOISE_FACTOR = 2.0  # a change counts from this many times the noise; fully at twice that
GROW = 1 / 32  # dilation radius, as a share of the frame (2 px at 64)
FEATHER = 1 / 32  # Gaussian blur sigma, as a share of the frame
BORDER_FADE = 1 / 8  # the mask fades to zero over this share of the frame at each border


def border_fade(resolution: int) -> np.ndarray:
    """resolution x resolution weights: 0 on the outermost pixels, rising linearly to 1 over BORDER_FADE."""
    index = np.arange(resolution, dtype=np.float32)
    ramp = np.clip(np.minimum(index, resolution - 1 - index) / (BORDER_FADE * resolution), 0.0, 1.0)
    return ramp[:, None] * ramp[None, :]


def change_mask(before: np.ndarray, after: np.ndarray, fade_border: bool = True) -> np.ndarray:
    """Weights in [0, 1] (H x W float32) of where `after` differs from `before` (H x W x 3 floats in [0, 1]) by more
    than the noise; zero wherever nothing changed, and at the border when `fade_border`."""
    magnitude = np.abs(after.astype(np.float32) - before.astype(np.float32)).max(axis=2)
    start = max(CHANGE_FLOOR, NOISE_FACTOR * float(np.percentile(magnitude, NOISE_PERCENTILE)))
    weight = np.clip((magnitude - start) / start, 0.0, 1.0)
    resolution = magnitude.shape[0]
    radius = max(1, round(GROW * resolution))
    weight = cv2.dilate(weight, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    weight = cv2.GaussianBlur(weight, (0, 0), FEATHER * resolution)
    if fade_border:
        weight *= border_fade(resolution)
    return weight.astype(np.float32)

"""The paste-back mask: where the decoded edit changed the frame, feathered, so nothing else is touched.

When the latent moves, the decoder changes a little everywhere; the frame's median change is taken as that spread
level, and a pixel counts from half of it (fully from the median), never below CHANGE_FLOOR. Measured with the
oracle on 100 CelebA-64 test faces per row, whole frames without the border fade (success / preservation, no mask
-> this mask): blond add 0.83/0.840 -> 0.82/0.866, blond remove 0.89/0.831 -> 0.90/0.856, smiling add
0.87/0.885 -> 0.87/0.889, male add 0.69/0.783 -> 0.62/0.794. Counting from the full median keeps more
(preservation 0.89-0.92) but loses successes (blond add 0.68, male add 0.29).
The mask then grows a little and is blurred, so it has no hard edge, and fades to zero at the frame's border, so
the frame leaves no seam in the photo.
"""
from __future__ import annotations

import cv2
import numpy as np

CHANGE_FLOOR = 0.02  # about 5 / 255: a change below this is never kept
SPREAD_SHARE = 0.5  # a change counts from this share of the frame's median change, fully from twice that
SMOOTH = 1 / 64  # Gaussian sigma on the change magnitude, as a share of the frame, so single pixels do not count
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
    than the spread level; zero wherever nothing changed, and at the border when `fade_border`."""
    resolution = before.shape[0]
    magnitude = np.abs(after.astype(np.float32) - before.astype(np.float32)).max(axis=2)
    magnitude = cv2.GaussianBlur(magnitude, (0, 0), SMOOTH * resolution)
    start = max(CHANGE_FLOOR, SPREAD_SHARE * float(np.median(magnitude)))
    weight = np.clip((magnitude - start) / start, 0.0, 1.0)
    radius = max(1, round(GROW * resolution))
    weight = cv2.dilate(weight, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    weight = cv2.GaussianBlur(weight, (0, 0), FEATHER * resolution)
    if fade_border:
        weight *= border_fade(resolution)
    return weight.astype(np.float32)

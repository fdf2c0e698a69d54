"""Carrying a frame-resolution change back into the full-resolution photo through the inverse of its placement.

Only the change is carried (the photo plus the upscaled residual), so the photo keeps its own detail, and a pixel
the residual does not reach keeps its exact bytes.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from faces.alignment import inverse, map_points

BAND_ROWS = 512  # the photo is updated in bands of rows, so a face filling a 48 MP photo needs little memory


def frame_bounds(matrix: np.ndarray, resolution: int, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the photo pixels the frame covers, clipped to the photo (may be empty)."""
    edges = np.array([[-0.5, -0.5], [resolution - 0.5, -0.5], [resolution - 0.5, resolution - 0.5],
                      [-0.5, resolution - 0.5]])
    corners = map_points(inverse(matrix), edges)
    # the pixels whose centres lie inside the frame's edges
    left, top = (max(0, math.ceil(value)) for value in corners.min(axis=0))
    right, bottom = (min(limit, math.floor(value) + 1) for value, limit in zip(corners.max(axis=0), (width, height)))
    return top, bottom, left, right


def add_residual(photo: np.ndarray, matrix: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """The photo (RGB uint8) plus `residual` (frame-resolution float, 1 = full scale) upscaled through the inverse
    of `matrix` (photo -> frame). Past the frame's edge the residual repeats its edge pixels."""
    result = photo.copy()
    top, bottom, left, right = frame_bounds(matrix, residual.shape[0], *photo.shape[:2])
    residual = np.ascontiguousarray(residual, dtype=np.float32) * 255.0
    for band_top in range(top, bottom, BAND_ROWS):
        band_bottom = min(band_top + BAND_ROWS, bottom)
        shifted = matrix.copy()
        shifted[:, 2] += matrix[:, :2] @ np.array([left, band_top], np.float64)  # band pixel (0, 0) is (left, top)
        change = cv2.warpAffine(residual, shifted, (right - left, band_bottom - band_top),
                                flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        band = result[band_top:band_bottom, left:right]
        band[...] = np.clip(np.rint(band.astype(np.float32) + change.reshape(band.shape)), 0, 255).astype(np.uint8)
    return result

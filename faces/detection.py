"""Finding faces and their five landmarks: dlib's HOG detector, then its 5-point shape predictor.

The detector runs on a resized copy (large photos shrunk for speed, small ones enlarged because the HOG detector
misses faces under about 80 px); the landmarks are predicted at the larger of the two resolutions.
Coordinates are photo pixels with pixel centres at integers (OpenCV's and dlib's convention).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import dlib
import numpy as np

from faces.models import LANDMARKS_5, model_file

PHOTO_MIN_SIDE = 256  # a 64-px face crop is searched at 4x, where the detector finds the most of them
PHOTO_MAX_SIDE = 800  # 35-50 ms of CPU per photo; faces under a tenth of the longest side are missed


@dataclass(frozen=True, eq=False)
class Face:
    """A face in a photo: its detection box and its five landmarks, in the photo's pixels."""

    box: tuple[int, int, int, int]  # x, y, width, height
    landmarks: np.ndarray  # 5 x 2 (x, y): outer and inner corner of the image-right eye, then of the image-left eye,
    # then the base of the nose (dlib's 5-point order)

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]


def detection_scale(height: int, width: int, min_side: int, max_side: int) -> float:
    """The factor that brings the longest side into [min_side, max_side] (1 when it already is)."""
    longest = max(height, width)
    if longest > max_side:
        return max_side / longest
    if longest < min_side:
        return min_side / longest
    return 1.0


class FaceFinder:
    """The detector and the landmark predictor, loaded once (about 10 MB); reuse one instance per process."""

    def __init__(self):
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(model_file(LANDMARKS_5)))

    def _detect(self, image: np.ndarray, min_side: int, max_side: int) -> tuple[np.ndarray, float, list]:
        """(the resized copy searched, its scale, dlib's rectangles on it)."""
        height, width = image.shape[:2]
        scale = detection_scale(height, width, min_side, max_side)
        copy = np.ascontiguousarray(image)
        if scale != 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            copy = cv2.resize(copy, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        return copy, scale, list(self.detector(copy, 0))

    def find(self, image: np.ndarray, min_side: int = PHOTO_MIN_SIDE, max_side: int = PHOTO_MAX_SIDE) -> list[Face]:
        """Every frontal face in an RGB uint8 image with its landmarks, largest first.

        Landmarks are predicted on the photo itself, or on the enlarged copy when the photo was enlarged (dlib's
        landmarks are whole pixels: on a 64-px face that would be coarse)."""
        copy, scale, rects = self._detect(image, min_side, max_side)
        found = []
        for rect in rects:
            # dlib's right and bottom are inclusive pixel indices: the box's edges are left and right + 1
            left, top = rect.left() / scale, rect.top() / scale
            box = (round(left), round(top), round((rect.right() + 1) / scale - left),
                   round((rect.bottom() + 1) / scale - top))
            if scale > 1:
                landmarks = (self._predict(copy, rect) + 0.5) / scale - 0.5
            else:
                landmarks = self.landmarks(image, box)
            found.append(Face(box, landmarks))
        return sorted(found, key=lambda face: face.area, reverse=True)

    def landmarks(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The five landmarks (5 x 2 float) of the face inside `box` (x, y, width, height)."""
        x, y, w, h = box
        return self._predict(np.ascontiguousarray(image), dlib.rectangle(x, y, x + w - 1, y + h - 1))

    def _predict(self, image: np.ndarray, rect: dlib.rectangle) -> np.ndarray:
        shape = self.predictor(image, rect)
        return np.array([[point.x, point.y] for point in shape.parts()], dtype=np.float64)

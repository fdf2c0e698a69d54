"""Cutting the checkpoint's training framing out of a photo and pasting an edit back at full resolution.

The edit is transferred as a residual (decoded edit minus decoded reconstruction), so the photo keeps its
own detail where the edit changes nothing, and blended in with a soft elliptical mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from workers.errors import JobInputError

# CelebA-64's frame measured against Haar face boxes on its own images: the frame is 1.45 face widths
# wide and centred 0.095 face widths above the box centre
FRAME_PER_FACE = 1.45
FRAME_SHIFT = -0.095
DETECT_SIDE = 640  # faces are searched on a copy at most this large, for speed
EXAMPLE_DETECT_SIDE = 160  # attribute examples: many images, usually close-ups, so a coarser search suffices
FEATHER = 0.3  # share of the mask radius over which the blend fades out


@dataclass(frozen=True)
class Frame:
    left: int
    top: int
    width: int
    height: int
    feather: bool = True  # False when the frame is the whole image (nothing to blend into)


def _cascade() -> cv2.CascadeClassifier:
    path = getattr(getattr(cv2, "data", None), "haarcascades", "") + "haarcascade_frontalface_default.xml"
    if not hasattr(cv2, "CascadeClassifier") or cv2.CascadeClassifier(path).empty():
        raise RuntimeError(f"OpenCV {cv2.__version__} ships no Haar face cascade; install opencv-python-headless<5")
    return cv2.CascadeClassifier(path)


class FaceDetector:
    def __init__(self):
        self.cascade = _cascade()

    def largest_face(self, pixels: np.ndarray, detect_side: int = DETECT_SIDE) -> tuple[int, int, int, int] | None:
        """(x, y, w, h) of the largest frontal face in an RGB uint8 image, or None."""
        height, width = pixels.shape[:2]
        scale = min(1.0, detect_side / max(height, width))
        grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(grey)
        minimum = max(20, int(0.1 * min(grey.shape)))
        faces = self.cascade.detectMultiScale(grey, scaleFactor=1.15, minNeighbors=5, minSize=(minimum, minimum))
        if len(faces) == 0:
            return None
        x, y, w, h = max(faces, key=lambda box: box[2] * box[3])
        return round(x / scale), round(y / scale), round(w / scale), round(h / scale)

    def face_frame(self, pixels: np.ndarray, detect_side: int = DETECT_SIDE) -> Frame | None:
        face = self.largest_face(pixels, detect_side)
        if face is None:
            return None
        x, y, w, h = face
        side = round(FRAME_PER_FACE * w)
        centre_x, centre_y = x + w / 2, y + h / 2 + FRAME_SHIFT * w
        return Frame(round(centre_x - side / 2), round(centre_y - side / 2), side, side)


def center_frame(pixels: np.ndarray) -> Frame:
    height, width = pixels.shape[:2]
    side = min(height, width)
    return Frame((width - side) // 2, (height - side) // 2, side, side)


def whole_frame(pixels: np.ndarray) -> Frame:
    return Frame(0, 0, pixels.shape[1], pixels.shape[0], feather=False)


def choose_frame(pixels: np.ndarray, crop: str, detector: FaceDetector, fallback_to_center: bool = False,
                 detect_side: int = DETECT_SIDE) -> Frame:
    if crop == "center":
        return center_frame(pixels)
    if crop == "none":
        return whole_frame(pixels)
    frame = detector.face_frame(pixels, detect_side)
    if frame is not None:
        return frame
    if fallback_to_center:
        return center_frame(pixels)
    raise JobInputError("no face found in the image; try crop=center, or crop=none for an already aligned face")


def _clipped(frame: Frame, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the part of `frame` that lies inside a height x width image."""
    bottom, right = min(frame.top + frame.height, height), min(frame.left + frame.width, width)
    return max(frame.top, 0), bottom, max(frame.left, 0), right


def cut(pixels: np.ndarray, frame: Frame, resolution: int) -> np.ndarray:
    """The frame resized to resolution x resolution, float32 in [0, 1]; areas past the border repeat the edge."""
    height, width = pixels.shape[:2]
    top, bottom, left, right = _clipped(frame, height, width)
    # only the frame's own pixels are padded, never the whole (possibly 40 MP) photo
    padding = ((top - frame.top, frame.top + frame.height - bottom),
               (left - frame.left, frame.left + frame.width - right), (0, 0))
    region = np.pad(pixels[top:bottom, left:right], padding, mode="edge")
    resized = cv2.resize(region, (resolution, resolution), interpolation=cv2.INTER_AREA)
    return resized.astype(np.float32) / 255.0


def _mask(frame: Frame) -> np.ndarray:
    if not frame.feather:
        return np.ones((frame.height, frame.width, 1), np.float32)
    ys = (np.arange(frame.height, dtype=np.float32) + 0.5) / frame.height * 2 - 1
    xs = (np.arange(frame.width, dtype=np.float32) + 0.5) / frame.width * 2 - 1
    radius = np.sqrt(xs[None, :] ** 2 + ys[:, None] ** 2)
    return np.clip((1.0 - radius) / FEATHER, 0.0, 1.0)[..., None]


def paste(pixels: np.ndarray, frame: Frame, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Add the upscaled residual `after - before` (model-resolution floats) into the photo inside `frame`."""
    upscaled = cv2.resize(after - before, (frame.width, frame.height), interpolation=cv2.INTER_CUBIC)
    residual = upscaled * _mask(frame) * 255.0
    top, bottom, left, right = _clipped(frame, *pixels.shape[:2])
    result = pixels.copy()
    if bottom <= top or right <= left:
        return result
    region = result[top:bottom, left:right].astype(np.float32)
    region += residual[top - frame.top : bottom - frame.top, left - frame.left : right - frame.left]
    result[top:bottom, left:right] = np.clip(np.rint(region), 0, 255).astype(np.uint8)
    return result

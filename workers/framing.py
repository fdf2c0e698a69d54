"""Where the model looks in a photo, and how its edit goes back in.

crop=face: every face found (or the largest) is aligned onto the training framing by its five landmarks;
crop=center: the centre square; crop=none: the whole photo, already framed like the training faces.
An edit is pasted back as a residual (decoded edit minus its decoded reference, `edit_images`) through the inverse
of the placement, weighted by where the edit changed the frame, so the rest of the photo keeps its exact pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faces import alignment
from faces.detection import PHOTO_MAX_SIDE, PHOTO_MIN_SIDE, Face, FaceFinder
from faces.mask import change_mask
from faces.paste import add_residual
from workers.errors import JobInputError

NO_FACE = "no face found in the image; try crop=center, or crop=none for an already aligned face"


@dataclass(frozen=True, eq=False)
class Placement:
    """A region of a photo mapped onto the model's resolution x resolution frame."""

    matrix: np.ndarray  # 2 x 3, photo pixels -> frame pixels
    resolution: int
    box: tuple[int, int, int, int]  # x, y, width, height shown to the user: the face's box, or the crop
    face: Face | None = None  # the face it was aligned by; None for a plain crop
    fade: bool = True  # False when the frame is the whole photo (no border to blend into)

    @property
    def aligned(self) -> bool:
        return self.face is not None


def face_placement(face: Face, resolution: int) -> Placement:
    return Placement(alignment.face_placement(face.landmarks, resolution), resolution, face.box, face)


def center_placement(photo: np.ndarray, resolution: int) -> Placement:
    height, width = photo.shape[:2]
    side = min(height, width)
    box = ((width - side) // 2, (height - side) // 2, side, side)
    return Placement(alignment.box_placement(*box, resolution), resolution, box)


def whole_placement(photo: np.ndarray, resolution: int) -> Placement:
    height, width = photo.shape[:2]
    box = (0, 0, width, height)
    return Placement(alignment.box_placement(*box, resolution), resolution, box, fade=False)


def find_faces(photo: np.ndarray, finder: FaceFinder, resolution: int, largest_only: bool = False,
               min_side: int = PHOTO_MIN_SIDE, max_side: int = PHOTO_MAX_SIDE) -> list[Placement]:
    """A placement per face found, largest first (only the largest when asked); empty when there is none."""
    faces = finder.find(photo, min_side, max_side)
    return [face_placement(face, resolution) for face in faces[: 1 if largest_only else None]]


def place(photo: np.ndarray, crop: str, finder: FaceFinder, resolution: int, faces: str = "all") -> list[Placement]:
    """The regions an edit covers: each face (faces="all") or the largest, or one plain crop."""
    if crop == "center":
        return [center_placement(photo, resolution)]
    if crop == "none":
        return [whole_placement(photo, resolution)]
    found = find_faces(photo, finder, resolution, largest_only=faces == "largest")
    if not found:
        raise JobInputError(NO_FACE)
    return found


def cut(photo: np.ndarray, placement: Placement) -> np.ndarray:
    """The placement's frame, resolution x resolution float32 in [0, 1]; past the photo's border the edge repeats."""
    return alignment.cut(photo, placement.matrix, placement.resolution)


def paste(photo: np.ndarray, placement: Placement, before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, bool]:
    """The photo with the edit's change (`after - before`, model-resolution floats) added where it is above the
    noise, and whether any of it was."""
    mask = change_mask(before, after, fade_border=placement.fade)
    if not mask.any():
        return photo, False
    return add_residual(photo, placement.matrix, (after - before) * mask[..., None]), True

"""Is it still the same person? dlib's 128-D face embedding (ResNet, CC0) and the distance between two of them.

Faces of one person lie closer than SAME_PERSON (dlib's threshold); it still separates people on 64-px faces
enlarged 4x. The face is cut out by its five landmarks (dlib's 150-px face chip) before it is embedded. The network
runs in torch (faces/embedding_net.py: the same embedding, 4-7x faster than the dlib wheel's own CPU build).
"""
from __future__ import annotations

import dlib
import numpy as np
import torch

from faces.detection import Face, FaceFinder
from faces.embedding_net import FaceEmbeddingNet
from faces.models import FACE_EMBEDDING, model_file

SAME_PERSON = 0.6  # dlib's threshold: embeddings of one person are closer than this
CHIP_SIZE, CHIP_PADDING = 150, 0.25  # the face chip the embedding network was trained on


class FaceEmbedder:
    """The embedding network (about 20 MB), loaded once; faces are found with `finder` when no landmarks are given."""

    def __init__(self, finder: FaceFinder | None = None):
        self.network = FaceEmbeddingNet(model_file(FACE_EMBEDDING))
        self.finder = finder or FaceFinder()

    def embedding(self, image: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray | None:
        """The 128-D embedding of the face with these five landmarks in an RGB uint8 image (H x W x 3); without
        landmarks, of the largest face found (None when there is none)."""
        if landmarks is None:
            found = self.finder.find(image)
            if not found:
                return None
            landmarks = found[0].landmarks
        return self._embed([face_chip(image, landmarks)])[0]

    def identity_distance(self, before: np.ndarray, after: np.ndarray, face: Face) -> float:
        """Embedding distance between the same face in two versions of a photo (same landmarks for both)."""
        first, second = self._embed([face_chip(before, face.landmarks), face_chip(after, face.landmarks)])
        return distance(first, second)

    def _embed(self, chips: list[np.ndarray]) -> np.ndarray:
        return self.network(torch.from_numpy(np.stack(chips))).double().numpy()


def face_chip(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The face rotated upright and scaled onto the 150-px chip the embedding network expects."""
    points = np.rint(landmarks).astype(int)
    (left, top), (right, bottom) = points.min(axis=0), points.max(axis=0)
    shape = dlib.full_object_detection(dlib.rectangle(int(left), int(top), int(right), int(bottom)),
                                       [dlib.point(int(x), int(y)) for x, y in points])
    return dlib.get_face_chip(np.ascontiguousarray(image), shape, size=CHIP_SIZE, padding=CHIP_PADDING)


def distance(first: np.ndarray, second: np.ndarray) -> float:
    """Euclidean distance between two embeddings: under SAME_PERSON means the same person."""
    return float(np.linalg.norm(np.asarray(first) - np.asarray(second)))

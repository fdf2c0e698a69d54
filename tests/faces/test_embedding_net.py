"""dlib's face-recognition ResNet run by torch: the embedding dlib's own build computes, from the same file."""
from __future__ import annotations

import dlib
import numpy as np
import pytest
import torch

from faces.embedding_net import FaceEmbeddingNet
from faces.models import FACE_EMBEDDING, model_file


def test_the_torch_network_computes_dlibs_embedding():
    path = model_file(FACE_EMBEDDING)
    chips = np.random.default_rng(0).integers(0, 256, (3, 150, 150, 3), dtype=np.uint8)
    chips[1] = np.linspace(0, 255, 150, dtype=np.uint8)[None, :, None]  # a smooth one beside the noise
    expected = np.array(dlib.face_recognition_model_v1(str(path)).compute_face_descriptor(list(chips)))
    embedded = FaceEmbeddingNet(path)(torch.from_numpy(chips)).numpy()
    assert embedded.shape == (3, 128)
    assert np.abs(embedded - expected).max() < 1e-4
    assert np.abs(expected).max() > 0.05  # the comparison is between real embeddings, not zeros


def test_a_file_that_is_not_the_network_is_a_clear_error(tmp_path):
    path = tmp_path / "other.dat"
    path.write_bytes(b"\x01\x05con_4" + bytes(64))
    with pytest.raises(ValueError, match="not dlib's face-recognition ResNet"):
        FaceEmbeddingNet(path)

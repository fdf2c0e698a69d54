"""`--backend onnx`: the exported networks stand in for torch's and give the same edits."""
from __future__ import annotations

import shutil

import pytest
import torch

from model.checkpoint import load_model
from model.manipulation import manipulate
from model.onnx import export
from workers.onnx_backend import chosen_backend, with_onnx_networks
from workers.runtime import load_builtins


@pytest.fixture(scope="module")
def exported(checkpoint, tmp_path_factory):
    directory = tmp_path_factory.mktemp("exported") / "checkpoint"
    shutil.copytree(checkpoint, directory)
    export(directory)
    return directory


def test_onnx_networks_match_torch(exported):
    reference = load_model(exported)
    onnx = with_onnx_networks(load_model(exported), exported, "cpu")
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    latents = reference.encode(images)
    assert torch.allclose(onnx.encode(images), latents, atol=1e-4)
    assert torch.allclose(onnx.decode(latents), reference.decode(latents), atol=1e-4)
    conditions = [(load_builtins(exported)["smiling"], True)]
    edited = manipulate(onnx, latents, conditions, seed=3)
    assert torch.allclose(edited, manipulate(reference, latents, conditions, seed=3), atol=1e-3)


def test_missing_onnx_files_are_a_clear_error(checkpoint):
    with pytest.raises(FileNotFoundError, match="python -m pipelines.export"):
        with_onnx_networks(load_model(checkpoint), checkpoint, "cpu")


def test_auto_backend_takes_onnx_runtime_on_the_cpu_only_where_the_export_is(exported, checkpoint):
    assert chosen_backend("auto", exported, "cpu") == "onnx"
    assert chosen_backend("auto", checkpoint, "cpu") == "torch"  # no export: torch, not a failed start
    assert chosen_backend("auto", exported, "cuda") == "torch"
    assert chosen_backend("torch", exported, "cpu") == "torch"
    assert chosen_backend("onnx", checkpoint, "cpu") == "onnx"  # asked for: with_onnx_networks names what is missing

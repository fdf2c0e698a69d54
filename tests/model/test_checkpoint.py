import json

import pytest
import torch

from model.checkpoint import CheckpointError, load_model, save_model
from model.onnx import export


def test_save_load_round_trip_gives_identical_weights_and_the_same_outputs(tmp_path, tiny_model):
    save_model(tmp_path / "ckpt", tiny_model)
    loaded = load_model(tmp_path / "ckpt")
    saved = tiny_model.state_dict()
    assert all(torch.equal(tensor, saved[name]) for name, tensor in loaded.state_dict().items())
    # outputs agree to float rounding: the loaded model computes in the channels_last layout
    images = torch.rand(3, 3, 32, 32)
    assert torch.allclose(loaded.encode(images), tiny_model.encode(images), atol=1e-5)
    latents = torch.randn(3, *tiny_model.config.latent_shape)
    assert torch.allclose(loaded.decode(latents), tiny_model.decode(latents), atol=1e-5)
    generator = lambda: torch.Generator().manual_seed(1)
    assert torch.allclose(
        loaded.sample(2, steps=4, generator=generator()), tiny_model.sample(2, steps=4, generator=generator()),
        atol=1e-4,
    )


def test_wrong_resolution_is_refused(tmp_path, tiny_model):
    save_model(tmp_path / "ckpt", tiny_model)
    with pytest.raises(CheckpointError, match="32px images, not 64px"):
        load_model(tmp_path / "ckpt", resolution=64)


def test_missing_and_mismatched_checkpoints_are_clear_errors(tmp_path, tiny_model):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_model(tmp_path / "empty")
    save_model(tmp_path / "ckpt", tiny_model)
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    config["model"]["latent_channels"] = 8
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="do not match its config"):
        load_model(tmp_path / "ckpt")


def test_images_of_the_wrong_shape_are_refused(tiny_model):
    with pytest.raises(ValueError, match="N x 3 x 32 x 32"):
        tiny_model.encode(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="NaN"):
        tiny_model.decode(torch.full((1, *tiny_model.config.latent_shape), float("nan")))


def test_onnx_export_matches_torch_within_1e_4(tmp_path, tiny_model):
    save_model(tmp_path / "ckpt", tiny_model)
    parity = export(tmp_path / "ckpt")
    assert set(parity) == {"encoder", "decoder", "denoiser"}
    assert all(diff < 1e-4 for diff in parity.values()), parity
    for name in parity:
        assert (tmp_path / "ckpt" / "onnx" / f"{name}.onnx").stat().st_size > 0

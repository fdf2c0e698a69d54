import pytest
import torch

from model.checkpoint import load_model, save_model
from model.training.prior import train_prior


def test_a_wider_prior_is_trained_on_frozen_latents_and_ships_with_its_width(tmp_path, tiny_model, celeba64_dir):
    save_model(tmp_path / "ckpt", tiny_model)
    summary = train_prior(
        str(tmp_path / "ckpt"),
        str(celeba64_dir),
        minutes=5,
        max_steps=40,
        width=16,
        held_out=4,
        batch_size=16,
        learning_rate=3e-3,
        check_every=5,
        patience=1000,
    )
    refined = load_model(tmp_path / "ckpt")
    assert refined.config.denoiser_channels == 16 and summary["denoiser_channels"] == 16
    assert summary["stopped"] == "steps" and summary["latents"] == 2 * (18 - 4)  # train images and their mirrors
    assert len(summary["held_out_loss"]) == 40 // 5 and summary["held_out_loss"][-1] < summary["held_out_loss"][0]
    for name, weight in tiny_model.state_dict().items():
        if not name.startswith("denoiser."):
            torch.testing.assert_close(refined.state_dict()[name], weight, msg=name)


def test_prior_training_stops_once_the_held_out_loss_stops_falling(tmp_path, tiny_model, celeba64_dir):
    save_model(tmp_path / "ckpt", tiny_model)
    # a zero learning rate never improves the held-out loss, so the plateau rule must end the run long before 5 minutes
    summary = train_prior(
        str(tmp_path / "ckpt"),
        str(celeba64_dir),
        minutes=5,
        held_out=4,
        batch_size=8,
        learning_rate=0.0,
        check_every=2,
        patience=2,
    )
    assert summary["stopped"] == "plateau" and summary["steps"] == 4 and len(summary["held_out_loss"]) == 2


def one_step(checkpoint, data, **options) -> dict:
    return train_prior(str(checkpoint), str(data), minutes=5, max_steps=1, held_out=4, batch_size=8, **options)


@pytest.mark.parametrize(("bf16_instructions", "expected"), [(True, "bf16"), (False, "fp32")])
def test_prior_trains_in_bf16_only_where_the_cpu_computes_it(
    monkeypatch, tmp_path, tiny_model, celeba64_dir, bf16_instructions, expected
):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: bf16_instructions)
    save_model(tmp_path / "ckpt", tiny_model)
    assert one_step(tmp_path / "ckpt", celeba64_dir, check_every=1)["precision"] == expected
    assert one_step(tmp_path / "ckpt", celeba64_dir, precision="fp32")["precision"] == "fp32"


def test_an_unknown_precision_is_refused(tmp_path, tiny_model, celeba64_dir):
    save_model(tmp_path / "ckpt", tiny_model)
    with pytest.raises(ValueError, match="precision must be one of"):
        one_step(tmp_path / "ckpt", celeba64_dir, precision="fp16")

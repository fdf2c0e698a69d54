import torch

from model.checkpoint import save_head, save_model
from model.networks import ProjectionHead
from pipelines.evaluate import balanced_accuracy, evaluate


def test_balanced_accuracy_weighs_both_classes_equally():
    truth = torch.tensor([1, 0, 0, 0, 0, 0, 0, 0])
    assert balanced_accuracy(torch.zeros(8, dtype=torch.long), truth) == 0.5
    assert balanced_accuracy(truth.clone(), truth) == 1.0


def test_evaluate_reports_reconstruction_probe_and_writes_the_prior_hole_grid(tmp_path, tiny_model, celeba64_dir):
    save_model(tmp_path / "ckpt", tiny_model)
    metrics = evaluate(
        tmp_path / "ckpt",
        celeba64_dir,
        split="test",
        grids=tmp_path / "grids",
        probe_attributes=("Blond_Hair", "Male"),
        shots=3,
        probe_draws=3,
    )
    assert metrics["images"] == 6
    # an untrained decoder outputs ~0.5 grey: its error is far from zero, and PSNR agrees with the summed MSE
    expected_psnr = -10 * torch.log10(torch.tensor(metrics["recon_mse_sum"] / (3 * 32 * 32)))
    assert 0 < metrics["recon_psnr_db"] < 20 and abs(metrics["recon_psnr_db"] - float(expected_psnr)) < 1.5
    assert set(metrics["probe"]) == {"Blond_Hair", "Male"}
    assert all(0 <= value <= 1 for value in metrics["probe"].values())
    # three example draws, each the mean over both attributes; probe_mean is their mean
    assert len(metrics["probe_draws"]) == 3
    assert abs(metrics["probe_mean"] - sum(metrics["probe_draws"]) / 3) < 1e-3
    assert abs(sum(metrics["probe"].values()) / 2 - metrics["probe_mean"]) < 1e-3
    assert metrics["recon_psnr_se"] > 0
    assert (tmp_path / "grids" / "prior_vs_gaussian.png").stat().st_size > 0
    assert metrics["probe_teacher"] is False


def test_the_probe_fits_with_the_checkpoints_teacher_when_it_ships_one(tmp_path, tiny_model, celeba64_dir):
    save_model(tmp_path / "ckpt", tiny_model)
    save_head(tmp_path / "ckpt", ProjectionHead(tiny_model.config).state_dict())
    metrics = evaluate(tmp_path / "ckpt", celeba64_dir, probe_attributes=("Male",), shots=3, probe_draws=1)
    assert metrics["probe_teacher"] is True and 0 <= metrics["probe"]["Male"] <= 1


def test_generation_metrics_put_the_floor_below_untrained_samples(tiny_model, celeba64_dir):
    from model.data import load_dataset
    from pipelines.evaluate import generation_metrics
    from pipelines.oracle import Oracle

    torch.manual_seed(0)
    oracle = Oracle(attributes=40, width=4).eval()
    images = load_dataset(celeba64_dir, split="train", resolution=32).images
    metrics = generation_metrics(tiny_model, oracle, images, count=8, steps=3, draws=2, batch_size=3)
    assert metrics["fd_images"] == 8
    # each draw samples other noise against the same real images; the figure is their mean
    first, second = metrics["generation_fd_draws"]
    assert first != second and abs(metrics["generation_fd"] - (first + second) / 2) < 1e-3
    # untrained prior samples decode to near-uniform grey, farther from real faces than other real faces are
    assert metrics["generation_fd"] > metrics["real_fd"] >= 0
    assert 0 <= metrics["sample_attribute_rate_gap"] <= 1

import pytest
import torch

from model.diffusion import alpha_schedule, ddim_alphas, ddim_sample, diffuse_and_denoise, diffusion_loss, noise_to
from model.manipulation import diffusion_correction


def zero_noise_denoiser(latent, alpha):
    return torch.zeros_like(latent)


def test_schedule_increases_from_noise_to_clean():
    alphas = alpha_schedule(1000)
    assert (alphas[1:] >= alphas[:-1]).all()
    assert alphas[0] < 0.01 and alphas[-1] > 0.99


def test_noising_to_alpha_one_is_identity():
    latent, noise = torch.randn(3, 4, 8, 8), torch.randn(3, 4, 8, 8)
    assert torch.equal(noise_to(latent, torch.ones(3), noise), latent)
    assert torch.equal(diffuse_and_denoise(zero_noise_denoiser, latent, torch.ones(1), noise), latent)


def test_noising_to_alpha_zero_is_pure_noise():
    latent, noise = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    assert torch.allclose(noise_to(latent, torch.zeros(2), noise), noise)


def test_ddim_alphas_end_at_one_and_start_at_requested_level():
    alphas = ddim_alphas(alpha_schedule(1000), 10, start_alpha=0.5)
    assert alphas[-1] == 1.0 and alphas[0] >= 0.5 and (alphas[1:] > alphas[:-1]).all()


def test_ddim_with_exact_noise_prediction_recovers_the_clean_latent():
    clean, noise = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    alphas = ddim_alphas(alpha_schedule(1000), 20)
    start = noise_to(clean, alphas[:1].expand(2), noise)
    oracle = lambda latent, alpha: noise
    assert torch.allclose(ddim_sample(oracle, start, alphas), clean, atol=1e-4)


def test_ddim_sampling_is_deterministic_under_a_seed(tiny_model):
    first = tiny_model.sample(4, steps=5, generator=torch.Generator().manual_seed(7))
    second = tiny_model.sample(4, steps=5, generator=torch.Generator().manual_seed(7))
    third = tiny_model.sample(4, steps=5, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first, second)
    assert not torch.equal(first, third)


def test_diffusion_correction_at_alpha_one_is_identity_and_below_changes_latent(tiny_model):
    latents = torch.randn(2, *tiny_model.config.latent_shape)
    assert torch.equal(diffusion_correction(tiny_model, latents, 1.0, steps=3), latents)
    assert not torch.equal(diffusion_correction(tiny_model, latents, 0.5, steps=3), latents)


def test_diffusion_loss_is_per_example_and_zero_for_a_perfect_denoiser():
    latent = torch.randn(5, 4, 8, 8)
    generator = torch.Generator().manual_seed(0)
    loss = diffusion_loss(zero_noise_denoiser, latent, alpha_schedule(100), generator)
    assert loss.shape == (5,) and (loss > 0).all()
    # the loss of predicting zero noise is |eps|^2, so its mean is close to the latent dimension
    assert abs(float(loss.mean()) - latent[0].numel()) < 0.3 * latent[0].numel()


class GaussianPriorDenoiser(torch.nn.Module):
    """The exact noise prediction for latents distributed N(0, scale^2 I): E[eps | z^(alpha)]."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, latent, alpha):
        alpha = alpha.reshape(-1, 1, 1, 1)
        return (1 - alpha).sqrt() * latent / (alpha * self.scale**2 + 1 - alpha)


def test_prior_samples_keep_the_scale_the_prior_was_trained_on(tiny_model):
    # posterior samples are wider than unit-RMS means; sampling must not pull them back to unit RMS
    tiny_model.denoiser = GaussianPriorDenoiser(scale=2.5)
    samples = tiny_model.sample(64, generator=torch.Generator().manual_seed(0))
    assert abs(float(samples.pow(2).mean().sqrt()) - 2.5) < 0.25


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_every_eta_samples_the_distribution_an_exact_denoiser_describes(eta):
    # Eq. 16's fresh noise must replace, not add to, the predicted noise it takes the place of
    denoiser = GaussianPriorDenoiser(scale=2.0)
    start = torch.randn(512, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    samples = ddim_sample(
        denoiser, start, ddim_alphas(alpha_schedule(1000), 100), eta=eta, generator=torch.Generator().manual_seed(1)
    )
    assert abs(float(samples.std()) - 2.0) < 0.04


def test_ancestral_steps_draw_their_noise_from_the_generator():
    denoiser, alphas = GaussianPriorDenoiser(scale=2.0), ddim_alphas(alpha_schedule(1000), 10)
    start = torch.randn(4, 4, 8, 8, generator=torch.Generator().manual_seed(0))

    def draw(eta, seed):
        return ddim_sample(denoiser, start, alphas, eta=eta, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(draw(1.0, 3), draw(1.0, 3)) and not torch.equal(draw(1.0, 3), draw(1.0, 4))
    assert torch.equal(draw(0.0, 3), draw(0.0, 4)) and not torch.equal(draw(1.0, 3), draw(0.0, 3))

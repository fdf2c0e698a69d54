import torch

from pipelines.oracle import frechet_distance


def test_frechet_distance_is_zero_for_identical_sets_and_grows_with_a_shift():
    features = torch.randn(500, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(frechet_distance(features, features)) < 1e-6
    distances = [frechet_distance(features, features + shift) for shift in (0.5, 1.0, 2.0)]
    # a mean shift of s in each of 8 dimensions adds 8 s^2 and nothing else
    for shift, distance in zip((0.5, 1.0, 2.0), distances):
        assert abs(distance - 8 * shift**2) < 1e-6


def test_frechet_distance_sees_a_change_of_spread_the_means_do_not_show():
    generator = torch.Generator().manual_seed(1)
    narrow = torch.randn(4000, 4, generator=generator, dtype=torch.float64)
    wide = 3 * torch.randn(4000, 4, generator=generator, dtype=torch.float64)
    # N(0, I) vs N(0, 9 I) in 4 dimensions: Tr(I + 9 I - 2 * 3 I) = 4 * 4 = 16
    assert abs(frechet_distance(narrow, wide) - 16) < 1.5
    assert frechet_distance(narrow, torch.randn(4000, 4, generator=generator, dtype=torch.float64)) < 0.1

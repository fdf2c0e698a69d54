"""Few-shot manipulation and conditional generation on D2C latents (paper Sec. 5 and Algorithm 1).

Pure functions in the style of k-diffusion samplers. A *condition* is ``(classifier, target)``: target True
asks for the attribute, False for its absence ("not smiling"); several conditions multiply (their log r add).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import torch
from torch.nn import functional as F

from model.attributes import AttributeClassifier, check_latents, region_footprint
from model.d2c import D2C, SAMPLE_STEPS
from model.diffusion import ddim_alphas, diffuse_and_denoise
from model.networks import normalize_latent

Condition = tuple[AttributeClassifier, bool]


@dataclass
class ManipulationSettings:
    strength: float = 1.0  # how hard each classifier pulls (0 = no edit); see LOGIT_GAIN
    alpha: float = 0.95  # noise level of the diffusion correction (1 = no correction)
    sigma: float = 8.0  # RBF width of the closeness term, in whitened latent-norm units (latents have norm ~sqrt(D))
    steps: int = 5  # K Langevin-like steps, each followed by a correction
    step_size: float = 0.5  # eta, as a fraction of 1 / (curvature of the target), so steps never overshoot
    # DDIM steps from alpha back to 1; measured on 200 test faces x 5 built-ins x add/remove: mean success 0.606 at
    # 2 and at 5 steps, preservation 0.848 and 0.849, so the cheaper one (`python -m bench --rows 7` re-measures)
    correction_steps: int = 2
    noise: float = 0.0  # Langevin noise scale (0 = deterministic gradient ascent)
    margin: float = 8.0  # logits of confidence asked of each classifier
    fast_logit: float = 8.0  # fast modes: the logit each classifier's normal shift reaches, times `scale`
    scale: float = 1.0  # the user's strength multiplier on tuned defaults (see default_settings)
    local: bool = True  # paper mode moves only each attribute's region (AttributeClassifier.region); False: all cells


# The exponent on each r_i is strength * LOGIT_GAIN / (REFERENCE_SIGMA^2 w_i . d_i), so that whatever a classifier's
# weight norm, strength 1 at sigma = REFERENCE_SIGMA moves its logit by up to LOGIT_GAIN * (1 - r) at equilibrium
# with the closeness term (the logit gain scales with (sigma / REFERENCE_SIGMA)^2).
LOGIT_GAIN = 8.0
REFERENCE_SIGMA = 8.0


class NoSampleAccepted(ValueError):
    """Rejection sampling drew its whole budget without accepting a latent."""


def log_condition(latents: torch.Tensor, conditions: list[Condition]) -> torch.Tensor:
    """log r(c|z) of the product of conditions: sum of each classifier's log r(c = target | z)."""
    if not conditions:
        raise ValueError("at least one condition is required")
    return sum(classifier.log_prob(latents, target) for classifier, target in conditions)


def condition_exponents(conditions: list[Condition], strength: float, local: bool = False) -> list[float]:
    """Exponents s_i on each r_i, normalised by w_i . d_i so that `strength` means the same for every classifier."""
    return [
        strength * LOGIT_GAIN / (REFERENCE_SIGMA**2 * float(c.weight @ c.direction_for(local)) + 1e-12)
        for c, _ in conditions
    ]


def confident_log_prob(
    classifier: AttributeClassifier, latents: torch.Tensor, target: bool, margin: float
) -> torch.Tensor:
    """log r(c|z) of the event "the classifier is sure by `margin` logits": log sigmoid(+-f(z) - margin).

    A 100-shot boundary is a weak proxy for the attribute, and the plain logistic gradient fades once r passes
    about 0.8, where the diffusion correction can pull the latent back; the margin keeps pulling until r is sure.
    """
    logit = classifier.logit(latents)
    return F.logsigmoid((logit if target else -logit) - margin)


def target_drift(
    latents: torch.Tensor,
    source: torch.Tensor,
    conditions: list[Condition],
    exponents: list[float],
    sigma: float,
    margin: float = 0.0,
    local: bool = False,
) -> torch.Tensor:
    """Sigma grad log pi(z) for pi(z) = prod_i r_i(c_i|z)^s_i exp(-(z - z_src)^T Sigma^-1 (z - z_src) / (2 sigma^2)).

    The paper's target (Sec. 5): classifiers times an RBF closeness to the source, here measured in the latents'
    own covariance Sigma, which also preconditions the step (Riemannian Langevin, Girolami and Calderhead 2011).
    Each r_i is logistic, grad log r_i = +-(1 - r_i) w_i, so Sigma grad log r_i = +-(1 - r_i) d_i with d_i the
    classifier's edit direction, and the closeness pull is -(z - z_src) / sigma^2. Classifiers fitted without a
    covariance have d_i = w_i: then this is the plain gradient of the Euclidean RBF target. `local` moves each
    d_i only on its attribute's region (AttributeClassifier.direction_for).
    """
    drift = (source - latents) / sigma**2
    for exponent, (classifier, target) in zip(exponents, conditions):
        sign = 1.0 if target else -1.0
        doubt = torch.sigmoid(margin - sign * classifier.logit(latents))  # 1 - r of the confident event
        pull = (exponent * sign * doubt).reshape(-1, *(1,) * (latents.dim() - 1))
        drift = drift + pull * classifier.direction_for(local).to(latents.device).reshape(latents.shape[1:])
    return drift


def langevin_step(
    latents,
    source,
    conditions,
    exponents: list[float],
    sigma: float,
    step_size: float,
    noise: float,
    margin: float = 0.0,
    generator=None,
    local: bool = False,
):
    """One step z <- z + eta Sigma grad log pi(z) + noise * sqrt(2 eta) xi (Langevin dynamics; Alg. 1 line 4).

    The noise is isotropic: exact Langevin for Euclidean classifiers, exploration noise under a covariance metric.
    """
    updated = latents + step_size * target_drift(latents, source, conditions, exponents, sigma, margin, local)
    if noise > 0:
        updated = updated + noise * (2 * step_size) ** 0.5 * torch.randn(
            latents.shape, generator=generator, device=latents.device
        )
    return updated


def diffusion_correction(model: D2C, latents: torch.Tensor, alpha: float, steps: int, generator=None) -> torch.Tensor:
    """Noise to level alpha and DDIM back to alpha = 1, pulling an edited latent back onto the prior."""
    if alpha >= 1.0:
        return latents
    noise = torch.randn(latents.shape, generator=generator, device=latents.device)
    return diffuse_and_denoise(
        model.denoiser, latents, ddim_alphas(model.schedule, steps, alpha), noise, normalize_latent
    )


def paired_correction(
    model: D2C, latents: torch.Tensor, reference: torch.Tensor, alpha: float, steps: int, generator=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """`diffusion_correction` of an edit and of its reference, both noised by one draw (common random numbers).

    The correction resamples what the prior leaves open (hair strands, light, texture) wherever the latent is; with
    one draw for both, that resampling cancels in their difference, which is then the edit's own change.
    """
    if alpha >= 1.0:
        return latents, reference
    noise = torch.randn(latents.shape, generator=generator, device=latents.device)
    both = diffuse_and_denoise(
        model.denoiser,
        torch.cat([latents, reference]),
        ddim_alphas(model.schedule, steps, alpha),
        torch.cat([noise, noise]),
        normalize_latent,
    )
    return both[: len(latents)], both[len(latents) :]


def _check(model: D2C, latents: torch.Tensor, conditions: list[Condition]) -> None:
    check_latents(latents, model.config.latent_shape)
    if not conditions:
        raise ValueError("at least one condition is required")
    for classifier, _ in conditions:
        if tuple(classifier.latent_shape) != tuple(model.config.latent_shape):
            raise ValueError(
                f"attribute {classifier.name!r} was fitted on latents {tuple(classifier.latent_shape)}, "
                f"this model's are {tuple(model.config.latent_shape)}"
            )


def manipulate_paper(
    model: D2C,
    latents: torch.Tensor,
    conditions: list[Condition],
    settings: ManipulationSettings,
    generator=None,
    with_reference: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Paper Sec. 5, "conditions from manipulation constraints": K Langevin-like steps on
    s log r(c|z) - |z - z_src|^2_Sigma / (2 sigma^2), each corrected by the diffusion model (noise to alpha, DDIM
    to 1). r is asked to hold with a margin (see confident_log_prob); Sigma is the latent covariance (target_drift).

    Returns (edited latents, reference or None). With `with_reference`, the reference takes the same path without
    the classifiers' pull: the same step sizes, closeness pull and corrections, each noised as the edit's
    (`paired_correction`), so the decoded edit minus the decoded reference is the change the attributes made.
    """
    _check(model, latents, conditions)
    if settings.strength == 0 or settings.scale == 0:
        return latents, latents if with_reference else None
    source = latents.detach()
    reference = source if with_reference else None
    exponents = condition_exponents(conditions, settings.strength, settings.local)
    # the preconditioned target's curvature: 1 / sigma^2 from closeness, at most s_i w_i . d_i / 4 from each r_i
    curvature = 1 / settings.sigma**2 + sum(
        e * float(c.weight @ c.direction_for(settings.local)) / 4 for e, (c, _) in zip(exponents, conditions)
    )
    step_size = settings.step_size / curvature
    for _ in range(settings.steps):
        latents = langevin_step(
            latents,
            source,
            conditions,
            exponents,
            settings.sigma,
            step_size,
            settings.noise,
            settings.margin,
            generator,
            settings.local,
        )
        if reference is None:
            latents = diffusion_correction(model, latents, settings.alpha, settings.correction_steps, generator)
            continue
        reference = langevin_step(
            reference, source, conditions, [0.0] * len(conditions), settings.sigma, step_size, 0.0
        )
        latents, reference = paired_correction(
            model, latents, reference, settings.alpha, settings.correction_steps, generator
        )
    return latents, reference


def linear_shift(latents: torch.Tensor, conditions: list[Condition], margin: float) -> torch.Tensor:
    """Move each latent along each classifier's normal until its logit reaches +margin (or -margin when negated)."""
    for classifier, target in conditions:
        weight = classifier.weight.to(latents.device).reshape(latents.shape[1:])
        sign = 1.0 if target else -1.0
        deficit = (margin - sign * classifier.logit(latents)).clamp(min=0)
        latents = latents + (sign * deficit / weight.pow(2).sum())[:, None, None, None] * weight
    return latents


def manipulate_fast(
    model: D2C,
    latents: torch.Tensor,
    conditions: list[Condition],
    settings: ManipulationSettings,
    generator=None,
    correct: bool = True,
    with_reference: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The official D2C code's mode: one step along the classifier normal, then a light diffusion correction.
    Returns (edited latents, reference or None): the reference is the source, corrected with the edit's noise."""
    _check(model, latents, conditions)
    source = latents if with_reference else None
    if settings.strength == 0 or settings.scale == 0:
        return latents, source
    shifted = linear_shift(latents, conditions, settings.fast_logit * settings.scale)
    if not correct:
        return shifted, source
    alpha = max(settings.alpha, 0.95)
    if with_reference:
        return paired_correction(model, shifted, latents, alpha, settings.correction_steps, generator)
    return diffusion_correction(model, shifted, alpha, settings.correction_steps, generator), None


def manipulate(
    model: D2C,
    latents: torch.Tensor,
    conditions: list[Condition],
    settings: ManipulationSettings | None = None,
    mode: str = "paper",
    seed: int = 0,
) -> torch.Tensor:
    """Edit latents towards the conditions; mode is "paper", "fast" or "no_correction" (linear shift only)."""
    return _manipulate(model, latents, conditions, settings, mode, seed, with_reference=False)[0]


def _manipulate(
    model: D2C,
    latents: torch.Tensor,
    conditions: list[Condition],
    settings: ManipulationSettings | None,
    mode: str,
    seed: int,
    with_reference: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`manipulate`, and with `with_reference` also the same path without the classifiers' pull, noised alike."""
    settings = settings or ManipulationSettings()
    generator = torch.Generator(device=latents.device).manual_seed(seed)
    if mode == "paper":
        return manipulate_paper(model, latents, conditions, settings, generator, with_reference)
    if mode in ("fast", "no_correction"):
        return manipulate_fast(model, latents, conditions, settings, generator, mode == "fast", with_reference)
    raise ValueError(f"unknown manipulation mode {mode!r}; use paper, fast or no_correction")


def already_satisfied(latents: torch.Tensor, conditions: list[Condition]) -> torch.Tensor:
    """(N,) bool: True where a latent meets every condition with margin, i.e. its logit lies at least as far on the
    target side as the attribute's typical positive (`AttributeClassifier.typical_logit`). Such a face needs no
    edit; editing it anyway only adds the model's drift. A classifier without a typical logit never counts."""
    satisfied = torch.ones(len(latents), dtype=torch.bool, device=latents.device)
    for classifier, target in conditions:
        typical = classifier.typical_logit
        if typical is None or typical <= 0:
            return torch.zeros_like(satisfied)
        logit = classifier.logit(latents)
        satisfied &= (logit if target else -logit) >= typical
    return satisfied


@torch.no_grad()
def edit_images(
    model: D2C,
    images: torch.Tensor,
    conditions: list[Condition],
    settings: ManipulationSettings | None = None,
    mode: str = "paper",
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images in [0, 1] -> (their references, their edits, kept): encode, manipulate, decode.

    The service delivers photo + edit - reference, so detail the autoencoder cannot reproduce is kept. The
    reference is the decoded path the edit took without the classifiers' pull (`manipulate_paper`'s
    `with_reference`), not the plain reconstruction: the corrections' resampling is then in both and leaves the
    photo alone. Measured on 200 train faces per direction at the same strengths: 0.002-0.022 more oracle
    preservation; whole-face edits also keep their success (blond added at 1.5x: 0.815 / 0.874 success /
    preservation -> 0.80 / 0.888), local ones trade some of it along their curves.
    `kept[i]` is True where image i already met every condition with margin (`already_satisfied`); its edit is
    its reference, so the delivered photo is the photo itself. A local edit's decoded change is kept to its
    regions' pixels (`edit_footprint`).
    """
    latents = model.encode(images.to(model.device))
    kept = already_satisfied(latents, conditions)[:, None, None, None]
    edited, reference = _manipulate(model, latents, conditions, settings, mode, seed, with_reference=True)
    edited, reference = torch.where(kept, latents, edited), torch.where(kept, latents, reference)
    reference, decoded = model.decode(reference), model.decode(edited)
    footprint = edit_footprint(conditions, settings or ManipulationSettings(), mode, images.shape[-1])
    if footprint is not None:
        decoded = reference + footprint.to(decoded.device) * (decoded - reference)
    return reference, decoded, kept.flatten()


def edit_footprint(
    conditions: list[Condition], settings: ManipulationSettings, mode: str, resolution: int
) -> torch.Tensor | None:
    """(resolution, resolution) weights of the pixels a local edit may change: the union of its attributes'
    region footprints (`region_footprint`); None when the edit moves whole latents (then the whole frame may change).

    Measured on 500 test faces per direction, at the same strengths: the delivered edit keeps 0.7-4.1 dB more of
    the photo (eyeglasses added 27.5 -> 30.8 dB) and 0.005-0.013 more oracle preservation, for 0-0.05 less success.
    """
    if mode != "paper" or not settings.local or any(c.region is None for c, _ in conditions):
        return None
    footprints = [region_footprint(c.region, c.latent_shape, resolution) for c, _ in conditions]
    return torch.stack(footprints).amax(dim=0)


# local edits put a classifier's whole pull on its region, so they reach their target at lower strengths: at 0.5
# (the old floor) they over-edited (smiling added 0.98 / 0.86 preservation, 0.86 / 0.91 at 0.25; 500 test faces);
# 0.375 and 0.75 because a doubling step overshot (smiling added by the prior-taught classifier: 0.81 / 0.92 at 0.25,
# below its target; 0.97 / 0.88 at 0.5)
STRENGTH_GRID = (0.125, 0.25, 0.375, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
LOCAL_MARGIN = 0.25  # logits by which a region alone must place an attribute's typical example (see edit_plan)


@torch.no_grad()
def tune_strength(
    model: D2C,
    classifier: AttributeClassifier,
    latents: torch.Tensor,
    typical_logit: float,
    base: ManipulationSettings,
    mode: str = "paper",
    target: bool = True,
) -> tuple[float, float]:
    """Smallest strength of STRENGTH_GRID at which `latents` (faces not yet in the `target` state), edited towards
    it in `mode`, score like the attribute's own typical example: the median of their logit (negated when removing)
    reaches `typical_logit` (`edit_plan`: the positives' median). Returns the strength and the median reached.
    A local edit (`base.local`, paper mode) is scored by `AttributeClassifier.edit_logit`, the part it can move.

    A fixed probability target over- or under-edits depending on how confident a 100-shot classifier happens to
    be; its positives' own scores say how far "has the attribute" is (and, mirrored, how far "lacks it" is). The
    score reached grows with strength, so a bisection over the grid needs 2-4 edits of `latents` instead of 8.
    """
    sign = 1.0 if target else -1.0
    local = base.local and mode == "paper"
    reached: dict[int, float] = {}

    def reach(index: int) -> float:
        if index not in reached:
            settings = replace(base, strength=STRENGTH_GRID[index])
            edited = manipulate(model, latents, [(classifier, target)], settings, mode=mode)
            reached[index] = float((sign * classifier.edit_logit(edited, local)).median())
        return reached[index]

    low, high = 0, len(STRENGTH_GRID) - 1  # the answer lies in [low, high]; the strongest when none reaches it
    middle = STRENGTH_GRID.index(1.0)  # whole-face edits tune to 0.5 or 1: try 1 first, then bisect
    while low < high:
        if reach(middle) >= typical_logit:
            high = middle
        else:
            low = middle + 1
        middle = (low + high) // 2
    return STRENGTH_GRID[low], reach(low)


def edit_plan(
    classifier: AttributeClassifier, positives: torch.Tensor, negatives: torch.Tensor
) -> tuple[tuple[bool, bool], tuple[float, float]]:
    """Per direction (adding, removing): whether its edits are local, and the score `tune_strength` asks edited
    latents to reach. Adding aims at the positives' median logit, removing at the negatives' median, negated; a
    direction is local when the attribute has a region and the region alone (`edit_logit`) puts that typical
    example on its side by LOCAL_MARGIN, so that moving the region makes a face look like it. Added hair colour
    fails this (blond's region scores its blond examples 0.01: new colour must cover hair beyond the region);
    removed, it passes (-1.29 for the examples without it). No negatives: removal mirrors the positives' score."""
    typical_examples = ((1.0, positives), (-1.0, negatives)) if len(negatives) else ((1.0, positives),) * 2
    plan = []
    for sign, examples in typical_examples:
        local = classifier.region is not None and (
            float((sign * classifier.edit_logit(examples, True)).median()) >= LOCAL_MARGIN
        )
        plan.append((local, float((sign * classifier.edit_logit(examples, local)).median())))
    return (plan[0][0], plan[1][0]), (plan[0][1], plan[1][1])


def tuned_metadata(
    base: ManipulationSettings,
    typical: float,
    add: tuple[float, float | None, int],
    remove: tuple[float, float | None, int],
    targets: tuple[float, float] | None = None,
    local: tuple[bool, bool] = (True, True),
) -> dict:
    """An attribute's "defaults" (adding it), "remove_defaults" (removing it) and "tuning" record, from each
    direction's (strength, median score reached or None when not tuned, latents tuned on), the positives' median
    logit `typical`, each direction's tuning target and whether it edits locally (`edit_plan`; `typical` and
    local when not given)."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    targets = targets or (typical, typical)
    return {
        "defaults": asdict(replace(base, strength=add[0], local=local[0])),
        "remove_defaults": asdict(replace(base, strength=remove[0], local=local[1])),
        "tuning": {
            "positive_median_logit": round(typical, 3),
            "targets": [round(targets[0], 3), round(targets[1], 3)],
            "images": add[2],
            "edited_median_logit": rounded(add[1]),
            "remove_images": remove[2],
            "removed_median_score": rounded(remove[1]),
        },
    }


def tune_on_pool(
    model: D2C,
    classifier: AttributeClassifier,
    positives: torch.Tensor,
    pool: torch.Tensor,
    mode: str = "paper",
    count: int = 8,  # latents edited per tried strength: 2-4 edits of 8 take ~0.5 s on one CPU thread
    seed: int = 0,
    negatives: torch.Tensor | None = None,
) -> dict:
    """The metadata a freshly fitted attribute needs to edit like the built-ins (`tuned_metadata`), by
    `tune_strength` in each direction on `count` unlabeled pool latents it scores on the other side, towards the
    targets of `edit_plan` (the attribute's `negatives`; for positives-only ones, the pool latents it scores
    negative). Only the paper mode has a strength to tune; other modes get the default settings."""
    typical = float(classifier.logit(positives).median())
    base = ManipulationSettings()
    scores = classifier.logit(pool)
    lacking, having = pool[scores < 0], pool[scores > 0]
    local, targets = edit_plan(classifier, positives, lacking if negatives is None else negatives)
    generator = torch.Generator().manual_seed(seed)
    directions = []
    for target, sources, edit_locally, target_logit in zip((True, False), (lacking, having), local, targets):
        if mode != "paper" or len(sources) == 0:
            directions.append((base.strength, None, 0))
            continue
        chosen = sources[torch.randperm(len(sources), generator=generator)[:count]].to(model.device)
        settings = replace(base, local=edit_locally)
        directions.append((*tune_strength(model, classifier, chosen, target_logit, settings, mode=mode, target=target),
                           len(chosen)))
    metadata = tuned_metadata(base, typical, *directions, targets=targets, local=local)
    metadata["tuning"]["mode"] = mode
    return metadata


# k in r(c|z)^k: a 100-shot r is soft (pool logits spread about 1.4); of 1,000 prior draws, the oracle judged blond
# 0.50 of those accepted for blond at k = 1 (acceptance 0.41); at k = 4, 0.74-0.83 for blond, male and smiling
# (acceptance 0.10-0.19)
ACCEPT_SHARPNESS = 4.0
MIN_DRAWS = 8  # prior samples per rejection-sampling batch at least
FIRST_ACCEPTANCE = 0.25  # sizes the first batch; the built-ins accept 0.08-0.19 of draws at k = 4


@dataclass
class GenerationResult:
    latents: torch.Tensor
    images: torch.Tensor  # the accepted latents decoded, in [0, 1]: each draw is decoded once, to be judged
    drawn: int  # prior samples drawn
    accepted: int

    @property
    def acceptance(self) -> float:
        return self.accepted / max(self.drawn, 1)


def rejection_sample(
    model: D2C,
    conditions: list[Condition],
    count: int,
    budget: int,
    batch_size: int = 64,
    sharpness: float = ACCEPT_SHARPNESS,
    steps: int = SAMPLE_STEPS,
    seed: int = 0,
) -> GenerationResult:
    """Algorithm 1 line 4 by rejection sampling: draw z ~ p_theta(z) (DDIM), accept with probability r(c|z)^k.

    r was fitted on encoded photos, so it judges each draw by its decoded image's encoding: on a raw draw, noise in
    the channels the decoder ignores dominates the logit. The decoded images of the accepted draws are returned.

    Stops at `count` accepted or `budget` drawn; raises NoSampleAccepted when none is accepted.
    """
    if count < 1 or budget < 1:
        raise ValueError(f"count and budget must be positive, got count={count}, budget={budget}")
    _check(model, torch.zeros(1, *model.config.latent_shape, device=model.device), conditions)
    generator = torch.Generator(device=model.device).manual_seed(seed)
    accepted, accepted_images, drawn, kept = [], [], 0, 0
    while drawn < budget and kept < count:
        # draw what the acceptance seen so far says is missing, so a one-face job does not pay for a whole batch
        rate = max(kept, 1) / drawn if drawn else FIRST_ACCEPTANCE
        size = min(batch_size, budget - drawn, max(MIN_DRAWS, math.ceil((count - kept) / rate)))
        latents = model.sample(size, steps=steps, generator=generator)
        images = model.decode(latents)
        probability = (sharpness * log_condition(model.encode(images), conditions)).exp()
        keep = torch.rand(size, generator=generator, device=model.device) < probability
        accepted.append(latents[keep])
        accepted_images.append(images[keep])
        drawn, kept = drawn + size, kept + int(keep.sum())
    latents = torch.cat(accepted)[:count]
    if len(latents) == 0:
        raise NoSampleAccepted(
            f"no sample was accepted in a budget of {budget} draws; the condition may be too rare or contradictory"
        )
    return GenerationResult(latents, torch.cat(accepted_images)[:count], drawn, kept)


def generate(
    model: D2C,
    conditions: list[Condition],
    count: int,
    budget: int | None = None,
    seed: int = 0,
    sharpness: float = ACCEPT_SHARPNESS,
) -> GenerationResult:
    """Conditional generation (Algorithm 1): faces that satisfy the conditions (latents and images), and how many
    prior samples it took."""
    return rejection_sample(model, conditions, count, budget or 50 * count, sharpness=sharpness, seed=seed)


def default_settings(conditions: list[Condition], strength: float = 1.0) -> ManipulationSettings:
    """Settings tuned for these attributes (saved in their metadata), with `strength` as a multiplier on them.

    Several attributes share one edit: the strongest tuned strength and the gentlest correction among them win, and
    the edit is local only when every one of them edits locally.
    """
    names = {f.name for f in fields(ManipulationSettings)}
    # removing an attribute has its own tuned defaults where it was tuned (attributes tuned before use "defaults")
    chosen = [c.metadata.get("defaults" if target else "remove_defaults") or c.metadata.get("defaults", {})
              for c, target in conditions]
    tuned = [{k: v for k, v in defaults.items() if k in names} for defaults in chosen]
    base = ManipulationSettings(**tuned[0]) if tuned else ManipulationSettings()
    if len(tuned) > 1:
        base = replace(
            base,
            strength=max(t.get("strength", base.strength) for t in tuned),
            alpha=max(t.get("alpha", base.alpha) for t in tuned),
            local=all(t.get("local", base.local) for t in tuned),
        )
    return replace(base, strength=base.strength * strength, scale=strength)

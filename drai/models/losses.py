"""Loss functions: LSGAN (Mao et al. 2017) for every adversarial term, l1, Gaussian KL."""

from __future__ import annotations

import torch


def lsgan_discriminator(real: torch.Tensor, *fakes: torch.Tensor, fake_weights=None) -> torch.Tensor:
    """0.5 E[(D(real) - 1)^2] + 0.5 sum_k w_k E[D(fake_k)^2]; the fakes' weights sum to 1.

    With two fakes at weight 1/2 each this is eq. 1's matching-aware term
    (mismatched pairs and generated pairs share the negative side).
    """
    weights = fake_weights or [1.0 / len(fakes)] * len(fakes)
    loss = 0.5 * (real - 1).pow(2).mean()
    for weight, fake in zip(weights, fakes):
        loss = loss + 0.5 * weight * fake.pow(2).mean()
    return loss


def lsgan_matching_aware(
    real: torch.Tensor, mismatched: torch.Tensor, has_partner: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """eq. 1's matching-aware term, ``lsgan_discriminator(real, mismatched[has_partner], fake)``, on a GPU.

    ``mismatched`` scores every item; those without a partner are weighted
    out instead of indexed out, and with none left the generated pairs take
    the whole negative side, as in :func:`lsgan_discriminator` with one fake.
    Nothing is read back to the host (boolean indexing would wait for the
    GPU), so the step can be queued ahead; the sums run in another order
    than the indexed form's, so the CPU keeps that one (bit-identical runs).
    """
    share = has_partner.to(mismatched.dtype)
    count = share.sum()
    mismatched_term = (mismatched.pow(2) * share).sum() / count.clamp(min=1)
    weight = 0.5 * (count > 0).to(mismatched.dtype)  # 1/2 each with mismatched pairs, else all on the generated
    return 0.5 * (real - 1).pow(2).mean() + 0.5 * weight * mismatched_term + 0.5 * (1 - weight) * fake.pow(2).mean()


def lsgan_generator(*scores: torch.Tensor) -> torch.Tensor:
    """0.5 E[(D(fake) - 1)^2], averaged over the scores given (the fooling side)."""
    return sum(0.5 * (s - 1).pow(2).mean() for s in scores) / len(scores)


def lsgan_inference(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ALI-style pair (eq. 2, eq. 7) in LSGAN form: (discriminator loss, generator loss).

    The discriminator wants encoder pairs -> 1 and generator pairs -> 0; the
    generator and encoders want the opposite.
    """
    d_loss = 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()
    g_loss = 0.5 * real.pow(2).mean() + 0.5 * (fake - 1).pow(2).mean()
    return d_loss, g_loss


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().mean()


KL_REDUCTIONS = ("mean", "sum")


def kl_standard_normal(mean: torch.Tensor, logvar: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) of eq. 16, averaged over the batch.

    ``reduction`` says how the code dimensions are combined: ``sum`` is the
    usual KL of the whole code (the paper's lambda = 1); ``mean`` averages over
    the dimensions (lambda = 1/dim), the reduction of StackGAN's conditioning
    augmentation, which q(c|t) is. Summed at the demo's budget, the term
    outweighed every adversarial term (each about 0.1-0.5), q(c|t) collapsed
    to N(0, I) for every t and the generator ignored the condition.
    """
    per_dimension = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)
    if reduction == "mean":
        return per_dimension.mean()
    if reduction == "sum":
        return per_dimension.sum(dim=-1).mean()
    raise ValueError(f"train.kl_reduction must be one of {KL_REDUCTIONS}, got {reduction!r}")

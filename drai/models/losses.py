"""Loss functions: LSGAN (Mao et al. 2017) for every adversarial term, l1, Gaussian KL."""

from __future__ import annotations

import torch


def lsgan_discriminator(real: torch.Tensor, *fakes: torch.Tensor, fake_weights=None) -> torch.Tensor:
    """0.5 E[(D(real) - 1)^2] + 0.5 sum_k w_k E[D(fake_k)^2]; the fakes' weights sum to 1.

    With two fakes at weight 1/2 each this is eq. (1)'s matching-aware term
    (mismatched pairs and generated pairs share the negative side).
    """
    weights = fake_weights or [1.0 / len(fakes)] * len(fakes)
    loss = 0.5 * (real - 1).pow(2).mean()
    for weight, fake in zip(weights, fakes):
        loss = loss + 0.5 * weight * fake.pow(2).mean()
    return loss


def lsgan_generator(*scores: torch.Tensor) -> torch.Tensor:
    """0.5 E[(D(fake) - 1)^2], averaged over the scores given (the fooling side)."""
    return sum(0.5 * (s - 1).pow(2).mean() for s in scores) / len(scores)


def lsgan_inference(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ALI-style pair (eq. 2, 7) in LSGAN form: (discriminator loss, generator loss).

    The discriminator wants encoder pairs -> 1 and generator pairs -> 0; the
    generator and encoders want the opposite.
    """
    d_loss = 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()
    g_loss = 0.5 * real.pow(2).mean() + 0.5 * (fake - 1).pow(2).mean()
    return d_loss, g_loss


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().mean()


def kl_standard_normal(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) per code dimension, averaged over dimensions and batch.

    The per-dimension mean is the reduction of StackGAN's conditioning
    augmentation, which q(c|t) is. Summed over the 32 dimensions at lambda = 1
    the term outweighs every adversarial term (each about 0.1-0.5), q(c|t)
    collapses to N(0, I) for every t and the generator ignores the condition.
    """
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()

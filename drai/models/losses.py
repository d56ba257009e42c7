"""Loss functions: LSGAN (Mao et al. 2017) for every adversarial term, l1, Gaussian KL.

The per-term functions define each term; training computes all of them at
once, as the weighted sums of :func:`weighted_square_errors` and
:func:`regularizer_terms` (a step launches far fewer kernels so), which the
tests compare with the per-term functions.
"""

from __future__ import annotations

import torch


def lsgan_discriminator(real: torch.Tensor, *fakes: torch.Tensor, fake_weights=None) -> torch.Tensor:
    """0.5 E[(D(real) - 1)^2] + 0.5 sum_k w_k E[D(fake_k)^2]; the fakes' weights sum to 1.

    With two fakes at weight 1/2 each this is eq. 1's matching-aware term
    (mismatched pairs and generated pairs share the negative side).
    """
    weights = fake_weights or [1.0 / len(fakes)] * len(fakes)
    loss = 0.5 * (real - 1).pow(2).mean()
    for weight, fake in zip(weights, fakes, strict=True):
        loss = loss + 0.5 * weight * fake.pow(2).mean()
    return loss


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


def weighted_square_errors(
    scores: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, groups: torch.Tensor
) -> torch.Tensor:
    """Every LSGAN term of both sides at once.

    ``out[s, k] = sum_i groups[i, k] weights[s, i] (scores_i - targets[s, i])^2``:
    ``scores`` (N,) are every discriminator's scores of its items; each side
    s (discriminator, generator) has a target per item (1 or 0) and a weight
    (1/2 over the batch size for a term's mean, 0 where the side does not
    see the item); ``groups`` (N, K) assigns the items to the K terms.
    """
    return ((scores - targets).pow(2) * weights) @ groups


def regularizer_terms(
    lefts: list[torch.Tensor],
    rights: list[torch.Tensor],
    gaussians: list[tuple[torch.Tensor, torch.Tensor]],
    coefficients: torch.Tensor,
) -> torch.Tensor:
    """l1 terms and KLs at once: ``coefficients`` (terms, columns) times the column sums over the batch.

    The columns are those of every ``|left - right|`` (``l1``'s elements),
    then of every Gaussian's ``mean^2 + exp(logvar) - logvar - 1`` (twice
    ``kl_standard_normal``'s elements), side by side; each term's
    coefficients say how it averages (or sums) and signs them.
    """
    columns = []
    if lefts:
        columns.append((_cat(lefts).float() - _cat(rights).float()).abs())
    if gaussians:
        mean, logvar = _cat([m for m, _ in gaussians]).float(), _cat([lv for _, lv in gaussians]).float()
        columns.append(mean.pow(2) + logvar.exp() - logvar - 1)
    if not columns:
        return coefficients.new_zeros(len(coefficients))
    return coefficients @ _cat(columns).sum(dim=0)


def _cat(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Side by side along the last dimension (one tensor as it is: no copy)."""
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors, dim=-1)

"""One implementation for all ten variants: networks built and losses computed
only for the components a :class:`~drai.models.variants.Variant` switches on."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from drai.models import losses
from drai.models.networks import (
    CodePredictor,
    ConditionEncoder,
    GaussianEncoder,
    Generator,
    JointDiscriminator,
    reverse_gradient,
)
from drai.models.variants import Variant

# Self-supervised transformations (Section III-G): rotations and flips.
TRANSFORMS = ("rot90", "rot180", "rot270", "hflip", "vflip")


def transform(x: torch.Tensor, name: str) -> torch.Tensor:
    if name.startswith("rot"):
        return torch.rot90(x, int(name[3:]) // 90, dims=(2, 3))
    return torch.flip(x, dims=(3,) if name == "hflip" else (2,))


def mismatched_vectors(t: torch.Tensor, noise: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """For each item a vector drawn from the batch items whose vector differs from its own (eq. 1).

    Returns the mismatched vectors and a mask of the items that have such a
    partner; an item whose vector every other item shares has none (its row
    is then a draw over the whole batch and must be left out). One draw per
    item from ``noise``, so the choice is seeded and resumes with the run.

    The draw is ``torch.multinomial(weights, 1)``'s own (exponential variates
    from ``noise``, the largest weight / variate wins: the same partners and
    the same generator state after it) without multinomial's checks of the
    weights, which read them back to the host: the step stays free of
    host-device synchronization, and can be captured as a CUDA graph.
    """
    differs = (t[:, None, :] != t[None, :, :]).any(dim=-1)
    has_partner = differs.any(dim=1)
    weights = (differs | ~has_partner[:, None]).to(t.dtype)
    variates = torch.empty_like(weights).exponential_(1, generator=noise)
    partner = (weights / variates).argmax(dim=1)
    return t[partner], has_partner


@dataclass(frozen=True)
class Shape:
    channels: int
    t_dim: int
    width: int = 64
    z_dim: int = 32
    c_dim: int = 32


class ModelFamily(nn.Module):
    """Encoders, generator, discriminators and code predictors of one variant."""

    def __init__(self, variant: Variant, shape: Shape):
        super().__init__()
        self.variant, self.shape = variant, shape
        self.loss_layouts: dict = {}  # training_losses' constant tensors, per batch size, KL reduction and device
        ch, w = shape.channels, shape.width
        self.style_encoder = GaussianEncoder(ch, w, shape.z_dim)  # q(z|x); G_z of cInfoGAN
        self.content_encoder = GaussianEncoder(ch, w, shape.c_dim) if variant.two_codes else None  # q(c|x)
        self.condition_encoder = ConditionEncoder(shape.t_dim, shape.c_dim)  # q(c|t) = E_phi(t)
        self.generator = Generator(ch, w, shape.z_dim, shape.c_dim)
        vector_dims = {
            "d_x": 0,
            "d_xt": shape.t_dim,
            "dali_z": shape.z_dim,
            "dali_c": shape.c_dim,
            "image_cycle": 0,
            "d_xt_recon": shape.t_dim,
            "d_xtz": shape.t_dim + shape.z_dim,
            "d_xtc": shape.t_dim + shape.c_dim,
        }
        self.discriminators = nn.ModuleDict(
            {
                name: JointDiscriminator(2 * ch if name == "image_cycle" else ch, w, dim)
                for name, dim in vector_dims.items()
                if variant.has(name)
            }
        )
        self.predictors = (
            nn.ModuleDict(
                {"f_z": CodePredictor(shape.c_dim, shape.z_dim), "f_c": CodePredictor(shape.z_dim, shape.c_dim)}
            )
            if variant.has("mi_reg")
            else None
        )

    # Parameter groups: the two sides of every min-max game.
    def generator_side(self) -> list[nn.Parameter]:
        modules = [self.style_encoder, self.content_encoder, self.condition_encoder, self.generator, self.predictors]
        return [p for m in modules if m is not None for p in m.parameters()]

    def discriminator_side(self) -> list[nn.Parameter]:
        return list(self.discriminators.parameters())

    # Inference and generation, as used after training too.
    def sample_code(self, mean, logvar, noise: torch.Generator | None):
        if not self.variant.has("kl"):
            return mean  # without the KL term the variance is unconstrained: use the mean
        eps = torch.randn(mean.shape, generator=noise, device=mean.device, dtype=mean.dtype)
        return mean + eps * (0.5 * logvar).exp()

    def infer(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Style and content codes (posterior means) of images; content is None for one-code models."""
        z = self.style_encoder(x)[0]
        c = self.content_encoder(x)[0] if self.content_encoder is not None else None
        return z, c

    def content_of(self, t: torch.Tensor) -> torch.Tensor:
        """Content code (mean of q(c|t)) of conditioning vectors."""
        return self.condition_encoder(t)[0]

    def generate(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.generator(z, c)


# The adversarial games (eq. 1, 7, 8 and the cVAE baselines' discriminators) in the LSGAN form of
# losses.py: each discriminator scores its items in one call, on one batch of all of them (the
# discriminators have no normalization, so a score does not depend on the other items of its batch);
# the items are real (x, with what the encoders infer from it) or generated. Per item: the discriminator's
# target (1 real, 0 otherwise; the generator side aims at the other one) and the weights of its squared
# error in either side's loss, which the batch size divides (a mean). ``None``: the matching-aware
# weights of eq. 1, which depend on the batch's vectors (:func:`matching_aware_weights`).
REAL = (1.0, 0.5, 0.0)  # D: 0.5 E[(D(real) - 1)^2]; the generator side does not see it
REAL_INFERRED = (1.0, 0.5, 0.5)  # ALI (eq. 2, 7): the encoders fool D too, 0.5 E[D(x, q(x))^2]
FAKE = (0.0, 0.5, 0.5)  # D: 0.5 E[D(fake)^2]; G: 0.5 E[(D(fake) - 1)^2]
MATCHING_FAKE = (0.0, None, 0.5)  # eq. 1: generated pairs share the negative side with the mismatched ones
MISMATCHED = (0.0, None, 0.0)  # eq. 1: real images with another item's vector
GAMES = {
    "d_x": (REAL, FAKE),
    "d_xt": (REAL, MATCHING_FAKE, MISMATCHED),
    "dali_z": (REAL_INFERRED, FAKE),
    "dali_c": (REAL_INFERRED, FAKE),
    "image_cycle": (REAL, FAKE),
    "d_xt_recon": (REAL, FAKE),
    "d_xtz": (REAL_INFERRED, FAKE),
    "d_xtc": (REAL_INFERRED, FAKE),
}


def matching_aware_weights(has_partner: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The discriminator-side weights of eq. 1's generated and mismatched pairs, per item.

    ``lsgan_discriminator(real, mismatched[has_partner], fake)``: the two
    negative kinds weigh 1/2 each, their squared errors averaged over their
    own items; items without a partner drop out of the mismatched mean, and
    with none left the generated pairs take the whole negative side. As
    weights, without reading the mask back to the host.
    """
    share = has_partner.float()
    count = share.sum()
    mismatched = share / (4 * count.clamp(min=1))
    generated = (2 - count.clamp(max=1)) / (4 * len(has_partner))  # 1/(4B) with mismatched pairs, else 1/(2B)
    return generated.expand(len(has_partner)), mismatched


class _LossLayout:
    """Constant tensors of one variant's losses at one batch size: targets, weights and groupings."""

    def __init__(self, model: ModelFamily, batch: int, kl_reduction: str, device: torch.device):
        if kl_reduction not in losses.KL_REDUCTIONS:
            raise ValueError(f"train.kl_reduction must be one of {losses.KL_REDUCTIONS}, got {kl_reduction!r}")
        v, shape = model.variant, model.shape
        games = [name for name in GAMES if v.has(name)]
        targets, d_weights, g_weights, groups = [], [], [], []
        self.matching_aware = None  # where d_xt's generated and mismatched items begin
        for k, name in enumerate(games):
            for target, d_weight, g_weight in GAMES[name]:
                if d_weight is None and self.matching_aware is None:
                    self.matching_aware = len(targets)
                targets += [target] * batch
                d_weights += [0.0 if d_weight is None else d_weight / batch] * batch
                g_weights += [g_weight / batch] * batch
                groups += [k] * batch
        self.games = games
        to = dict(device=device, dtype=torch.float32)
        target = torch.tensor(targets, **to)
        self.targets = torch.stack([target, 1 - target])
        self.weights = torch.tensor([d_weights, g_weights], **to)
        # Items -> their game's term, and a last column that sums every term (the side's total).
        self.groups = torch.zeros(len(targets), len(games) + 1, **to)
        self.groups[torch.arange(len(targets)), torch.tensor(groups, dtype=torch.long)] = 1
        self.groups[:, -1] = 1
        # Regularizers: l1 terms (eq. 9, 11, 15) and KLs (eq. 16) as coefficients of column sums over the batch.
        self.l1 = []  # (term, coefficient, code dimensions) per l1 pair, in the order the pairs are given
        if v.has("code_cycle"):  # eq. 9; InfoGAN's term (eq. 17) for the cInfoGAN baselines
            self.l1 += [("code_cycle", 1.0, shape.z_dim)] + ([("code_cycle", 1.0, shape.c_dim)] if v.two_codes else [])
        if v.has("mi_reg"):  # eq. 11
            self.l1 += [("mi_reg", 1.0, shape.z_dim), ("mi_reg", 1.0, shape.c_dim)]
        if v.has("self_reg"):  # eq. 15: content pulled together, style pushed apart
            self.l1 += [("self_reg", 1.0, shape.c_dim), ("self_reg", -1.0, shape.z_dim)]
        self.kl = []
        if v.has("kl"):  # eq. 16, lambda = 1
            self.kl = [("kl_z", shape.z_dim)] + ([("kl_c_x", shape.c_dim)] if v.two_codes else [])
            if model_generates(v):
                self.kl.append(("kl_c_t", shape.c_dim))
        self.regularizers = list(dict.fromkeys([name for name, _, _ in self.l1] + [name for name, _ in self.kl]))
        columns = []  # per code dimension: (term, coefficient of its sum over the batch)
        for name, coefficient, dim in self.l1:
            columns += [(name, coefficient / (batch * dim))] * dim
        for name, dim in self.kl:  # 0.5 (mean^2 + exp(logvar) - logvar - 1), averaged or summed over dimensions
            columns += [(name, 0.5 / (batch * dim if kl_reduction == "mean" else batch))] * dim
        self.coefficients = torch.zeros(len(self.regularizers) + 1, len(columns), **to)
        for column, (name, coefficient) in enumerate(columns):
            self.coefficients[self.regularizers.index(name), column] = coefficient
        self.coefficients[-1] = self.coefficients[:-1].sum(dim=0)

    def adversarial_weights(self, has_partner: torch.Tensor | None) -> torch.Tensor:
        if self.matching_aware is None:
            return self.weights
        start, end = self.matching_aware, self.matching_aware + 2 * len(has_partner)
        d_side = torch.cat([self.weights[0, :start], *matching_aware_weights(has_partner), self.weights[0, end:]])
        return torch.stack([d_side, self.weights[1]])


def model_generates(v: Variant) -> bool:
    """Whether the variant generates from the prior, G(z, c_t) (every variant but the cVAEs' reconstruction)."""
    return v.has("d_x") or v.has("d_xt") or v.has("dali_z") or v.has("d_xtz") or v.has("code_cycle")


def training_losses(
    model: ModelFamily,
    x: torch.Tensor,
    t: torch.Tensor,
    noise: torch.Generator | None,
    x_transformed=None,
    kl_reduction: str = "mean",
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Discriminator loss, generator-side loss and every named term for one batch (eq. 16).

    Each discriminator scores all its items (real, generated, mismatched) in
    one call, with the generated images attached: the discriminator loss must
    be back-propagated to the discriminators' weights only, the generator-side
    loss to the generator side's only (:func:`drai.train.train_step`). Every
    adversarial term of both sides is then one weighted sum of squared errors
    (:func:`losses.weighted_square_errors`), every l1 term and KL one weighted
    sum of column sums (:func:`losses.regularizer_terms`): the values of
    :mod:`losses`' per-term functions in a few large operations.
    ``x_transformed`` is T(x) for selfReg; ``kl_reduction`` combines the KL
    terms' code dimensions (``mean`` or ``sum``).
    """
    v = model.variant
    d = model.discriminators
    batch = len(x)
    key = (batch, kl_reduction, x.device)
    layout = model.loss_layouts.get(key)
    if layout is None:
        layout = model.loss_layouts[key] = _LossLayout(model, batch, kl_reduction, x.device)

    # The draws from ``noise``, in this order: codes, prior, mismatched partners.
    z_mean, z_logvar = model.style_encoder(x)
    z_hat = model.sample_code(z_mean, z_logvar, noise)
    if v.two_codes:
        c_mean, c_logvar = model.content_encoder(x)
        c_hat = model.sample_code(c_mean, c_logvar, noise)
    ct_mean, ct_logvar = model.condition_encoder(t)
    c_t = model.sample_code(ct_mean, ct_logvar, noise)
    z_prior = torch.randn(z_hat.shape, generator=noise, device=x.device, dtype=x.dtype)
    generates = model_generates(v)
    x_fake = model.generate(z_prior, c_t) if generates else None
    reconstructs = v.has("image_cycle") or v.has("d_xt_recon")
    x_recon = model.generate(z_hat, c_hat if v.two_codes else c_t) if reconstructs else None
    has_partner = None
    if v.has("d_xt"):
        t_mismatch, has_partner = mismatched_vectors(t, noise)

    # One batch per discriminator: real items first, then generated ones, then d_xt's mismatched pairs.
    real_fake = torch.cat([x, x_fake, x] if v.has("d_xt") else [x, x_fake]) if generates else None
    t_twice = torch.cat([t, t, t_mismatch] if v.has("d_xt") else [t, t])
    n = 2 * batch
    inputs = {
        "d_x": lambda: (real_fake[:n],),
        "d_xt": lambda: (real_fake, t_twice),
        "dali_z": lambda: (real_fake[:n], torch.cat([z_hat, z_prior])),
        "dali_c": lambda: (real_fake[:n], torch.cat([c_hat, c_t])),
        "image_cycle": lambda: (torch.cat([torch.cat([x, x]), torch.cat([x, x_recon])], 1),),
        "d_xt_recon": lambda: (torch.cat([x, x_recon]), t_twice[:n]),
        "d_xtz": lambda: (real_fake[:n], t_twice[:n], torch.cat([z_hat, z_prior])),
        "d_xtc": lambda: (real_fake[:n], t_twice[:n], torch.cat([c_hat, c_t])),
    }
    scores = torch.cat([d[name](*inputs[name]()) for name in layout.games])

    # Regularizers, each a list of (left, right) l1 pairs or (mean, log-variance) Gaussians, as the layout orders them.
    lefts, rights = [], []
    if v.has("code_cycle"):
        lefts.append(model.style_encoder(x_fake)[0])
        rights.append(z_prior)
        if v.two_codes:
            lefts.append(model.content_encoder(x_fake)[0])
            rights.append(c_t)
    if v.has("mi_reg"):  # F minimizes the error, the encoders (behind the GRL) maximize it
        f = model.predictors
        lefts += [f["f_z"](reverse_gradient(c_hat)), f["f_c"](reverse_gradient(z_hat))]
        rights += [z_hat.detach(), c_hat.detach()]
    if v.has("self_reg"):  # on posterior means
        if x_transformed is None:
            raise ValueError("self_reg needs the transformed batch")
        z_other, c_other = model.infer(x_transformed)
        lefts += [c_mean, z_mean]
        rights += [c_other, z_other]
    gaussians = [(z_mean, z_logvar)] if v.has("kl") else []
    if v.has("kl") and v.two_codes:
        gaussians.append((c_mean, c_logvar))
    if v.has("kl") and generates:
        gaussians.append((ct_mean, ct_logvar))

    with torch.autocast(x.device.type, enabled=False):  # the sums in float32 under a GPU's bf16 autocast
        adversarial = losses.weighted_square_errors(
            scores.float(), layout.targets, layout.adversarial_weights(has_partner), layout.groups
        )
        regularizers = losses.regularizer_terms(lefts, rights, gaussians, layout.coefficients)
    terms: dict[str, torch.Tensor] = {}
    for k, name in enumerate(layout.games):
        terms[f"d/{name}"], terms[f"g/{name}"] = adversarial[0, k], adversarial[1, k]
    for k, name in enumerate(layout.regularizers):
        terms[f"g/{name}"] = regularizers[k]
    d_total = adversarial[0, -1]
    g_total = adversarial[1, -1] + regularizers[-1] if layout.regularizers else adversarial[1, -1]
    return d_total, g_total, terms

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
    """
    differs = (t[:, None, :] != t[None, :, :]).any(dim=-1)
    has_partner = differs.any(dim=1)
    weights = torch.where(has_partner[:, None], differs, torch.ones_like(differs)).to(t.dtype)
    partner = torch.multinomial(weights, 1, generator=noise).squeeze(1)
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


def training_losses(
    model: ModelFamily,
    x: torch.Tensor,
    t: torch.Tensor,
    noise: torch.Generator | None,
    x_transformed=None,
    kl_reduction: str = "mean",
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Discriminator loss, generator-side loss and every named term for one batch (eq. 16).

    The discriminator terms see generated images detached; the generator-side
    terms see them attached. ``x_transformed`` is T(x) for selfReg;
    ``kl_reduction`` combines the KL terms' code dimensions (``mean`` or ``sum``).
    """
    v = model.variant
    d = model.discriminators
    terms: dict[str, torch.Tensor] = {}

    z_mean, z_logvar = model.style_encoder(x)
    z_hat = model.sample_code(z_mean, z_logvar, noise)
    if v.two_codes:
        c_mean, c_logvar = model.content_encoder(x)
        c_hat = model.sample_code(c_mean, c_logvar, noise)
    ct_mean, ct_logvar = model.condition_encoder(t)
    c_t = model.sample_code(ct_mean, ct_logvar, noise)
    z_prior = torch.randn(z_hat.shape, generator=noise, device=x.device, dtype=x.dtype)

    generates = v.has("d_x") or v.has("d_xt") or v.has("dali_z") or v.has("d_xtz") or v.has("code_cycle")
    x_fake = model.generate(z_prior, c_t) if generates else None
    reconstructs = v.has("image_cycle") or v.has("d_xt_recon")
    x_recon = model.generate(z_hat, c_hat if v.two_codes else c_t) if reconstructs else None

    d_total = x.new_zeros(())
    g_total = x.new_zeros(())

    def add(name, d_loss, g_loss):
        nonlocal d_total, g_total
        terms[f"d/{name}"], terms[f"g/{name}"] = d_loss, g_loss
        d_total = d_total + d_loss
        g_total = g_total + g_loss

    if v.has("d_x"):  # eq. 1, first line
        add(
            "d_x",
            losses.lsgan_discriminator(d["d_x"](x), d["d_x"](x_fake.detach())),
            losses.lsgan_generator(d["d_x"](x_fake)),
        )
    if v.has("d_xt"):  # eq. 1, matching-aware
        t_mismatch, has_partner = mismatched_vectors(t, noise)
        # Items without a differing vector in the batch drop out of the mismatched term.
        if x.is_cuda:  # weighted out: no host sync inside the step
            d_loss = losses.lsgan_matching_aware(
                d["d_xt"](x, t), d["d_xt"](x, t_mismatch), has_partner, d["d_xt"](x_fake.detach(), t)
            )
        else:
            fakes = (d["d_xt"](x[has_partner], t_mismatch[has_partner]),) if bool(has_partner.any()) else ()
            d_loss = losses.lsgan_discriminator(d["d_xt"](x, t), *fakes, d["d_xt"](x_fake.detach(), t))
        add("d_xt", d_loss, losses.lsgan_generator(d["d_xt"](x_fake, t)))
    if v.has("dali_z"):  # eq. 7, style
        d_loss, _ = losses.lsgan_inference(d["dali_z"](x, z_hat.detach()), d["dali_z"](x_fake.detach(), z_prior))
        _, g_loss = losses.lsgan_inference(d["dali_z"](x, z_hat), d["dali_z"](x_fake, z_prior))
        add("dali_z", d_loss, g_loss)
    if v.has("dali_c"):  # eq. 7, content
        d_loss, _ = losses.lsgan_inference(d["dali_c"](x, c_hat.detach()), d["dali_c"](x_fake.detach(), c_t.detach()))
        _, g_loss = losses.lsgan_inference(d["dali_c"](x, c_hat), d["dali_c"](x_fake, c_t))
        add("dali_c", d_loss, g_loss)
    if v.has("image_cycle"):  # eq. 8
        pair_real, pair_fake = torch.cat([x, x], 1), torch.cat([x, x_recon], 1)
        add(
            "image_cycle",
            losses.lsgan_discriminator(d["image_cycle"](pair_real), d["image_cycle"](pair_fake.detach())),
            losses.lsgan_generator(d["image_cycle"](pair_fake)),
        )
    if v.has("d_xt_recon"):
        add(
            "d_xt_recon",
            losses.lsgan_discriminator(d["d_xt_recon"](x, t), d["d_xt_recon"](x_recon.detach(), t)),
            losses.lsgan_generator(d["d_xt_recon"](x_recon, t)),
        )
    if v.has("d_xtz"):
        d_loss, _ = losses.lsgan_inference(d["d_xtz"](x, t, z_hat.detach()), d["d_xtz"](x_fake.detach(), t, z_prior))
        _, g_loss = losses.lsgan_inference(d["d_xtz"](x, t, z_hat), d["d_xtz"](x_fake, t, z_prior))
        add("d_xtz", d_loss, g_loss)
    if v.has("d_xtc"):
        d_loss, _ = losses.lsgan_inference(
            d["d_xtc"](x, t, c_hat.detach()), d["d_xtc"](x_fake.detach(), t, c_t.detach())
        )
        _, g_loss = losses.lsgan_inference(d["d_xtc"](x, t, c_hat), d["d_xtc"](x_fake, t, c_t))
        add("d_xtc", d_loss, g_loss)

    def g_term(name, value):
        nonlocal g_total
        terms[f"g/{name}"] = value
        g_total = g_total + value

    if v.has("code_cycle"):  # eq. 9; InfoGAN's term (eq. 17) for the cInfoGAN baselines
        z_cycle, c_cycle = model.style_encoder(x_fake)[0], None
        value = losses.l1(z_cycle, z_prior)
        if v.two_codes:
            c_cycle = model.content_encoder(x_fake)[0]
            value = value + losses.l1(c_cycle, c_t)
        g_term("code_cycle", value)
    if v.has("mi_reg"):  # eq. 11: F minimizes the error, the encoders (behind the GRL) maximize it
        f = model.predictors
        g_term(
            "mi_reg",
            losses.l1(f["f_z"](reverse_gradient(c_hat)), z_hat.detach())
            + losses.l1(f["f_c"](reverse_gradient(z_hat)), c_hat.detach()),
        )
    if v.has("self_reg"):  # eq. 15, on posterior means
        if x_transformed is None:
            raise ValueError("self_reg needs the transformed batch")
        z_other, c_other = model.infer(x_transformed)
        g_term("self_reg", losses.l1(c_mean, c_other) - losses.l1(z_mean, z_other))
    if v.has("kl"):  # eq. 16, lambda = 1
        g_term("kl_z", losses.kl_standard_normal(z_mean, z_logvar, kl_reduction))
        if v.two_codes:
            g_term("kl_c_x", losses.kl_standard_normal(c_mean, c_logvar, kl_reduction))
        if generates:
            g_term("kl_c_t", losses.kl_standard_normal(ct_mean, ct_logvar, kl_reduction))
    return d_total, g_total, terms

"""The training step as it was computed before the discriminators scored all their items in one call.

One discriminator call per kind of input (real, generated detached for the
discriminator's loss, generated attached for the generator side's), every
term with its own function of :mod:`drai.models.losses`, the mismatched
partners drawn with ``torch.multinomial`` and the items without one indexed
out. The batched step (:func:`drai.models.family.training_losses`,
:func:`drai.train.step.train_step`) must compute what this does, to float32
rounding (tests/test_batched_step.py).
"""

import torch

from drai.models import losses
from drai.models.family import ModelFamily
from drai.models.networks import reverse_gradient


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


def train_step(model, opt_g, opt_d, x, t, noise, x_transformed, kl_reduction="mean") -> dict:
    """One simultaneous update of both sides; returns every term's value as a detached tensor."""
    d_total, g_total, terms = training_losses(model, x, t, noise, x_transformed, kl_reduction)
    opt_g.zero_grad(set_to_none=True)
    g_total.backward()
    if opt_d is not None:
        opt_d.zero_grad(set_to_none=True)  # drop what the generator-side loss left on D
        d_total.backward()
    opt_g.step()
    if opt_d is not None:
        opt_d.step()
    return {name: value.detach() for name, value in terms.items()}

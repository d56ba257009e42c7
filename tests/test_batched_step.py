"""The batched training step: each discriminator scores all its items in one call, the loss terms are a few
large operations; it must compute what the per-call step did (tests/per_call_step.py), to float32 rounding,
for every variant, and never read a value back to the host (a CUDA graph captures it)."""

from contextlib import nullcontext
from dataclasses import replace

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import per_call_step
from drai.models import losses
from drai.models.family import TRANSFORMS, matching_aware_weights, mismatched_vectors, training_losses, transform
from drai.models.variants import VARIANTS, get_variant
from drai.train.run import build
from drai.train.step import train_step
from toys import tiny_settings

SETTINGS = tiny_settings(batch_size=6, c_dim=5)
# Every variant on LIDC-shaped data; the three-channel images (and D_cycle's six) on two of them.
CASES = [(name, 1, 17) for name in VARIANTS] + [("DRAI", 3, 3), ("cVAE", 3, 3)]


def batch(channels: int, t_dim: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(SETTINGS.batch_size, channels, 64, 64, generator=generator).tanh()
    t = torch.eye(t_dim)[torch.randint(0, t_dim, (SETTINGS.batch_size,), generator=generator)]
    t[0], t[1] = torch.eye(t_dim)[0], torch.eye(t_dim)[1]  # mismatched partners exist
    return x, t


def two_steps(name: str, channels: int, t_dim: int, step) -> dict:
    """Two training steps with ``step`` (the batched or the per-call one) from one seed: every pass's terms,
    the first step's gradients (per pass) and the weights after it, and the noise generator's state."""
    torch.manual_seed(0)
    model, opt_g, opt_d = build(name, channels, t_dim, SETTINGS)
    x, t = batch(channels, t_dim)
    noise = torch.Generator().manual_seed(2)
    x_t = transform(x, TRANSFORMS[1])
    passes = [(x, x_t), (x_t, x)] if get_variant(name).trains_twice else [(x, None)]
    record = {"terms": [], "grads": []}
    for first in (True, False):
        for images, other in passes:
            record["terms"].append(step(model, opt_g, opt_d, images, t, noise, other))
            if first:
                record["grads"].append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
        if first:
            record["weights"] = {n: w.clone() for n, w in model.state_dict().items()}
    record["noise"] = noise.get_state()
    return record


def batched(model, opt_g, opt_d, x, t, noise, other):
    return train_step(model, opt_g, opt_d, x, t, noise, other, nullcontext(), as_tensors=True)


@pytest.mark.parametrize("name, channels, t_dim", CASES)
def test_the_batched_step_computes_what_the_per_call_step_did(name, channels, t_dim):
    got, want = two_steps(name, channels, t_dim, batched), two_steps(name, channels, t_dim, per_call_step.train_step)
    assert torch.equal(got["noise"], want["noise"])  # the same draws: codes, prior and mismatched partners
    # The losses of both steps (the second's from the updated weights).
    for got_terms, want_terms in zip(got["terms"], want["terms"], strict=True):
        assert list(got_terms) == list(want_terms)  # the same terms, in the order losses.csv takes
        for term, value in want_terms.items():
            assert got_terms[term].item() == pytest.approx(value.item(), rel=1e-5, abs=1e-7), term
    # The gradients of the first step, each pass.
    noise_level = {}  # per weight, where its gradient is rounding noise in some pass
    for got_grads, want_grads in zip(got["grads"], want["grads"], strict=True):
        assert got_grads.keys() == want_grads.keys()
        scale = max(g.abs().max() for g in want_grads.values())
        for weight, grad in want_grads.items():
            torch.testing.assert_close(got_grads[weight], grad, rtol=1e-4, atol=1e-5 * scale, msg=weight)
            noisy = grad.abs() <= 1e-5 * scale
            noise_level[weight] = noise_level.get(weight, noisy) | noisy
    # The weights after it. Adam moves each weight by about lr whatever its gradient's size, so where the
    # true gradient is 0 (the bias of a layer before batch norm) rounding noise picks the direction: up to
    # lr either way. Every other weight agrees to float32 rounding; batch-norm statistics follow those biases.
    moved = 0
    for weight, ref in want["weights"].items():
        difference = (got["weights"][weight].float() - ref.float()).abs()
        assert difference.max() <= 2 * SETTINGS.lr, weight
        if weight in noise_level:
            assert bool((difference[~noise_level[weight]] <= 1e-6).all()), weight
            moved += int((difference > 1e-6).sum())
    assert moved <= 0.002 * sum(p.numel() for p in noise_level.values())


@pytest.mark.parametrize("name", ["DRAI", "cVAE", "D-cVAE", "cInfoGAN"])
def test_each_discriminator_scores_all_its_items_in_one_call_per_pass(name):
    torch.manual_seed(0)
    model, opt_g, opt_d = build(name, 1, 17, SETTINGS)
    calls = {n: 0 for n in model.discriminators}
    for n, discriminator in model.discriminators.items():
        discriminator.register_forward_hook(lambda module, inputs, output, n=n: calls.__setitem__(n, calls[n] + 1))
    x, t = batch(1, 17)
    batched(model, opt_g, opt_d, x, t, torch.Generator().manual_seed(0), transform(x, TRANSFORMS[0]))
    assert calls == {n: 1 for n in model.discriminators}


class HostReads(TorchDispatchMode):
    """Records every operation that reads a tensor's value back to the host (on a GPU: a synchronization)."""

    def __init__(self):
        super().__init__()
        self.reads = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func._schema.name in ("aten::_local_scalar_dense", "aten::item", "aten::is_nonzero", "aten::nonzero"):
            self.reads.append(func._schema.name)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("name", ["DRAI", "cInfoGAN", "D-cVAE"])
def test_a_step_reads_nothing_back_to_the_host(name):
    # On a GPU a read-back waits for every queued kernel, and a CUDA graph cannot capture it. Fused Adam
    # (the paper preset's) reads nothing back; the loop Adam reads its step count from a CPU tensor.
    torch.manual_seed(0)
    model, opt_g, opt_d = build(name, 1, 17, replace(SETTINGS, fused_adam=True))
    x, t = batch(1, 17)
    noise = torch.Generator().manual_seed(0)
    batched(model, opt_g, opt_d, x, t, noise, transform(x, TRANSFORMS[0]))  # Adam's state exists from here
    with HostReads() as reads:
        batched(model, opt_g, opt_d, x, t, noise, transform(x, TRANSFORMS[0]))
    assert reads.reads == []


@pytest.mark.parametrize("seed", range(10))
def test_mismatched_partners_are_the_draws_of_multinomial(seed):
    rng = torch.Generator().manual_seed(seed)
    t = torch.eye(4)[torch.randint(0, 4, (12,), generator=rng)]
    t[:3] = t[0]  # some vectors shared
    if seed == 0:
        t[:] = t[0]  # no item has a partner: a draw over the whole batch, left out afterwards
    ours, theirs = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    mismatched, has_partner = mismatched_vectors(t, ours)
    expected, expected_partner = per_call_step.mismatched_vectors(t, theirs)
    assert torch.equal(mismatched, expected) and torch.equal(has_partner, expected_partner)
    assert torch.equal(ours.get_state(), theirs.get_state())  # the run's later draws are the same too


@pytest.mark.parametrize("partners", [[1, 0, 1, 1, 0, 1], [1] * 6, [0] * 6], ids=["some", "all", "none"])
def test_the_matching_aware_weights_give_the_indexed_term(partners):
    generator = torch.Generator().manual_seed(0)
    real, fake, mismatched = (torch.randn(6, generator=generator) for _ in range(3))
    has_partner = torch.tensor(partners, dtype=torch.bool)
    fakes = (mismatched[has_partner],) if has_partner.any() else ()
    expected = losses.lsgan_discriminator(real, *fakes, fake)
    fake_weights, mismatched_weights = matching_aware_weights(has_partner)
    scores = torch.cat([real, fake, mismatched])
    targets = torch.cat([torch.ones(6), torch.zeros(12)])[None]
    weights = torch.cat([torch.full((6,), 0.5 / 6), fake_weights, mismatched_weights])[None]
    value = losses.weighted_square_errors(scores, targets, weights, torch.ones(18, 1))
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)


def test_a_bad_kl_reduction_is_named():
    torch.manual_seed(0)
    model, _, _ = build("DAI", 1, 17, SETTINGS)
    x, t = batch(1, 17)
    with pytest.raises(ValueError, match="train.kl_reduction must be one of"):
        training_losses(model, x, t, torch.Generator().manual_seed(0), kl_reduction="max")

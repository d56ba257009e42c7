"""The training settings the unit tests start from: ``TrainSettings`` has no defaults of its own, so
these spell out the values the tests assume; each test replaces the fields it tests."""

from drai.train import TrainSettings

BASE = TrainSettings(
    steps=100,
    batch_size=64,
    width=64,
    z_dim=32,
    c_dim=32,
    lr=2e-4,
    beta1=0.5,
    checkpoint_every=50,
    augment=False,
    kl_reduction="mean",
    loss_readback_every=1,
    fused_adam=False,
    compile_mode="eager",
    seed=0,
)

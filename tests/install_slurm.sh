#!/usr/bin/env bash
# Installs what tests/test_slurm.py needs to start a single-node SLURM of its
# own: Debian's slurmctld, slurmd, slurm-client and munge. Only when one is
# missing, this runs as root and apt-get exists; otherwise it does nothing and
# exits 0 (the test then skips and says why). Safe to run again.
set -euo pipefail

packages=(slurmctld slurmd slurm-client munge)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install_slurm.sh: ${missing[*]} missing, but not root with apt-get: not installing (the SLURM test will skip)" >&2
    exit 0
fi

echo "install_slurm.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps the packages from starting their daemons here: the test
# starts its own, with its own configuration.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

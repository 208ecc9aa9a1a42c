#!/usr/bin/env bash
# The Dockerfile's install steps, as a script CI can run on any Debian/Ubuntu machine or image:
# the system libraries, the CPU build of torch FIRST (an unpinned torch request makes pip fetch a
# multi-GB CUDA build), then labreport with the course's stack from the source folder given.
#
#   scripts/docker-install.sh [SOURCE]      (default: this checkout)
#
# PYTHON: the interpreter to install into (default: python3, the image's own).
# TORCH_INDEX_URL: where the CPU torch comes from (default: PyTorch's CPU index; empty: pip's
# configured index, for a mirror).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source_dir="${1:-$here/..}"
python="${PYTHON:-python3}"
index="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"

bash "$here/system-packages.sh"
torch_args=(torch==2.13.0)
[ -n "$index" ] && torch_args+=(--index-url "$index")
"$python" -m pip install --no-cache-dir -q "${torch_args[@]}"
"$python" -m pip install --no-cache-dir -q "$source_dir[course]"
echo "docker-install: done: $("$python" -m labreport --version)"

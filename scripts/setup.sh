#!/usr/bin/env bash
# Set up a fresh machine for labreport: the system libraries WeasyPrint needs (Pango, HarfBuzz's
# font subsetter, DejaVu fonts, Cairo for the Word output's figures: scripts/system-packages.sh), a
# virtual environment in
# .venv with the CPU build of torch, and labreport with the course's stack (the `course` extra),
# Word output (the `docx` extra) and the development tools (the `dev` dependency group).
# Safe to run again: every step is skipped or is a no-op when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-packages.sh

python3 -m venv .venv
# torch first, pinned: any other torch request pulls a multi-GB CUDA build.
.venv/bin/python -m pip install -q torch==2.13.0
# `--group` (PEP 735 dependency groups) is new in pip 25.1; a venv may start with an older pip.
.venv/bin/python -m pip install -q --upgrade "pip>=25.1"
# Not editable: the venv runs labreport exactly as a user's `pip install .[course,docx,dask]` would.
.venv/bin/python -m pip install -q ".[course,docx,dask]" --group dev
echo "setup: done. Try: .venv/bin/labreport build exp5"

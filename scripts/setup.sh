#!/usr/bin/env bash
# Set up a fresh machine for labreport: the system libraries WeasyPrint needs (Pango, HarfBuzz's
# font subsetter, DejaVu fonts; Cairo for the Word output's figures), a virtual environment in
# .venv with the CPU build of torch, and labreport with the course's stack (the `course` extra),
# Word output (the `docx` extra) and the development tools (the `dev` dependency group).
# Safe to run again: every step is skipped or is a no-op when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
ldconfig -p | grep -q 'libpango-1.0.so' || missing+=(libpango-1.0-0)
ldconfig -p | grep -q 'libpangoft2-1.0.so' || missing+=(libpangoft2-1.0-0)
# WeasyPrint subsets embedded fonts with HarfBuzz (and warns from version 70 on without it).
ldconfig -p | grep -q 'libharfbuzz-subset.so' || missing+=(libharfbuzz-subset0)
# Word output (labreport[docx], which setup installs) draws figures with CairoSVG, on libcairo.
ldconfig -p | grep -q 'libcairo.so.2' || missing+=(libcairo2)
{ command -v fc-list >/dev/null && fc-list | grep -q 'DejaVuSans'; } || missing+=(fonts-dejavu-core)
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

python3 -m venv .venv
# torch first, pinned: any other torch request pulls a multi-GB CUDA build.
.venv/bin/python -m pip install -q torch==2.13.0
# `--group` (PEP 735 dependency groups) is new in pip 25.1; a venv may start with an older pip.
.venv/bin/python -m pip install -q --upgrade "pip>=25.1"
# Not editable: the venv runs labreport exactly as a user's `pip install .[course,docx]` would.
.venv/bin/python -m pip install -q ".[course,docx]" --group dev
echo "setup: done. Try: .venv/bin/labreport build exp5"

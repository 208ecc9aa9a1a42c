#!/usr/bin/env bash
# The system libraries WeasyPrint needs, on Debian or Ubuntu: Pango, HarfBuzz's font subsetter and
# the DejaVu fonts (and Cairo, for the Word output's pictures) the themes use (and fontconfig, which finds them). Installs only what is missing;
# `labreport doctor` checks the same pieces. Used by scripts/setup.sh and scripts/docker-install.sh.
set -euo pipefail

missing=()
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_lib 'libpango-1.0.so' || missing+=(libpango-1.0-0)
have_lib 'libpangoft2-1.0.so' || missing+=(libpangoft2-1.0-0)
# WeasyPrint subsets embedded fonts with HarfBuzz (and warns from version 70 on without it).
have_lib 'libharfbuzz-subset.so' || missing+=(libharfbuzz-subset0)
# Word output (labreport[docx]) draws figures and formulas with CairoSVG, on libcairo.
have_lib 'libcairo.so.2' || missing+=(libcairo2)
command -v fc-match >/dev/null || missing+=(fontconfig)
{ command -v fc-list >/dev/null && fc-list | grep -q 'DejaVuSans'; } || missing+=(fonts-dejavu-core)
if ((${#missing[@]})); then
  echo "system-packages: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

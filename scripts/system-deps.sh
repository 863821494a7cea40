#!/usr/bin/env bash
# Installs the Debian packages the project needs and the machine lacks (sudo when not root).
#   python3-venv   to create .venv
#   chromium       the real browser the page tests drive (with Playwright, no browser download)
#   gdal-bin       ogrinfo/ogr2ogr, to check exports the way QGIS users will read them
set -euo pipefail
need=()
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
[ -n "${TERREAU_SKIP_BROWSER:-}" ] || command -v chromium >/dev/null || need+=(chromium)
command -v ogrinfo >/dev/null || need+=(gdal-bin)
command -v psql >/dev/null || need+=(postgresql-client)
[ ${#need[@]} -eq 0 ] && exit 0
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "[system-deps] installation de : ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
sudo_ apt-get install -y -qq "${need[@]}" || { sudo_ apt-get update -qq && sudo_ apt-get install -y -qq "${need[@]}"; }

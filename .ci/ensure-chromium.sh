#!/usr/bin/env bash
# Make sure Debian's Chromium (and its ChromeDriver) is installed for the browser tests.
# Playwright drives this browser (browser downloads are not possible here). Installs the
# packages with apt when missing; exits non-zero, naming the problem, when it cannot.
set -euo pipefail

CHROMIUM=${ROLLCALL_CHROMIUM:-/usr/bin/chromium}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

if [ ! -x "$CHROMIUM" ] || ! command -v chromedriver >/dev/null; then
  echo "Chromium missing: installing Debian's chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq || { echo "ensure-chromium: apt-get update failed" >&2; exit 1; }
  as_root apt-get install -y -qq chromium chromium-driver >/dev/null \
    || { echo "ensure-chromium: could not install chromium chromium-driver" >&2; exit 1; }
fi

if [ ! -x "$CHROMIUM" ]; then
  echo "ensure-chromium: $CHROMIUM is still missing" >&2
  exit 1
fi
echo "$("$CHROMIUM" --version 2>/dev/null || echo chromium) at $CHROMIUM"

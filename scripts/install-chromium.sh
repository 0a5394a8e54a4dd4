#!/usr/bin/env bash
# Installs Debian's chromium for the browser test of the SDK, when it is missing. Needs root and
# apt-get; where either is missing it says so and leaves the browser test to report itself skipped.
set -uo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "chromium: not installed and cannot be (needs root and apt-get): the browser test will be skipped"
  exit 0
fi
echo "chromium: installing Debian's chromium for the browser test"
if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; then
  echo "chromium: apt-get could not install it: the browser test will be skipped"
fi
exit 0

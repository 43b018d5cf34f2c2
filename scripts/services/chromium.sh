#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium and its WebDriver (chromium-driver) for the
# monitor's real-browser test, idempotently; needs root and apt. Never fails the suite:
# when Chromium cannot be installed, the browser test skips and says so loudly.
# Usage: scripts/services/chromium.sh [LOGFILE]
set -uo pipefail
LOG=${1:-/dev/null}
have() { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }
if have; then echo "chromium: already installed" >>"$LOG"; exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "chromium: not installed and cannot install it (need root and apt-get)" >>"$LOG"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# Other apt users (the PostgreSQL step, other jobs) may hold the lock: wait for it.
APT=("$(dirname "$0")/apt.sh" -q -y)
if ! apt-cache policy chromium-driver 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  "${APT[@]}" update >>"$LOG" 2>&1 || true
fi
"${APT[@]}" install --no-install-recommends chromium chromium-driver fonts-dejavu-core \
  >>"$LOG" 2>&1 || echo "chromium: apt-get install failed (see above)" >>"$LOG"
have && echo "chromium: installed" >>"$LOG"
exit 0

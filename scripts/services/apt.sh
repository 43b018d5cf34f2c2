#!/usr/bin/env bash
# apt.sh ARGS...: apt-get ARGS, one at a time. The service set-ups run in parallel on a fresh
# machine, and apt-get update / install refuse (or fail half-way) while another one holds
# the lists or dpkg lock: one lock of ours serializes them, dpkg's own lock is waited for.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
exec flock /tmp/swf-apt.lock apt-get -o DPkg::Lock::Timeout=600 "$@"

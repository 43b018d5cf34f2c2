#!/usr/bin/env bash
# The one test command (README and .ci/run): installs what the tests need, starts the
# throwaway services they use, runs ruff, mypy --strict and the whole pytest suite, and
# stops what it started. Idempotent; needs no standard input. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${SWF_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}

# --- Python environment --------------------------------------------------------------
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]" 2>&1 \
  | { grep -v '^WARNING: Location' || true; }
# swf ships its own soma_workflow package (aliases); the real soma-workflow, the tests'
# oracle, lives apart in .soma-oracle/ (tests/soma_oracle.py). An older venv that still
# has it installed would shadow swf's alias: remove it from the venv.
if "$VENV/bin/python" -m pip show -q soma-workflow >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip uninstall -y -q soma-workflow
fi
"$VENV/bin/python" -m tests.soma_oracle >/dev/null

# --- PostgreSQL (throwaway cluster on 127.0.0.1, trust auth) ---------------------------
STARTED_PIDS=()
WORK=$(mktemp -d /tmp/swf-test.XXXXXX)
chmod 0755 "$WORK"
cleanup() {
  scripts/services/slurm.sh stop "$WORK/slurm" 2>/dev/null || true
  scripts/services/sge.sh stop "$WORK/sge" 2>/dev/null || true
  scripts/services/sshd.sh stop "$WORK/sshd" 2>/dev/null || true
  for pidfile in "${STARTED_PIDS[@]}"; do
    [ -f "$pidfile" ] && kill -INT "$(head -1 "$pidfile")" 2>/dev/null || true
  done
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- SLURM (single node; installed and started in the background, in parallel) -----------
# The SLURM tests fail (not skip) when this start failed: its log is in SWF_TEST_SLURM_LOG.
export SWF_TEST_SLURM_LOG="$WORK/slurm.log"
scripts/services/slurm.sh start "$WORK/slurm" >"$SWF_TEST_SLURM_LOG" 2>&1 &
SLURM_START_PID=$!

# --- Grid Engine + libdrmaa (single host; in the background, in parallel) ---------------
# Its tests fail (not skip) when this start failed: its log is in SWF_TEST_SGE_LOG.
export SWF_TEST_SGE_LOG="$WORK/sge.log"
scripts/services/sge.sh start "$WORK/sge" >"$SWF_TEST_SGE_LOG" 2>&1 &
SGE_START_PID=$!

# --- sshd on 127.0.0.1 + a remote user with swf (remote resources; in the background) ----
# Its tests fail (not skip) when this start failed: its log is in SWF_TEST_SSH_LOG.
export SWF_TEST_SSH_LOG="$WORK/sshd.log"
scripts/services/sshd.sh start "$WORK/sshd" >"$SWF_TEST_SSH_LOG" 2>&1 &
SSHD_START_PID=$!

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$PG_BIN" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  scripts/services/apt.sh update -q >/dev/null 2>&1 || true
  scripts/services/apt.sh install -y -q postgresql >/dev/null 2>&1 || echo "warning: could not install postgresql"
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
fi

# --- Chromium for the monitor's browser test: apt in the background, after PostgreSQL's --
scripts/services/chromium.sh "$WORK/chromium.log" &
CHROMIUM_SETUP=$!

if [ -n "$PG_BIN" ]; then
  PG_PORT=${SWF_TEST_PG_PORT:-55432}
  mkdir -p "$WORK/pg"
  RUN_AS=()
  if [ "$(id -u)" = 0 ]; then chown postgres "$WORK/pg"; RUN_AS=(runuser -u postgres --); fi
  "${RUN_AS[@]}" "$PG_BIN/initdb" -D "$WORK/pg/data" -A trust -U postgres --no-sync >/dev/null
  "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $WORK/pg -c fsync=off" start >/dev/null
  STARTED_PIDS+=("$WORK/pg/data/postmaster.pid")
  export SWF_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
else
  echo "warning: no PostgreSQL server available; PostgreSQL store tests will fail" >&2
  export SWF_TEST_POSTGRES_URL="unavailable"
fi

# Exports SWF_TEST_<VAR>=required when the service's background start succeeded, else
# =failed with its log, so that its tests fail (never skip) and say why.
await_service() {  # VAR PID LOG NAME WHICH-TESTS
  if wait "$2"; then
    export "SWF_TEST_$1=required"
  else
    export "SWF_TEST_$1=failed"
    echo "warning: $4 did not start; the $5 tests will fail (see below)" >&2
    cat "$3" >&2
  fi
}
await_service SLURM "$SLURM_START_PID" "$SWF_TEST_SLURM_LOG" SLURM SLURM
await_service SGE "$SGE_START_PID" "$SWF_TEST_SGE_LOG" "Grid Engine" "Grid Engine"
await_service SSH "$SSHD_START_PID" "$SWF_TEST_SSH_LOG" sshd remote-resource

# --- static checks ---------------------------------------------------------------------
"$VENV/bin/ruff" check --no-cache src tests bench  # no cache: a stale one hid import-order errors
"$VENV/bin/mypy" --strict src

wait "$CHROMIUM_SETUP" || true
grep '^chromium:' "$WORK/chromium.log" 2>/dev/null || true

# --- the suite -------------------------------------------------------------------------
export SWF_TEST_WORKDIR="$WORK"
# Test artefacts (the monitor's screenshots) outlive the work dir; git-ignored.
export SWF_TEST_ARTEFACTS=${SWF_TEST_ARTEFACTS:-$ROOT/.test-artefacts}
set +e
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi
exit "$rc"

# Sourced by the service scripts (slurm.sh, sge.sh): what every single-machine daemon
# service does the same way. Daemons are named by their pid files; `stop` ends only the
# ones `start` recorded in STATE_DIR/started, by pid.

alive() {  # alive PIDFILE: the daemon named there runs (a zombie counts as gone)
  local f=$1 p
  [ -s "$f" ] || return 1
  p=$(cat "$f")
  kill -0 "$p" 2>/dev/null && [ "$(ps -o stat= -p "$p" | cut -c1)" != Z ]
}

stop_pidfile() {  # TERM the daemon named in the pid file, wait until it is gone
  local f=$1 p
  [ -s "$f" ] || return 0
  p=$(cat "$f")
  kill "$p" 2>/dev/null || return 0
  for _ in $(seq 1 80); do alive "$f" || break; sleep 0.25; done
}

begin_start() {  # begin_start STATE_DIR LOCK_NAME: a fresh record, one start at a time
  [ -n "$1" ] || { echo "usage: $(basename "$0") start STATE_DIR" >&2; exit 2; }
  mkdir -p "$1"
  : >"$1/started"
  exec 9>"/run/$2.lock"  # two test runs starting at once: one does the work
  flock 9
}

record_started() {  # record_started STATE_DIR PIDFILE: `stop` will end this one
  echo "$2" >>"$1/started"
}

stop_recorded() {  # stop_recorded STATE_DIR PIDFILE...: in the order given (reverse of start)
  local state=$1 f
  shift
  [ -n "$state" ] && [ -f "$state/started" ] || return 0
  for f in "$@"; do
    if grep -qxF "$f" "$state/started"; then stop_pidfile "$f"; fi
  done
  rm -f "$state/started"
}

apt_install() {  # apt_install PACKAGE...: a fresh machine needs the package lists first
  local apt=("$(dirname "${BASH_SOURCE[0]}")/apt.sh" install -y -q "$@")
  export DEBIAN_FRONTEND=noninteractive
  "${apt[@]}" >/dev/null 2>&1 || {
    "$(dirname "${BASH_SOURCE[0]}")/apt.sh" update -q >/dev/null 2>&1 || true
    "${apt[@]}" >/dev/null
  }
}

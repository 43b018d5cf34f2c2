#!/usr/bin/env bash
# A single-host Son of Grid Engine cell (8.1.9, Debian's gridengine-* packages) with libdrmaa
# 1.0, for the tests. No systemd. Recipe: shared/notes/hpc-on-one-machine.md, section 2.
#
#   scripts/services/sge.sh start STATE_DIR   install if missing, configure the cell once,
#                                             start what is not running, record what it
#                                             started in STATE_DIR/started
#   scripts/services/sge.sh stop STATE_DIR    stop (by PID) only what `start` recorded
#   scripts/services/sge.sh status            exit 0 when all.q answers on this host
#   scripts/services/sge.sh env               the variables libdrmaa needs (for `eval`)
#
# Idempotent: a cell already running is used as is and left running. Knob: SGE_SLOTS
# (slots of all.q, default 16: more than the cores, so many tiny jobs start at once).
set -euo pipefail
# shellcheck source=scripts/services/daemons.sh
. "$(dirname "$0")/daemons.sh"
ACTION=${1:?usage: sge.sh start|stop STATE_DIR | status | env}
STATE=${2:-}
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
H=$(hostname -s)
EXECD_PID=/var/run/gridengine/execd.pid
# sge_qmaster 8.1.9 ignores SGE_MASTER_PIDFILE: its pid file is in the spool directory.
QMASTER_PID=/var/spool/gridengine/qmaster/qmaster.pid
DRMAA_LIB=/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0
JEMALLOC=$(ls /lib/*-linux-gnu/libjemalloc.so.2 /usr/lib/*-linux-gnu/libjemalloc.so.2 2>/dev/null | head -1 || true)

cell_ready() { qstat -f 2>/dev/null | grep -q "all.q@$H .* lx-amd64 *$"; }

install_packages() {
  [ -x /usr/sbin/sge_qmaster ] && [ -x /usr/sbin/sge_execd ] && [ -f "$DRMAA_LIB" ] \
    && command -v qconf >/dev/null && return 0
  [ "$(id -u)" = 0 ] || { echo "sge.sh: Grid Engine is not installed and we are not root" >&2; return 1; }
  export DEBIAN_FRONTEND=noninteractive
  # Without this preseed the master's postinst configures no cell (pitfall 1).
  debconf-set-selections <<SEL
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string default
gridengine-common shared/gridenginemaster string $H
gridengine-master shared/gridenginemaster string $H
gridengine-client shared/gridenginemaster string $H
SEL
  apt_install gridengine-master gridengine-exec gridengine-client gridengine-drmaa1.0 libjemalloc2
}

fix_host_names() {  # $H -> 127.0.0.1 -> "localhost": commlib refuses without the alias
  local common=$SGE_ROOT/$SGE_CELL/common
  echo "$H localhost" >"$common/host_aliases"
  echo "$H" >"$common/act_qmaster"
  chown sgeadmin:sgeadmin "$common/host_aliases" "$common/act_qmaster"
}

configure_cell() {  # once per installation: root may run jobs, fast scheduling, queue, PE
  [ -f "$SGE_ROOT/$SGE_CELL/common/.swf-configured" ] && return 0
  local c
  c=$(mktemp -d)
  (
    cd "$c"
    qconf -sconf | sed -e 's/^min_uid .*/min_uid                      0/' \
      -e 's/^min_gid .*/min_gid                      0/' \
      -e 's/^load_report_time .*/load_report_time             00:00:05/' \
      -e 's/flush_time=00:00:15/flush_time=00:00:01/' >global
    qconf -Mconf global >/dev/null
    qconf -ssconf | sed -e 's/^schedule_interval .*/schedule_interval                 0:0:1/' \
      -e 's/^flush_submit_sec .*/flush_submit_sec                  1/' \
      -e 's/^flush_finish_sec .*/flush_finish_sec                  1/' >sched.conf
    qconf -Msconf sched.conf >/dev/null
    qconf -as "$H" >/dev/null
    printf '%-21s %s\n' hostname "$H" load_scaling NONE complex_values NONE user_lists NONE \
      xuser_lists NONE projects NONE xprojects NONE usage_scaling NONE report_variables NONE \
      >exechost.conf
    qconf -Ae exechost.conf >/dev/null 2>&1 || qconf -Me exechost.conf >/dev/null
    printf '%-18s %s\n' pe_name smp slots 999 user_lists NONE xuser_lists NONE \
      start_proc_args NONE stop_proc_args NONE allocation_rule '$pe_slots' control_slaves TRUE \
      job_is_first_task TRUE urgency_slots min accounting_summary FALSE qsort_args NONE >smp.pe
    qconf -Ap smp.pe >/dev/null 2>&1 || qconf -Mp smp.pe >/dev/null
    { EDITOR=cat qconf -aq all.q 2>/dev/null || true; } | sed \
      -e "s/^hostlist .*/hostlist              $H/" \
      -e "s/^slots .*/slots                 ${SGE_SLOTS:-16}/" \
      -e 's/^pe_list .*/pe_list               smp/' \
      -e 's/^load_thresholds .*/load_thresholds       NONE/' \
      -e 's|^shell .*|shell                 /bin/bash|' >all.q
    qconf -Aq all.q >/dev/null 2>&1 || qconf -Mq all.q >/dev/null
  )
  rm -rf "$c"
  touch "$SGE_ROOT/$SGE_CELL/common/.swf-configured"
}

start() {
  begin_start "$STATE" swf-sge-service
  # qstat keeps showing the queue healthy for a while after execd died: check both daemons
  if alive "$QMASTER_PID" && alive "$EXECD_PID" && cell_ready; then
    echo "sge: already running, used as is"
    return 0
  fi
  install_packages
  mkdir -p /var/run/gridengine /var/spool/gridengine/execd
  chown sgeadmin:sgeadmin /var/run/gridengine /var/spool/gridengine/execd
  fix_host_names
  if ! alive "$QMASTER_PID"; then
    /usr/sbin/sge_qmaster 9>&-
    record_started "$STATE" "$QMASTER_PID"
    for _ in $(seq 1 120); do qconf -sh >/dev/null 2>&1 && break; sleep 0.25; done
  fi
  fix_host_names  # qmaster rewrites act_qmaster with the name it resolved itself as
  configure_cell
  if ! alive "$EXECD_PID"; then
    SGE_EXECD_PIDFILE=$EXECD_PID /usr/sbin/sge_execd 9>&-
    record_started "$STATE" "$EXECD_PID"
  fi
  for _ in $(seq 1 120); do cell_ready && break; sleep 0.25; done
  cell_ready || { echo "sge: all.q@$H did not come up" >&2; qstat -f >&2 || true; exit 1; }
  echo "sge: started ($(qstat -f | grep "all.q@$H"))"
}

stop() { stop_recorded "$STATE" "$EXECD_PID" "$QMASTER_PID"; }  # the reverse of the start order

case "$ACTION" in
start) start ;;
stop) stop ;;
status) cell_ready ;;
env) echo "export SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL DRMAA_LIBRARY_PATH=$DRMAA_LIB" ;;
*) echo "usage: sge.sh start|stop STATE_DIR | status | env" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A single-node SLURM cluster on this machine for the tests (munge, slurmctld, slurmd; no
# systemd, no cgroups, no slurmdbd). Recipe: shared/notes/hpc-on-one-machine.md, section 1.
#
#   scripts/services/slurm.sh start STATE_DIR   install if missing, start what is not running,
#                                               record what it started in STATE_DIR/started
#   scripts/services/slurm.sh stop STATE_DIR    stop (by PID) only what `start` recorded
#   scripts/services/slurm.sh status            exit 0 when the node answers idle/mixed/alloc
#
# Idempotent: a cluster already running (another test run, a developer's) is used as is
# and left running. Knobs: SLURM_CPUS (declared CPUs, default 32: more than the cores, so
# many tiny jobs start at once), SLURM_MINJOBAGE (default 300).
set -euo pipefail
# shellcheck source=scripts/services/daemons.sh
. "$(dirname "$0")/daemons.sh"
ACTION=${1:?usage: slurm.sh start|stop STATE_DIR | status}
STATE=${2:-}
PIDS=(/run/slurm/slurmd.pid /run/slurm/slurmctld.pid /run/munge/munged.pid)

node_ready() { sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }

install_packages() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
    && command -v sbatch >/dev/null && return 0
  [ "$(id -u)" = 0 ] || { echo "slurm.sh: SLURM is not installed and we are not root" >&2; return 1; }
  apt_install slurmctld slurmd slurm-client munge
}

write_config() {
  local host ncpu mem
  host=$(hostname -s)
  ncpu=${SLURM_CPUS:-32}
  mem=$(($(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 1024))
  mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/slurm
  chown slurm:slurm /var/spool/slurmctld /var/log/slurm /run/slurm
  cat >/etc/slurm/slurm.conf <<CONF
# Written by swf's scripts/services/slurm.sh (single-node test cluster).
ClusterName=swftest
SlurmctldHost=${host}
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SlurmdParameters=config_overrides
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=${SLURM_MINJOBAGE:-300}
MaxJobCount=200000
MaxArraySize=100001
KillWait=5
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${ncpu} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=short Nodes=ALL MaxTime=60 State=UP
CONF
}

start_munge() {
  mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chmod 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  runuser -u munge -- /usr/sbin/munged 9>&-
  munge -n | unmunge >/dev/null
}

start() {
  begin_start "$STATE" swf-slurm-service
  if node_ready && alive /run/slurm/slurmctld.pid; then
    echo "slurm: already running, used as is"
    return 0
  fi
  install_packages
  if ! alive /run/munge/munged.pid; then
    start_munge
    record_started "$STATE" /run/munge/munged.pid
  fi
  if ! alive /run/slurm/slurmctld.pid; then
    write_config
    /usr/sbin/slurmctld 9>&-
    record_started "$STATE" /run/slurm/slurmctld.pid
  fi
  if ! alive /run/slurm/slurmd.pid; then
    /usr/sbin/slurmd 9>&-
    record_started "$STATE" /run/slurm/slurmd.pid
  fi
  for _ in $(seq 1 120); do node_ready && break; sleep 0.25; done
  node_ready || { echo "slurm: the node did not become ready" >&2; sinfo >&2 || true; exit 1; }
  # A node left DOWN/DRAIN by an earlier unclean stop is brought back.
  scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
  echo "slurm: started ($(sinfo -h -o '%N %c CPUs %T'))"
}

stop() { stop_recorded "$STATE" "${PIDS[@]}"; }  # slurmd, slurmctld, munge: reverse start order

case "$ACTION" in
start) start ;;
stop) stop ;;
status) node_ready ;;
*) echo "usage: slurm.sh start|stop STATE_DIR | status" >&2; exit 2 ;;
esac

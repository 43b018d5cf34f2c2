#!/usr/bin/env bash
# An sshd on 127.0.0.1 for the remote-resource tests: its own host key and config, an
# unprivileged user (swfremote) whose own venv has swf installed from this checkout.
# Recipe and pitfalls: shared/notes/hpc-on-one-machine.md, section 5.
#
#   scripts/services/sshd.sh start STATE_DIR   install if missing, (re)install swf for the
#                                              remote user, start sshd if none of ours runs,
#                                              record in STATE_DIR/started what it started
#   scripts/services/sshd.sh stop STATE_DIR    stop (by PID) only what `start` recorded
#   scripts/services/sshd.sh status            exit 0 when our sshd answers
#   scripts/services/sshd.sh env               the SWF_TEST_SSH_* variables (sh syntax)
#
# Two listening ports: SSHD_PORT (default 22220) is key-only (the normal tests);
# SSHD_PORT+1 also takes passwords (the wrong-password tests). The machine-wide state
# (keys, config, password) lives in SSHD_HOME (default /var/lib/swf-test-sshd), so
# concurrent test runs share one sshd; each checkout gets its own remote venv.
set -euo pipefail
ACTION=${1:?usage: sshd.sh start|stop STATE_DIR | status | env}
STATE=${2:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
H=${SSHD_HOME:-/var/lib/swf-test-sshd}
PORT=${SSHD_PORT:-22220}
PASSWORD_PORT=$((PORT + 1))
USER_NAME=${SSHD_USER:-swfremote}
USER_HOME=/home/$USER_NAME
# One venv per checkout: helpers testing different checkouts do not overwrite each other.
VENV=$USER_HOME/venvs/$(printf %s "$ROOT" | sha1sum | cut -c1-12)

alive() {  # alive PIDFILE: the process named there runs
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

install_packages() {
  [ -x /usr/sbin/sshd ] && command -v ssh-keygen >/dev/null && command -v sftp >/dev/null && return 0
  [ "$(id -u)" = 0 ] || { echo "sshd.sh: openssh-server is missing and we are not root" >&2; return 1; }
  local apt=("$(dirname "$0")/apt.sh" install -y -q openssh-server openssh-client openssh-sftp-server)
  "${apt[@]}" >/dev/null 2>&1 || {
    "$(dirname "$0")/apt.sh" update -q >/dev/null 2>&1 || true
    "${apt[@]}" >/dev/null
  }
}

make_user() {
  id "$USER_NAME" >/dev/null 2>&1 || useradd -m -s /bin/bash "$USER_NAME"
  [ -s "$H/password" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$H/password")
  echo "$USER_NAME:$(cat "$H/password")" | chpasswd  # also unlocks the account (UsePAM no)
  chmod 0755 "$USER_HOME"  # jobs of the tests read and write below it as that user
}

make_keys() {
  mkdir -p "$H" /run/sshd && chmod 0700 "$H" && chmod 0755 /run/sshd
  [ -f "$H/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$H/host_ed25519"
  [ -f "$H/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$H/client_ed25519"
  [ -s "$H/key_passphrase" ] || (umask 077; head -c 12 /dev/urandom | base64 | tr -d '/+=' >"$H/key_passphrase")
  [ -f "$H/client_rsa_encrypted" ] || ssh-keygen -q -t rsa -b 2048 -m PEM \
    -N "$(cat "$H/key_passphrase")" -f "$H/client_rsa_encrypted"
  local host_key
  host_key=$(cut -d' ' -f1,2 "$H/host_ed25519.pub")
  printf '[127.0.0.1]:%s %s\n[127.0.0.1]:%s %s\n' "$PORT" "$host_key" "$PASSWORD_PORT" "$host_key" \
    >"$H/known_hosts"
}

authorize() {
  install -d -m 700 -o "$USER_NAME" -g "$USER_NAME" "$USER_HOME/.ssh"
  cat "$H/client_ed25519.pub" "$H/client_rsa_encrypted.pub" >"$H/authorized_keys"
  install -m 600 -o "$USER_NAME" -g "$USER_NAME" "$H/authorized_keys" "$USER_HOME/.ssh/authorized_keys"
}

write_config() {
  cat >"$H/sshd_config" <<CONF
# Written by swf's scripts/services/sshd.sh (test sshd; loopback only).
ListenAddress 127.0.0.1:$PORT
ListenAddress 127.0.0.1:$PASSWORD_PORT
HostKey $H/host_ed25519
PidFile $H/sshd.pid
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers $USER_NAME
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
X11Forwarding no
PrintMotd no
StrictModes yes
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp internal-sftp
LogLevel INFO
Match LocalPort $PASSWORD_PORT
    PasswordAuthentication yes
CONF
  /usr/sbin/sshd -t -f "$H/sshd_config"
}

# swf from this checkout in the remote user's own venv (interpreter outside /root: pitfall 2).
install_swf() {
  local copy=$USER_HOME/src/$(basename "$VENV")
  rm -rf "$copy" && mkdir -p "$copy"
  (cd "$ROOT" && tar cf - --exclude='__pycache__' --exclude='*.egg-info' pyproject.toml README.md src) \
    | tar xf - -C "$copy"
  chown -R "$USER_NAME:$USER_NAME" "$USER_HOME/src"
  runuser -u "$USER_NAME" -- bash -c "
    set -e
    [ -x '$VENV/bin/python' ] || { mkdir -p '$(dirname "$VENV")'; /usr/bin/python3 -m venv '$VENV'; }
    '$VENV/bin/pip' install -q --disable-pip-version-check '$copy' 2>&1 | { grep -v '^WARNING: Location' || true; }
    '$VENV/bin/python' -c 'import swf_entry.remote_agent'
  "
}

start() {
  [ -n "$STATE" ] || { echo "usage: sshd.sh start STATE_DIR" >&2; exit 2; }
  mkdir -p "$STATE"
  exec 9>/tmp/swf-sshd.lock && flock 9  # concurrent test runs share the machine-wide part
  install_packages
  make_keys
  make_user
  authorize
  write_config
  install_swf
  if alive "$H/sshd.pid" && answers; then
    echo "sshd: already running (pid $(cat "$H/sshd.pid")), used as is"
  else
    /usr/sbin/sshd -f "$H/sshd_config" -E "$H/sshd.log"
    for _ in $(seq 1 40); do answers && break; sleep 0.25; done
    answers || { echo "sshd did not answer on 127.0.0.1:$PORT" >&2; tail -20 "$H/sshd.log" >&2; exit 1; }
    cat "$H/sshd.pid" >"$STATE/started"
    echo "sshd: started (pid $(cat "$H/sshd.pid")) on 127.0.0.1:$PORT and :$PASSWORD_PORT"
  fi
  print_env >"$STATE/env"
}

stop() {
  [ -n "$STATE" ] && [ -s "$STATE/started" ] || return 0
  local pid
  pid=$(cat "$STATE/started")
  # Only the listener we started (open connections are its children and end with their clients).
  if alive "$H/sshd.pid" && [ "$(cat "$H/sshd.pid")" = "$pid" ]; then kill "$pid"; fi
  rm -f "$STATE/started"
}

print_env() {
  cat <<ENV
SWF_TEST_SSH_HOST=127.0.0.1
SWF_TEST_SSH_PORT=$PORT
SWF_TEST_SSH_PASSWORD_PORT=$PASSWORD_PORT
SWF_TEST_SSH_USER=$USER_NAME
SWF_TEST_SSH_KEY=$H/client_ed25519
SWF_TEST_SSH_ENCRYPTED_KEY=$H/client_rsa_encrypted
SWF_TEST_SSH_KEY_PASSPHRASE=$(cat "$H/key_passphrase")
SWF_TEST_SSH_PASSWORD=$(cat "$H/password")
SWF_TEST_SSH_KNOWN_HOSTS=$H/known_hosts
SWF_TEST_SSH_HOST_KEY=$H/host_ed25519.pub
SWF_TEST_SSH_PYTHON=$VENV/bin/python
SWF_TEST_SSH_SERVER_PID_FILE=$H/sshd.pid
ENV
}

case "$ACTION" in
  start) start ;;
  stop) stop ;;
  status) alive "$H/sshd.pid" && answers ;;
  env) print_env ;;
  *) echo "usage: sshd.sh start|stop STATE_DIR | status | env" >&2; exit 2 ;;
esac

# shellcheck shell=bash
# Part of scripts/testbed (sourced; defines functions and settings only): the local sshd,
# and the options every SSH client of the test bed uses.

SSH_OPTS=(-i "$TB/ssh/id_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=no
  -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5
  -o ControlMaster=no -o ControlPath=none)

# sshd_config PORT ADDRESS PIDFILE
sshd_config() {
  # shellcheck disable=SC2034 # render reads them by name
  local SSHD_PORT=$1 SSHD_ADDRESS=$2 SSHD_PIDFILE=$3
  render sshd_config.in SSHD_PORT SSHD_ADDRESS SSHD_PIDFILE
}

start_sshd() {
  local key=$TB/ssh/id_ed25519 pub
  mkdir -p /run/sshd && chmod 0755 /run/sshd   # privilege separation directory
  if ! ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1; then ssh-keygen -A; fi
  [ -f "$key" ] || ssh-keygen -q -t ed25519 -N '' -C remotevirt-testbed -f "$key"
  mkdir -p /root/.ssh && chmod 0700 /root/.ssh
  touch /root/.ssh/authorized_keys && chmod 0600 /root/.ssh/authorized_keys
  pub=$(cat "$key.pub")
  grep -qxF "$pub" /root/.ssh/authorized_keys || echo "$pub" >> /root/.ssh/authorized_keys
  write_file "$TB/ssh/sshd_config" sshd_config 2222 127.0.0.1 "$TB/run/sshd.pid"
  /usr/sbin/sshd -t -f "$TB/ssh/sshd_config"
  ensure_daemon sshd "$TB/run/sshd.pid" \
    /usr/sbin/sshd -f "$TB/ssh/sshd_config" -E "$TB/logs/sshd.log"
  wait_for 15 ssh "${SSH_OPTS[@]}" -p 2222 root@127.0.0.1 true || die "ssh to 127.0.0.1:2222 fails"
}

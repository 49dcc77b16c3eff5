# shellcheck shell=bash
# Helpers for the shell tasks of the fault cases; sourced with these variables set:
#   FAULT_WORK (scratch directory on the controller), FAULT_HOST (inventory name),
#   FAULT_HOST_ADDR (its address), REMOTEVIRT_TESTBED (the test bed's state directory).
# A case launches module tasks as their own ansible-playbook runs (files/task.yml) in the
# background, waits for a step to show in the host log, injects its fault, and collects them.

FAULT_TASK=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/task.yml
HOST_LOG=$REMOTEVIRT_TESTBED/logs/syslog.log

# log_mark: the host log's current length; wait_log looks only at what comes after it
log_mark() { wc -l < "$HOST_LOG"; }

# wait_log MARK REGEX SECONDS [NAME]: wait for a host log line (extended regex) written after
# MARK; with NAME, give up as soon as that launched run has ended
wait_log() {
  local deadline=$((SECONDS + $3))
  # grep's own status: under pipefail, tail killed by SIGPIPE once grep found the line (a long log
  # after the mark) would fail the pipe and hide the match.
  until grep -qE "$2" < <(tail -n "+$(($1 + 1))" "$HOST_LOG"); do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "no host log line matching '$2' within $3 s" >&2
      return 1
    fi
    if [ -n "${4:-}" ] && ! kill -0 "$(cat "$FAULT_WORK/$4.pid")" 2>/dev/null; then
      echo "no host log line matching '$2': the run ended first with $(finish "$4" 0)" >&2
      return 1
    fi
    sleep 0.1
  done
}

# launch NAME ARGS_JSON: run files/task.yml in the background with ARGS_JSON as extra vars
# ({"guest_args": {...}} or {"volume_args": {...}}); its result lands in $FAULT_WORK/NAME.json.
# One SSH connection per task, no ControlPersist master, so the connection a task uses is a
# process of this run that a case can kill.
launch() {
  local name=$1
  rm -f "$FAULT_WORK/$name.json"
  printf '%s\n' "$2" > "$FAULT_WORK/$name.args.json"
  ANSIBLE_SSH_ARGS='-o ControlMaster=no -o ControlPath=none' \
    ansible-playbook "$FAULT_TASK" -e "fault_host=$FAULT_HOST" -e "result_file=$FAULT_WORK/$name.json" \
    -e "@$FAULT_WORK/$name.args.json" < /dev/null > "$FAULT_WORK/$name.out" 2>&1 &
  echo $! > "$FAULT_WORK/$name.pid"
}

# finish NAME SECONDS: wait for a launched run to end; print its result (or that it left none)
finish() {
  local pid deadline=$((SECONDS + $2))
  pid=$(cat "$FAULT_WORK/$1.pid")
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$1 still runs after $2 s" >&2
      return 1
    fi
    sleep 0.2
  done
  wait "$pid" 2>/dev/null || true
  if [ -f "$FAULT_WORK/$1.json" ]; then cat "$FAULT_WORK/$1.json"; echo; else echo "$1: no result"; fi
}

# descendants PID: every process below PID (from /proc: procps is not always installed)
descendants() {
  local f stat pid ppid parents=("$1") found=1 i
  declare -A parent_of=()
  for f in /proc/[0-9]*/stat; do
    stat=$(cat "$f" 2>/dev/null) || continue
    pid=${f//[^0-9]/}
    stat=${stat##*) }
    read -r _ ppid _ <<<"$stat"
    parent_of[$pid]=$ppid
  done
  while [ "$found" -gt 0 ]; do   # breadth first, one generation per pass
    found=0
    for pid in "${!parent_of[@]}"; do
      for i in "${parents[@]}"; do
        if [ "${parent_of[$pid]}" = "$i" ]; then
          echo "$pid"; parents+=("$pid"); unset "parent_of[$pid]"; found=1; break
        fi
      done
    done
  done
}

# kill_ssh NAME: cut the SSH connection of a launched run (SIGKILL its ssh client processes)
kill_ssh() {
  local pid killed=0
  for pid in $(descendants "$(cat "$FAULT_WORK/$1.pid")"); do
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = ssh ]; then
      kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
    fi
  done
  echo "killed $killed ssh connection(s) of $1"
  [ "$killed" -gt 0 ]
}

# kill_module TAG PATH SECONDS: SIGKILL the module process whose environment carries
# REMOTEVIRT_FAULT_TAG=TAG (see task.yml) as soon as PATH exists on the host (same machine)
kill_module() {
  /usr/bin/python3 "$(dirname "$FAULT_TASK")/kill_module.py" "$@"
}

# on_host CMD...: run a command on the fault host over SSH, as Ansible would reach it
on_host() {
  ssh -i "$REMOTEVIRT_TESTBED/ssh/id_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ControlMaster=no -o ControlPath=none \
    "root@$FAULT_HOST_ADDR" "$@"
}

# shellcheck shell=bash
# Part of scripts/testbed (sourced; defines functions only): output, timing, processes and pid
# files, files and templates, and the record of what `up` started.

say() { printf 'testbed: %s\n' "$*"; }
die() { printf 'testbed: error: %s\n' "$*" >&2; exit 1; }

now_us() { echo "${EPOCHREALTIME/./}"; }
secs() { printf '%d.%ds' $(($1 / 1000)) $(($1 % 1000 / 100)); }   # MILLISECONDS

# step NAME CMD...: run CMD and remember how long it took
step() {
  local name=$1 t0; shift
  t0=$(now_us)
  "$@"
  TIMES+=("$name $(( ($(now_us) - t0) / 1000 ))")
}

# --- processes -----------------------------------------------------------------------------

# running PID: the process exists and is not a zombie. PID 1 of this kind of machine need
# not reap orphans, so a stopped daemon can linger as a zombie that `kill -0` still finds.
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# pid_of PIDFILE: print the pid if the file names a running process
pid_of() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && running "$pid" && echo "$pid"
}

# wait_for SECONDS CMD...: retry CMD until it succeeds
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# wait_gone PID SECONDS
wait_gone() {
  local deadline=$((SECONDS + $2))
  while running "$1"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# children_of PID: direct children (without ps: procps is not always installed)
children_of() {
  local f stat ppid
  for f in /proc/[0-9]*/stat; do
    stat=$(cat "$f" 2>/dev/null) || continue
    stat=${stat##*) }
    read -r _ ppid _ <<<"$stat"
    [ "$ppid" = "$1" ] && echo "${f//[^0-9]/}"
  done
  return 0
}

# --- files and templates -------------------------------------------------------------------

# write_file DST CMD...: the output of CMD becomes the content of DST, which is replaced only
# when that content differs, so that re-runs touch nothing; sets CHANGED=1 when it wrote.
# CMD runs in this shell (CHANGED reaches the caller), and a CMD that fails leaves DST alone.
# shellcheck disable=SC2034 # CHANGED is the caller's (see build_media)
write_file() {
  local dst=$1 tmp; shift
  tmp=$(mktemp "$dst.XXXXXX")
  if ! "$@" > "$tmp"; then
    rm -f "$tmp"
    die "could not write $dst"
  fi
  chmod 0644 "$tmp"
  if cmp -s "$tmp" "$dst"; then rm -f "$tmp"; else mv -f "$tmp" "$dst"; CHANGED=1; fi
}

# sync_file SRC DST: copy when different; sets CHANGED=1 when it copied
# shellcheck disable=SC2034 # CHANGED is the caller's (see build_media)
sync_file() {
  if ! cmp -s "$1" "$2"; then install -m 0644 "$1" "$2"; CHANGED=1; fi
}

# render TEMPLATE VAR...: print $TEMPLATES/TEMPLATE with every @VAR@ replaced by the value of the
# shell variable VAR. The template's placeholders and the names given must be the same set:
# a placeholder nobody provides, or a name the template does not use, is a mistake in this
# script. One pass from left to right: values are copied as they are (never evaluated, never
# scanned for placeholders again). Fails (returns 1, with a message) rather than dying, so
# that write_file can clean up.
render() {
  local template=$1 rest='' out='' placeholder name used=' '; shift
  for name; do
    if ! [[ $name =~ ^[A-Z][A-Z0-9_]*$ ]] || [ -z "${!name+set}" ]; then
      printf 'testbed: error: %s: no variable %s to fill in\n' "$template" "$name" >&2
      return 1
    fi
  done
  # read -d '': the whole file, trailing newlines included ($(<file) would drop them)
  IFS= read -r -d '' rest < "$TEMPLATES/$template" || [ -n "$rest" ] || {
    printf 'testbed: error: cannot read template %s\n' "$TEMPLATES/$template" >&2
    return 1
  }
  while [[ $rest =~ @([A-Z][A-Z0-9_]*)@ ]]; do
    placeholder=${BASH_REMATCH[0]} name=${BASH_REMATCH[1]}
    if [[ " $* " != *" $name "* ]]; then
      printf 'testbed: error: %s: %s is not filled in\n' "$template" "$placeholder" >&2
      return 1
    fi
    used+="$name "
    out+=${rest%%"$placeholder"*}${!name}
    rest=${rest#*"$placeholder"}
  done
  for name; do
    if [[ $used != *" $name "* ]]; then
      printf 'testbed: error: %s has no placeholder @%s@\n' "$template" "$name" >&2
      return 1
    fi
  done
  printf '%s' "$out$rest"
}

# --- record of what `up` started, so that `down` stops exactly that ------------------------

forget() {
  [ -f "$STARTED" ] || return 0
  grep -v "^$1 " "$STARTED" > "$STARTED.new" || true
  mv -f "$STARTED.new" "$STARTED"
}

record() { # NAME PID COMM
  forget "$1"
  echo "$1 $2 $3" >> "$STARTED"
}

# started_pid NAME: print the pid if we started NAME and that very process still runs
# (same command name: a reused pid is not ours)
started_pid() {
  local name pid comm
  [ -f "$STARTED" ] || return 1
  while read -r name pid comm; do
    [ "$name" = "$1" ] || continue
    running "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] && { echo "$pid"; return 0; }
  done < "$STARTED"
  return 1
}

recorded() { [ -f "$STARTED" ] && grep -q "^$1 " "$STARTED"; }

# ensure_daemon NAME PIDFILE CMD...: start a self-daemonizing CMD unless PIDFILE names a
# running process; record it as ours
ensure_daemon() {
  local name=$1 pidfile=$2 pid; shift 2
  if pid=$(pid_of "$pidfile"); then
    started_pid "$name" >/dev/null || say "$name already runs (pid $pid) and was not started by this script: using it"
    return 0
  fi
  # A stale pid file may name a zombie, which some daemons (rsyslogd) take for a live
  # instance and refuse to start.
  rm -f "$pidfile"
  # stdio away from the caller: a daemon holding our stdout would keep pipes open
  if ! "$@" < /dev/null >> "$TB/logs/$name.out" 2>&1 || ! wait_for 30 pid_of "$pidfile"; then
    cat "$TB/logs/$name.out" >&2
    die "$name did not start"
  fi
  pid=$(pid_of "$pidfile")
  record "$name" "$pid" "$(cat "/proc/$pid/comm")"
  STARTED_NOW+=("$name")
}

# ensure_netns NAME: a network namespace with lo up
ensure_netns() {
  if [ ! -e "/run/netns/$1" ]; then
    ip netns add "$1"
    record "netns:$1" - -
  fi
  ip -n "$1" link set lo up
}

delete_netns() { # NETNS...: those that ensure_netns made (recorded); counted in STOPPED
  local ns
  for ns in "$@"; do
    recorded "netns:$ns" || continue
    if [ -e "/run/netns/$ns" ]; then
      ip netns del "$ns"
      say "deleted network namespace $ns"
      STOPPED=$((STOPPED + 1))
    fi
    forget "netns:$ns"
  done
}

in_netns() { # NETNS CMD...
  ensure_netns "$1"
  ip netns exec "$@"
}

#!/usr/bin/env bash
# As the local user: once a file named NAME appears in WATCHED (a directory it can read: the pool
# directory anyone can write), that is, once the admin's run made its new disk (its plan is made),
# make DIR, mode 0777, where the run is about to make it itself. inotify wakes the user at once.
#   mkdir_when.sh WATCHED NAME DIR
set -euo pipefail
echo $$ > /var/tmp/rt15-lu-pids/mkdir_when.$$
exec /usr/bin/python3 - "$@" <<'PY'
import ctypes, os, sys
watched, name, directory = sys.argv[1], sys.argv[2], sys.argv[3]
IN_CREATE = 0x100
libc = ctypes.CDLL(None, use_errno=True)
events = libc.inotify_init()
libc.inotify_add_watch(events, watched.encode(), IN_CREATE)
print("ready", flush=True)
while not os.path.lexists(os.path.join(watched, name)):
    os.read(events, 4096)
os.mkdir(directory, 0o777)
os.chmod(directory, 0o777)
print("made %s" % directory)
PY

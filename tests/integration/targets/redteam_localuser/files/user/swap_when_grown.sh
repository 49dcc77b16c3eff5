#!/usr/bin/env bash
# As the local user: FILE is the user's own file (made here, 1 MiB, 0600), adopted by libvirt as a
# volume of a pool directory anyone can write. Once it has grown to SIZE bytes (the admin's run
# resized it: its plan is made, and checked that FILE is no link), rename a symbolic link to TARGET
# over it. inotify wakes the user at the resize.
#   swap_when_grown.sh FILE SIZE TARGET
set -euo pipefail
echo $$ > /var/tmp/rt15-lu-pids/swap_when_grown.$$
exec /usr/bin/python3 - "$@" <<'PY'
import ctypes, os, sys
path, size, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
IN_MODIFY = 0x2
link = os.path.join(os.path.dirname(path), ".rt15-lu-link")
for stale in (path, link):
    if os.path.lexists(stale):
        os.unlink(stale)
with open(path, "wb") as own:
    own.truncate(1048576)
os.chmod(path, 0o600)
os.symlink(target, link)
libc = ctypes.CDLL(None, use_errno=True)
events = libc.inotify_init()
libc.inotify_add_watch(events, path.encode(), IN_MODIFY)
print("ready", flush=True)
while os.lstat(path).st_size < size:
    os.read(events, 4096)
os.rename(link, path)
print("swapped %s for a link to %s" % (path, target))
PY

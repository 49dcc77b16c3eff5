"""kill_module.py TAG PATH SECONDS: SIGKILL the module process whose environment carries
REMOTEVIRT_FAULT_TAG=TAG (see task.yml) as soon as PATH exists (the host is this machine).
The process is found first, so the file is then watched closely enough to catch a window of
milliseconds. Prints what it did; exits 1 when nothing was found in time."""

import os
import signal
import sys
import time


def module_processes(wanted: bytes) -> list:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % entry, "rb") as environ:
                if wanted not in environ.read().split(b"\0"):
                    continue
            with open("/proc/%s/comm" % entry, "rb") as comm:
                if comm.read().startswith(b"python"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def main() -> int:
    tag, path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    deadline = time.monotonic() + seconds
    wanted = b"REMOTEVIRT_FAULT_TAG=" + tag.encode()
    pids = []
    while not pids:
        if time.monotonic() > deadline:
            print("no module process with %s" % wanted.decode())
            return 1
        pids = module_processes(wanted)
        time.sleep(0.005)
    while not os.path.lexists(path):
        if time.monotonic() > deadline or not any(os.path.exists("/proc/%d" % pid) for pid in pids):
            print("the module ended before %s appeared" % path)
            return 0
        time.sleep(0.0002)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            print("killed module %d" % pid)
        except OSError as error:
            print("module %d: %s" % (pid, error))
    return 0


if __name__ == "__main__":
    sys.exit(main())

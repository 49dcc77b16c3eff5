#!/usr/bin/env bash
# As the local user: open PATH (a file root is about to write under a name it can guess) as soon as it
# exists, and keep what it reads in OUT.
#   read_when_there.sh PATH OUT
set -euo pipefail
echo $$ > /var/tmp/rt15-lu-pids/read_when_there.$$
exec /usr/bin/python3 - "$@" <<'PY'
import sys
path, out = sys.argv[1], sys.argv[2]
while True:
    try:
        with open(path, "rb") as source:
            data = source.read()
        break
    except FileNotFoundError:
        continue
    except PermissionError:
        print("refused reading %s" % path)
        sys.exit(0)
with open(out, "wb") as kept:
    kept.write(data)
print("read %d bytes of %s" % (len(data), path))
PY

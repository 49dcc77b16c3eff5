#!/usr/bin/env bash
# As the local user: make FILE (1 MiB of the user's own bytes) where an admin will download an image
# whose published checksum is sha256:DIGEST, and put on it the record of a verified download that
# the modules keep in a user extended attribute (which the file's owner may set): the sha256 algorithm,
# the file's size and mtime, the downloaded length and DIGEST.
#   forge_digest.sh FILE DIGEST
set -euo pipefail
exec /usr/bin/python3 - "$@" <<'PY'
import os, sys
path, digest = sys.argv[1], sys.argv[2]
with open(path, "wb") as image:
    image.write((b"rt15-lu user image " * 55189)[:1048576])
info = os.stat(path)
record = "sha256:%d:%d:%d:%s" % (info.st_size, info.st_mtime_ns, info.st_size, digest)
os.setxattr(path, "user.remotevirt.digest", record.encode("ascii"))
print("forged %s" % path)
PY

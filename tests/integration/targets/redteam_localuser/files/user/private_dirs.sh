#!/usr/bin/env bash
# As the local user: try to plant a compiled-code entry and a lock in root's lock directory.
# Prints one line per attempt: "planted PATH" or "refused PATH".
set -euo pipefail
for path in /run/remotevirt/rt15-lu.lock /run/remotevirt/code/rt15-lu-entry /run/remotevirt/code; do
  if touch "$path" 2>/dev/null; then echo "planted $path"; else echo "refused $path"; fi
done
if ls /run/remotevirt >/dev/null 2>&1; then echo "listed /run/remotevirt"; else echo "refused listing"; fi

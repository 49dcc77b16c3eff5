#!/usr/bin/env bash
# As the local user: point its own qcow2 image at a backing file of its choice (it need not read it).
#   rebase.sh IMAGE BACKING
set -euo pipefail
qemu-img rebase -q -u -F raw -b "$2" "$1"
echo rebased

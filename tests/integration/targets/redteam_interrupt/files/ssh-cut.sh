#!/bin/sh
# ssh for ansible-playbook that fails as a dropped link does while /var/tmp/rt11-ssh-down exists.
if [ -e /var/tmp/rt11-ssh-down ]; then
  echo "ssh: connect to host: Connection timed out (link cut by the test)" >&2
  exit 255
fi
exec ssh "$@"

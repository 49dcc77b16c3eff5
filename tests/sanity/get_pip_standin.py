"""Stand-in for pip's get-pip.py, which ansible-test downloads from a host this machine cannot
reach: bootstraps pip from the interpreter's bundled wheel (ensurepip), then lets that pip
install what ansible-test asked for (the pinned pip version) from the package index."""

import ensurepip
import os
import subprocess
import sys

# ensurepip points PIP_CONFIG_FILE at /dev/null and drops PIP_* variables for its own run; the
# real install below must see the machine's pip configuration (index, certificates) again.
environment = dict(os.environ)
ensurepip.bootstrap(upgrade=False)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--quiet"] + args, env=environment))

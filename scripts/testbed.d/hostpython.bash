# shellcheck shell=bash
# Part of scripts/testbed (sourced; defines functions and settings only): the oldest Python the
# collection supports on hypervisors, with libvirt-python and lxml built for it, for the tests
# that run the modules with it as the host's ansible_python_interpreter.
#
# Debian 12 ships Python 3.11 only, and no suite its mirror still serves has 3.8 (bullseye has
# 3.9), so the interpreter is not installed here: it is the first CPython HOST_PYTHON_VERSION
# found on this machine, `pythonX.Y` on PATH or a pyenv build (~/.pyenv/versions/X.Y.*). Its
# virtualenv (the modules need nothing else of it) is cached outside the repository under a key of what it is made from (this file,
# the interpreter's path and build, libvirt's version, the architecture), so later runs only
# find it.
#
#   $HOST_PYTHON_CACHE/<key>/venv/bin/python   the interpreter for ansible_python_interpreter

HOST_PYTHON_VERSION=3.8
HOST_PYTHON_VERSION_TUPLE=${HOST_PYTHON_VERSION/./, }
HOST_PYTHON_CACHE=${REMOTEVIRT_HOST_PYTHON_CACHE:-/var/cache/remotevirt-testbed/host-python}
# libvirt-python is built against the host's libvirt, so its version is that libvirt's
# (pkg-config, from libvirt-dev); lxml is the controller's (requirements/controller.txt)
HOST_PYTHON_LXML=lxml==6.1.3

# old_python: the path of a working CPython HOST_PYTHON_VERSION, or nothing (exit 1)
old_python() {
  local candidate
  for candidate in "$(command -v "python$HOST_PYTHON_VERSION" || true)" \
                   $(ls -d ~/.pyenv/versions/"$HOST_PYTHON_VERSION".*/bin/python"$HOST_PYTHON_VERSION" 2>/dev/null | sort -V -r); do
    [ -n "$candidate" ] || continue
    # pyenv's shims are on PATH too, and fail for a version that is not selected
    if "$candidate" -c "import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != ($HOST_PYTHON_VERSION_TUPLE))" 2>/dev/null; then
      realpath "$candidate"; return 0
    fi
  done
  return 1
}

# host_python_key PYTHON LIBVIRT: what the environment is made from, hashed
host_python_key() {
  local sum
  sum=$({
    echo "$1 $2 $(dpkg --print-architecture)"
    "$1" -VV
    cat "$PARTS/hostpython.bash"
  } | sha256sum)
  echo "${sum:0:16}"
}

# build_host_python: prints the cached environment's interpreter, built if missing (under a lock;
# complete once its .complete file exists, so a build that stopped half-way is made again).
# Entries of other inputs unused for 30 days are removed.
build_host_python() {
  local python libvirt key dir lock log=$TB/logs/host-python.log
  python=$(old_python) || die "no Python $HOST_PYTHON_VERSION on this machine (python$HOST_PYTHON_VERSION" \
    "on PATH or ~/.pyenv/versions/$HOST_PYTHON_VERSION.*); no suite of Debian's mirror has it"
  libvirt=$(pkg-config --modversion libvirt) || die "pkg-config finds no libvirt (libvirt-dev)"
  key=$(host_python_key "$python" "$libvirt")
  dir=$HOST_PYTHON_CACHE/$key
  if [ ! -f "$dir/.complete" ]; then
    mkdir -p "$HOST_PYTHON_CACHE" "$TB/logs"
    exec {lock}> "$HOST_PYTHON_CACHE/.lock"
    flock "$lock"
    if [ ! -f "$dir/.complete" ]; then
      say "building libvirt-python $libvirt and $HOST_PYTHON_LXML for $python (once; log: $log)" >&2
      rm -rf "$dir"
      # built where it stays: a virtualenv's scripts name its directory
      if ! { "$python" -m venv "$dir/venv" &&
             "$dir/venv/bin/pip" install --disable-pip-version-check --no-cache-dir \
               "libvirt-python==$libvirt" "$HOST_PYTHON_LXML" &&
             "$dir/venv/bin/python" -c 'import libvirt, lxml.etree'; } > "$log" 2>&1; then
        cat "$log" >&2
        die "building the host Python environment failed (log: $log)"
      fi
      touch "$dir/.complete"
    fi
    exec {lock}>&-
  fi
  touch "$dir"
  find "$HOST_PYTHON_CACHE" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \
    -regex '.*/[0-9a-f]{16}' ! -name "$key" -mtime +30 -exec rm -rf {} + 2>/dev/null || true
  echo "$dir/venv/bin/python"
}

cmd_host_python() {
  [ $# -eq 0 ] || usage
  build_host_python
}

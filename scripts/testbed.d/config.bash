# shellcheck shell=bash
# Part of scripts/testbed (sourced; defines functions and settings only): what callers of the
# test bed use: the collections tree, the inventory, ansible.cfg, the `env` command.

link_collection() {
  local link=$TB/collections/ansible_collections/remotevirt/install
  mkdir -p "${link%/*}"
  [ ! -e "$link" ] || [ -L "$link" ] || die "$link exists and is not a symlink"
  [ "$(readlink "$link" || true)" = "$ROOT" ] || ln -sfn "$ROOT" "$link"
}

# inventory_ini [NS...]: the inventory of hv-local and of the namespaced hosts NS among HOSTS
# (rvhostN is 10.254.N.2)
inventory_ini() {
  local HOST_LINES="hv-local ansible_host=127.0.0.1 ansible_port=2222" i
  for i in "${!HOSTS[@]}"; do
    if [[ " $* " == *" ${HOSTS[$i]} "* ]]; then
      HOST_LINES+=$'\n'"${HOSTS[$i]} ansible_host=10.254.$((i + 1)).2"
    fi
  done
  render inventory.ini.in HOST_LINES TB
}

ansible_cfg() { render ansible.cfg.in TB; }

# the inventory lists the namespaced hosts only while they run
write_config() {
  local listed=()
  if hosts_up; then listed=("${HOSTS[@]}"); fi
  write_file "$TB/inventory.ini" inventory_ini "${listed[@]}"
  write_file "$TB/ansible.cfg" ansible_cfg
}

cmd_env() {
  local path=":$PATH:"
  [ $# -eq 0 ] || usage
  path=${path//":$TB/venv/bin:"/:}
  path=${path#:}; path=${path%:}
  printf 'export PATH=%q\n' "$TB/venv/bin${path:+:$path}"
  printf 'export ANSIBLE_CONFIG=%q\n' "$TB/ansible.cfg"
  # REMOTEVIRT_COLLECTIONS points the tests at another checkout's collections tree.
  printf 'export ANSIBLE_COLLECTIONS_PATH=%q\n' "${REMOTEVIRT_COLLECTIONS:-$TB/collections}"
  printf 'export REMOTEVIRT_TESTBED=%q\n' "$TB"
}

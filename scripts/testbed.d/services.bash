# shellcheck shell=bash
# Part of scripts/testbed (sourced; defines functions and settings only): the services tests
# need besides libvirt: NFS for install trees, syslog.

# NFS-Ganesha (user space, NFSv4 only, no rpcbind) exports $TB/media/nfs read-only as /trees on
# 127.0.0.1:$NFS_PORT; hosts read it with libnfs: nfs://127.0.0.1/trees/...?version=4&nfsport=...
NFS_PORT=20490
ganesha_conf() { render ganesha.conf.in NFS_PORT TB; }

start_nfs() {
  write_file "$TB/ganesha.conf" ganesha_conf
  ensure_daemon ganesha "$TB/run/ganesha.pid" \
    /usr/bin/ganesha.nfsd -f "$TB/ganesha.conf" -L "$TB/logs/ganesha.log" -p "$TB/run/ganesha.pid" -N NIV_WARN
  wait_for 15 nfs-ls "nfs://127.0.0.1/trees/?version=4&nfsport=$NFS_PORT" || die "NFS-Ganesha does not answer"
}

# Modules log through syslog; a machine without an init has no /dev/log, and messages sent
# there are lost. Run a private rsyslogd that writes everything into one file.
# imklog (kernel messages) is deliberately not loaded: there is no access to it here.
# No rate limit: tests must see every message.
rsyslog_conf() { render rsyslog.conf.in TB; }

start_syslog() {
  if started_pid rsyslogd >/dev/null; then return 0; fi
  if [ -e /dev/log ]; then
    if recorded rsyslogd && [ -S /dev/log ]; then
      rm -f /dev/log   # stale socket of our rsyslogd that died without cleaning up
    else
      say "/dev/log exists and is not ours: leaving the machine's syslog alone"
      return 0
    fi
  fi
  write_file "$TB/rsyslog.conf" rsyslog_conf
  ensure_daemon rsyslogd "$TB/run/rsyslogd.pid" \
    /usr/sbin/rsyslogd -f "$TB/rsyslog.conf" -i "$TB/run/rsyslogd.pid"
  wait_for 10 test -S /dev/log || die "rsyslogd did not create /dev/log"
}

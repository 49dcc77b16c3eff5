"""A hostile device on the discovery LAN: answers for _libvirt._tcp services that try to reach the
controller through the mdns inventory plugin (connection variables in TXT records, templates, names
of the controller or of a real hypervisor, addresses of the controller, URI options), plus COUNT
filler services. Runs until killed (by its pid, written to PIDFILE once every service is announced).

    hostile_responder.py ADDRESS PREFIX COUNT PIDFILE
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

TYPE = "_libvirt._tcp.local."
GOOD = {"txtvers": "1", "transports": "ssh", "ssh_port": "22", "driver": "qemu", "path": "/system"}


def services(address: str, prefix: str, count: int, marker: str) -> list[tuple[str, str, dict, list[str]]]:
    """(instance name, server, TXT, addresses) of every service the device announces."""
    own = ["10.253.0.66"]  # any address: mDNS lets a device claim what it likes
    found = [
        # connection variables and templates in TXT records: data under mdns_, never ansible_*
        (
            prefix + "vars",
            prefix + "vars",
            dict(
                GOOD,
                ssh_common_args="-oProxyCommand=touch " + marker,
                host="10.253.0.1",
                python_interpreter="/bin/false",
                site="{{ lookup('pipe', 'touch %s') }}" % marker,
            ),
            own,
        ),
        # the name of a real hypervisor (published by avahi-daemon on rvhost1 first), answered without probing
        (prefix + "real", prefix + "evil", GOOD, own),
        # the controller itself, by name and by address
        ("localhost", prefix + "lh", GOOD, own),
        (prefix + "self", prefix + "self", GOOD, ["127.0.0.1"]),
        (prefix + "zero", prefix + "zero", GOOD, ["0.0.0.0"]),
        # a name with a bidi override (zeroconf itself refuses control characters in names, on both ends)
        (prefix + "bidi\u202e1", prefix + "bidi", GOOD, own),
        # characters of host patterns and paths
        (prefix + "a,localhost", prefix + "comma", GOOD, own),
        (prefix + "a/..", prefix + "slash", GOOD, own),
        # URI options chosen by the device
        (prefix + "cmd", prefix + "cmd", dict(GOOD, path="/system?command=/bin/sh"), own),
        (prefix + "ext", prefix + "ext", dict(GOOD, transports="ext"), own),
        (prefix + "sock", prefix + "sock", dict(GOOD, path="/system%3Fsocket=/tmp/x"), own),
        # names ending in a dot: zeroconf refuses to resolve what the browse hears of them, which
        # ended the whole browse (every real hypervisor lost with it)
        (prefix + "dot.", prefix + "dot", GOOD, own),
        (prefix + "dot2.", prefix + "dot2", GOOD, own),
        # huge and odd TXT values, non-UTF-8 bytes, a key given twice in two cases
        (prefix + "odd", prefix + "odd", dict(GOOD, big="x" * 240, nul="a\x00b", **{"Site": "A", "site": "b"}), own),
    ]
    found += [(prefix + "fill-%d" % i, prefix + "fill-%d" % i, GOOD, own) for i in range(count)]
    return found


def info(name: str, server: str, txt: dict, addresses: list[str]) -> ServiceInfo:
    return ServiceInfo(
        TYPE,
        "%s.%s" % (name, TYPE),
        port=22,
        properties={k.encode(): v.encode() for k, v in txt.items()} | ({b"raw": b"\xff\xfe"} if "big" in txt else {}),
        server=server + ".local.",
        addresses=[socket.inet_aton(a) for a in addresses],
    )


async def serve(address: str, prefix: str, count: int, pidfile: str) -> None:
    marker = os.path.join(os.path.dirname(pidfile), "templated")
    aiozc = AsyncZeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
    # cooperating_responders: no probing (a hostile device does not ask whether a name is taken);
    # all at once, so that hundreds are announced within seconds
    registered = [
        await aiozc.async_register_service(info(*entry), cooperating_responders=True)
        for entry in services(address, prefix, count, marker)
    ]
    await asyncio.gather(*registered)
    with open(pidfile, "w") as f:
        f.write(str(os.getpid()))
    done = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
    await done.wait()
    await aiozc.async_close()


def main() -> None:
    address, prefix, count, pidfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    asyncio.run(serve(address, prefix, count, pidfile))


if __name__ == "__main__":
    main()

"""What Linux's /proc tells about processes and loopback sockets, for tests that find which process holds what."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple


class TcpSocket(NamedTuple):
    local_port: int
    remote_port: int
    state: str
    """As /proc/net/tcp writes it: 0A listening, 01 established."""
    inode: str


def socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets process ``pid`` holds open (none when it is gone)."""
    inodes = set()
    try:
        for fd in (Path("/proc") / str(pid) / "fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def tcp_sockets() -> Iterator[TcpSocket]:
    """Every TCP socket of this network namespace, IPv4 and IPv6."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            yield TcpSocket(int(parts[1].rsplit(":", 1)[1], 16), int(parts[2].rsplit(":", 1)[1], 16), parts[3],
                            parts[9])

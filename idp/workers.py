"""`canary serve --workers N`: N uvicorn processes, each listening on its own socket of the same port.

uvicorn's own supervisor binds one socket and every worker accepts from it: whichever worker wakes first takes
every connection waiting, so a client that opens its keep-alive connections at once (a reverse proxy's pool,
a load generator) can find them all on one worker while the others idle (in a two-worker PostgreSQL benchmark,
1.03 of 2 cores busy, run after run). Here each worker gets a socket of its own with
``SO_REUSEPORT``, and Linux spreads new connections across them by their addresses' hash.

The supervisor starts the workers (spawned, as uvicorn does), replaces one that dies, and on SIGINT or SIGTERM
stops them all (each finishes the requests it has, as uvicorn does on SIGTERM). Connections that reach a dead
worker's socket wait in its queue for the replacement: the supervisor keeps the socket open. A worker that
exits with an error status within ``STARTUP_SECONDS`` of its start is taken for a broken configuration (an
unreachable database, a port in use): everything stops with exit status 1 rather than restarting it forever.
One killed by a signal is replaced, after a pause if it had only just started (doubling, up to a minute,
while it keeps dying at start). SIGHUP replaces the workers one
by one, each new one serving before the old one stops: an upgrade of the installed code takes effect without a
refused connection (the environment, and so the settings, stay the supervisor's). Elsewhere than Linux, where
``SO_REUSEPORT`` does not spread connections, ``canary serve`` keeps uvicorn's supervisor.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from typing import Any

log = logging.getLogger("canary.workers")

STARTUP_SECONDS = 5.0
READY_SECONDS = 120.0
STOP_SECONDS = 30.0
MAX_PAUSE_SECONDS = 60.0


def restart_pause(lived: float, quick_deaths: int) -> float:
    """Seconds to wait before replacing a worker killed by a signal after ``lived`` seconds, the
    ``quick_deaths``-th in a row to die within STARTUP_SECONDS of its start (0 when it lived longer).

    A worker that ran for a while is replaced at once. One that had only just started is replaced no sooner
    than STARTUP_SECONDS after its start, and each further quick death in a row doubles that, up to
    MAX_PAUSE_SECONDS: a worker killed at every start (the machine out of memory, say) is retried ever
    more slowly instead of every few seconds forever.
    """
    if quick_deaths <= 0:
        return 0.0
    doubled: float = STARTUP_SECONDS * 2.0 ** (quick_deaths - 1)
    return max(0.0, min(MAX_PAUSE_SECONDS, doubled) - lived)


def balanced() -> bool:
    """Whether the kernel spreads connections across sockets sharing a port."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def claim(host: str, port: int) -> None:
    """OSError unless the address is free. Sockets with SO_REUSEPORT share a port with any other such socket
    of the same user: without this check a second `canary serve --workers N` on the port would silently take
    half of the first one's connections, where one worker (or uvicorn) would fail with "address in use"."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(options: dict[str, Any], sock: socket.socket, ready: Any) -> None:  # runs in the child process
    import uvicorn

    from idp.bootstrap import ASGI_FACTORY

    server = uvicorn.Server(uvicorn.Config(ASGI_FACTORY, factory=True, **options))

    def announce() -> None:  # tells the supervisor once the app has started and the socket is served
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            ready.set()

    threading.Thread(target=announce, name="canary-worker-ready", daemon=True).start()
    server.run(sockets=[sock])


class Supervisor:
    def __init__(self, workers: int, options: dict[str, Any]) -> None:
        """Binds the workers' sockets (OSError when the address cannot be had, every socket closed)."""
        self.options = options
        self.sockets: list[socket.socket] = []
        claim(options["host"], options["port"])
        try:
            for _ in range(workers):
                self.sockets.append(listening_socket(options["host"], options["port"]))
        except OSError:
            for sock in self.sockets:
                sock.close()
            raise
        self._context = multiprocessing.get_context("spawn")
        self.processes: list[Any] = []
        self._ready: list[Any] = []  # each worker's event, held here: a semaphore nobody holds is removed
        self._started: list[float] = []
        self._stop = threading.Event()
        self._reload = threading.Event()

    def _start(self, index: int) -> tuple[Any, Any]:
        """A new worker on socket ``index``, and the event it sets once it serves."""
        ready = self._context.Event()
        process = self._context.Process(target=_worker, args=(self.options, self.sockets[index], ready),
                                        name=f"canary-worker-{index}")
        process.start()
        log.info("worker %d started [%s]", index, process.pid)
        return process, ready

    def reload(self) -> None:
        """SIGHUP: replace the workers one at a time, each new one serving before the old one stops (a new
        worker that does not start leaves the old one in place)."""
        for index, old in enumerate(self.processes):
            new, ready = self._start(index)
            deadline = time.monotonic() + READY_SECONDS
            while not ready.wait(0.2):
                if not new.is_alive() or time.monotonic() > deadline or self._stop.is_set():
                    log.error("worker %d's replacement did not start: keeping [%s]", index, old.pid)
                    new.kill()
                    new.join()
                    return
            old.terminate()
            old.join(STOP_SECONDS)
            if old.is_alive():
                old.kill()
                old.join()
            self.processes[index], self._ready[index] = new, ready
            self._started[index] = time.monotonic()

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        signal.signal(signal.SIGHUP, lambda *_: self._reload.set())
        started = [self._start(index) for index in range(len(self.sockets))]
        self.processes = [process for process, _ in started]
        self._ready = [ready for _, ready in started]
        self._started = [time.monotonic()] * len(self.processes)
        quick_deaths = [0] * len(self.processes)
        status = 0
        while not self._stop.wait(0.5):
            if self._reload.is_set():
                self._reload.clear()
                log.info("reloading the workers")
                self.reload()
            for index, process in enumerate(self.processes):
                if process.is_alive():
                    continue
                lived = time.monotonic() - self._started[index]
                if lived < STARTUP_SECONDS and (process.exitcode or 0) > 0:
                    log.error("worker %d exited at start (status %s): stopping", index, process.exitcode)
                    status = 1
                    self._stop.set()
                    break
                quick_deaths[index] = quick_deaths[index] + 1 if lived < STARTUP_SECONDS else 0
                pause = restart_pause(lived, quick_deaths[index])
                log.warning("worker %d [%s] exited (status %s): starting another%s", index, process.pid,
                            process.exitcode, f" in {pause:.0f} s" if pause >= 1 else "")
                if pause and self._stop.wait(pause):
                    break  # asked to stop during the pause
                self.processes[index], self._ready[index] = self._start(index)
                self._started[index] = time.monotonic()
        self.stop()
        return status

    def stop(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sock in self.sockets:
            sock.close()

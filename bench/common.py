"""Shared parts of the benchmarks: a Canary server in a subprocess, wrk runs, a bounded asyncio HTTP load.

Nothing here talks to anything but 127.0.0.1, and every load run stops by itself after its duration.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

VENV_BIN = Path(sys.executable).parent
CANARY = str(VENV_BIN / "canary") if (VENV_BIN / "canary").exists() else shutil.which("canary") or "canary"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIRECT_URI = "http://localhost:8080/callback"
PASSWORD = "bench password 12345"

# `canary serve` needs the analytics package; this runs the same app without event recording instead
# (analytics=None), for profiling the token path alone or when the analytics package is not importable.
_SERVE_WITHOUT_EVENTS = """
import sys, uvicorn
from idp.app import create_app
from idp.cli.serve import prepare
from idp.http_protocol import CanaryHttpProtocol
from idp.settings import Settings
settings = Settings.from_env()
prepare(settings)
uvicorn.run(create_app(settings, None), host=settings.host, port=settings.port, log_level=settings.log_level,
            http=CanaryHttpProtocol, proxy_headers=False)
"""


_SERVE_WITH_MODELS = """
import sys
import idp.accounts.models
from idp.cli import main
sys.exit(main(sys.argv[1:]))
"""


# --- the machine ---------------------------------------------------------------------------------------
def machine(calibrate: bool = False) -> dict[str, Any]:
    """What ran the bench. ``calibrate``: also the CPU cost of one RS256 and one ES256 signature here, which
    differ threefold between machines of one kind and weigh on every token figure (a refresh signs twice)."""
    fields: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() in {"model name", "cpu family", "model"}:
                fields.setdefault(name.strip(), value.strip())
            if line.strip() == "":
                break
    found: dict[str, Any] = {
        "nproc": os.cpu_count(), "cpu": fields.get("model name") or platform.processor(),
        "cpu_family_model": f"{fields.get('cpu family', '?')}/{fields.get('model', '?')}",
        "python": platform.python_version(), "kernel": platform.release()}
    if calibrate:
        found["signature_cpu_ms"] = signature_cost()
    return found


def signature_cost(calls: int = 400) -> dict[str, float]:
    """CPU per signature of a 300-byte message, RSA-2048 PKCS#1 v1.5 (RS256) and P-256 (ES256), best of five
    batches."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    message = b"x" * 300
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    signers: dict[str, Callable[[], bytes]] = {
        "RS256": lambda: rsa_key.sign(message, padding.PKCS1v15(), hashes.SHA256()),
        "ES256": lambda: ec_key.sign(message, ec.ECDSA(hashes.SHA256())),
    }
    costs = {}
    for name, sign in signers.items():
        batches = []
        for _ in range(5):
            started = time.process_time()
            for _ in range(calls // 5):
                sign()
            batches.append((time.process_time() - started) / (calls // 5))
        costs[name] = round(min(batches) * 1000, 3)
    return costs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before answering {url}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop_process(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """SIGTERM to the process group this benchmark created for the server (uvicorn workers included)."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # the group id is the server's own pid (start_new_session=True)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def exit_on_signals() -> None:
    """SIGTERM (and SIGINT, which a shell's background job ignores otherwise) unwind the benchmark normally,
    so that servers are stopped and throwaway databases dropped."""

    def leave(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGINT, leave)


# --- PostgreSQL: a throwaway database --------------------------------------------------------------------
@contextlib.contextmanager
def postgres_database(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """Create a fresh database, yield its SQLAlchemy URL, drop it afterwards."""
    import psycopg

    name = f"canary_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = urlsplit(admin_url)
    try:
        yield f"postgresql+psycopg://{base.netloc}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Canary in a subprocess ------------------------------------------------------------------------------
@dataclass
class Canary:
    url: str
    env: dict[str, str]
    data_dir: Path
    proc: subprocess.Popen[Any] | None = None
    log_path: Path | None = None

    def cli(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run([CANARY, *args], env=self.env, input=stdin, capture_output=True, text=True,
                             timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"canary {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def create_client(self, name: str, *options: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.cli("clients", "create", name, *options, "--json"))
        return result

    def server_pids(self) -> list[int]:
        """The server process and its uvicorn workers (for CPU accounting and py-spy)."""
        return process_tree(self.proc.pid) if self.proc is not None else []


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry.name))
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo.extend(parents.get(p, []))
    return pids


@contextlib.contextmanager
def canary_server(*, workers: int = 1, database_url: str = "", analytics_url: str = "", signing_alg: str = "RS256",
                  events: bool = True, extra_env: dict[str, str] | None = None,
                  wrap: list[str] | None = None, keep: bool = False) -> Iterator[Canary]:
    """`canary serve` on a free loopback port with a fresh data dir; stopped (and the dir removed) on exit.

    ``events=False`` runs the same app with ``analytics=None`` (no event recording) through uvicorn directly.
    ``wrap`` prefixes the server command (e.g. a profiler).
    """
    data_dir = Path(tempfile.mkdtemp(prefix="canary-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANARY_")}
    env.update({
        "CANARY_DATA_DIR": str(data_dir),
        "CANARY_ISSUER": f"http://127.0.0.1:{port}",
        "CANARY_HOST": "127.0.0.1",
        "CANARY_PORT": str(port),
        "CANARY_WORKERS": str(workers),
        "CANARY_SIGNING_ALG": signing_alg,
        "CANARY_LOG_LEVEL": "warning",
        # A sign-in benchmark signs the same users in many times; lockout never triggers on success anyway.
        "CANARY_ALERT_INTERVAL": "3600",
    })
    if database_url:
        env["CANARY_DATABASE_URL"] = database_url
    if analytics_url:
        env["CANARY_ANALYTICS_URL"] = analytics_url
    env.update(extra_env or {})
    server = Canary(url=f"http://127.0.0.1:{port}", env=env, data_dir=data_dir, log_path=data_dir / "server.log")
    if database_url:
        server.cli("migrate", "--sql-only")
    if events and database_url:
        # `canary serve` itself, with every model imported first: prepare() on a non-embedded database flushes
        # a Client before anything has imported idp.accounts.models, and the mapper cannot resolve
        # clients.organization_id → organizations (NoReferencedTableError) otherwise.
        command = [sys.executable, "-c", _SERVE_WITH_MODELS, "serve"]
    elif events:
        command = [CANARY, "serve"]
    else:
        if workers > 1:
            raise ValueError("events=False runs a single process")
        command = [sys.executable, "-c", _SERVE_WITHOUT_EVENTS]
    command = [*(wrap or []), *command]
    assert server.log_path is not None
    log = server.log_path.open("w")
    try:
        server.proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        try:
            wait_http(f"{server.url}/healthz", timeout=90, proc=server.proc)
        except RuntimeError:
            log.flush()
            sys.stderr.write(server.log_path.read_text()[-4000:])
            raise
        yield server
    finally:
        if server.proc is not None:
            stop_process(server.proc)
        log.close()
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)


# --- OAuth flows -----------------------------------------------------------------------------------------
def basic(client_id: str, secret: str) -> str:
    from urllib.parse import quote

    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


_HIDDEN = re.compile(r'name="([a-z_]+)" value="([^"]*)"')


def hidden_fields(page: str) -> dict[str, str]:
    import html

    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


async def password_sign_in(http: httpx.AsyncClient, client_id: str, secret: str, email: str, password: str,
                           scope: str = "openid profile email offline_access") -> tuple[dict[str, Any], list[float]]:
    """One full browser sign-in, starting signed out: GET /authorize → POST /login → POST /token.

    Returns the token response and the three step latencies (seconds). Cookies are carried by hand so that
    nothing carries over from one sign-in to the next.
    """
    http.cookies.clear()  # nothing from an earlier sign-in: every sign-in checks a password
    verifier, challenge = pkce_pair()
    params = {"client_id": client_id, "redirect_uri": REDIRECT_URI, "response_type": "code", "scope": scope,
              "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8), "code_challenge": challenge,
              "code_challenge_method": "S256"}
    steps = []
    t0 = time.perf_counter()
    page = await http.get("/authorize?" + urlencode(params))
    steps.append(time.perf_counter() - t0)
    if page.status_code != 200 or 'name="password"' not in page.text:
        raise RuntimeError(f"/authorize answered {page.status_code}: {page.headers.get('location')} "
                           f"{page.text[:200]}")
    csrf = page.cookies.get("canary_csrf")
    fields = hidden_fields(page.text)
    t0 = time.perf_counter()
    done = await http.post("/login", data={
        "csrf_token": fields["csrf_token"], "authorization_request": fields["authorization_request"],
        "email": email, "password": password,
    }, headers={"cookie": f"canary_csrf={csrf}"})
    http.cookies.clear()
    steps.append(time.perf_counter() - t0)
    if done.status_code != 303:
        raise RuntimeError(f"/login answered {done.status_code}: {done.text[:200]}")
    query = parse_qs(urlsplit(done.headers["location"]).query)
    if "code" not in query:
        raise RuntimeError(f"/login redirected without a code: {done.headers['location']}")
    t0 = time.perf_counter()
    token = await http.post("/token", data={
        "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }, headers={"authorization": basic(client_id, secret)})
    steps.append(time.perf_counter() - t0)
    if token.status_code != 200:
        raise RuntimeError(f"code exchange answered {token.status_code}: {token.text[:200]}")
    body: dict[str, Any] = token.json()
    return body, steps


def create_users(server: Canary, count: int, prefix: str = "bench") -> list[str]:
    """``count`` verified users with PASSWORD, written straight to the accounts database (fast set-up)."""
    from idp.accounts.service import create_user
    from idp.db import make_engine, make_session_factory, transaction
    from idp.settings import Settings

    settings = Settings.from_env(server.env)
    engine = make_engine(settings.database_url)
    emails = [f"{prefix}-{i}-{secrets.token_hex(3)}@example.com" for i in range(count)]
    try:
        factory = make_session_factory(engine)
        with transaction(factory) as db:
            for email in emails:
                create_user(db, email=email, password=PASSWORD, name="Bench User", email_verified=True)
    finally:
        engine.dispose()
    return emails


# --- results ---------------------------------------------------------------------------------------------
@dataclass
class LoadResult:
    tool: str
    duration: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration if self.duration else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, "duration_s": round(self.duration, 2), "requests": self.requests,
                "requests_per_s": round(self.rps, 1), "errors": self.errors, "p50_ms": round(self.p50_ms, 2),
                "p99_ms": round(self.p99_ms, 2), "mean_ms": round(self.mean_ms, 2), "max_ms": round(self.max_ms, 2),
                **self.detail}


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


# --- wrk -------------------------------------------------------------------------------------------------
WRK = shutil.which("wrk")

# Prints one JSON line at the end of a run: counts and latency percentiles (microseconds).
_WRK_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


def wrk_post_script(body: str, authorization: str) -> str:
    """A wrk script that POSTs the same url-encoded form with Basic auth on every request."""
    return (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["Authorization"] = {json.dumps(authorization)}\n'
        + _WRK_DONE
    )


def run_wrk(url: str, script: str, *, duration: float, connections: int, threads: int = 1,
            timeout_s: int = 10) -> LoadResult:
    assert WRK is not None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        out = subprocess.run(
            [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", f"--timeout={timeout_s}s",
             "-s", path, url],
            capture_output=True, text=True, timeout=duration + timeout_s + 30)
    finally:
        os.unlink(path)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {out.stdout}\n{out.stderr}")
    data = json.loads(line[len("WRKJSON "):])
    errors = data["connect"] + data["read"] + data["write"] + data["status"] + data["timeout"]
    return LoadResult(
        tool=f"wrk -t{threads} -c{connections}", duration=data["duration_us"] / 1e6, requests=data["requests"],
        errors=errors, p50_ms=data["p50"] / 1000, p99_ms=data["p99"] / 1000, mean_ms=data["mean"] / 1000,
        max_ms=data["max"] / 1000,
        detail={"p90_ms": data["p90"] / 1000, "error_kinds": {k: data[k] for k in
                                                             ("connect", "read", "write", "status", "timeout")},
                "wrk_stdout": out.stdout.strip().splitlines()})


# --- asyncio load (fallback, and for flows with state) ---------------------------------------------------
Step = Callable[[httpx.AsyncClient, int], Awaitable[bool]]


async def run_async_load(base_url: str, step: Step, *, duration: float, connections: int,
                         warmup: float = 0.0) -> LoadResult:
    """``connections`` workers call ``step(client, worker_index)`` back to back until the time is up.

    ``step`` returns True for a success. Only steps that start after the warm-up are counted.
    """
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def worker(i: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
            while (t0 := time.perf_counter()) < stop_at:
                try:
                    ok = await step(http, i)
                except (httpx.HTTPError, RuntimeError, KeyError):
                    ok = False
                t1 = time.perf_counter()
                if t0 >= measure_from:
                    latencies.append(t1 - t0)
                    errors += 0 if ok else 1

    await asyncio.gather(*(worker(i) for i in range(connections)))
    elapsed = time.perf_counter() - measure_from
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return LoadResult(tool=f"python asyncio+httpx, {connections} connections", duration=elapsed,
                      requests=len(latencies), errors=errors, p50_ms=percentile(ms, 50), p99_ms=percentile(ms, 99),
                      mean_ms=statistics.fmean(ms) if ms else 0.0, max_ms=ms[-1] if ms else 0.0)


def pids_with_cmdline(text: str) -> list[int]:
    """Processes whose command line contains ``text`` (e.g. the PostgreSQL backends of one database)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the given processes so far (Linux /proc), in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


# --- profiling -------------------------------------------------------------------------------------------
class Profiler:
    """py-spy recording the server's processes (uvicorn workers included) while the measured run lasts."""

    def __init__(self, prefix: str | None, pid: int | None, duration: float, gil: bool) -> None:
        self.prefix, self.pid, self.duration, self.gil = prefix, pid, duration, gil
        self.proc: subprocess.Popen[Any] | None = None

    def __enter__(self) -> Profiler:
        if self.prefix and self.pid:
            py_spy = str(VENV_BIN / "py-spy") if (VENV_BIN / "py-spy").exists() else shutil.which("py-spy") or "py-spy"
            cmd = [py_spy, "record", "--pid", str(self.pid), "--subprocesses", "--rate", "250", "--nonblocking",
                   "--duration", str(int(self.duration)), "--format", "raw", "-o", f"{self.prefix}.collapsed.txt"]
            if self.gil:
                cmd.append("--gil")
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            try:
                self.proc.wait(timeout=self.duration + 30)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(10)


IDLE_LEAVES = ("Condition.wait (threading.py", "Runner.run (asyncio/runners.py", "Queue.get (queue.py")


def summarize_profile(path: Path, categories_: list[tuple[str, tuple[str, ...]]], top: int = 25) -> dict[str, Any]:
    stacks: list[tuple[list[str], int]] = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    # Idle threads: threadpool workers waiting for work, and the event loop's own frame (uvloop runs in C,
    # so its samples cannot tell polling from work; they are left out and reported apart).
    idle = sum(c for frames, c in stacks if frames[-1].startswith(IDLE_LEAVES))
    stacks = [(frames, c) for frames, c in stacks if not frames[-1].startswith(IDLE_LEAVES)]
    total = sum(c for _, c in stacks) or 1
    categories = {}
    for label, needles in categories_:
        n = sum(c for frames, c in stacks if any(any(s in f for s in needles) for f in frames))
        categories[label] = round(100 * n / total, 1)
    leaf: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for frames, c in stacks:
        leaf[frames[-1]] += c
        for f in set(frames):
            inclusive[f] += c
    return {
        "samples": total,
        "samples_left_out_idle_or_event_loop_native": idle,
        "categories_inclusive_pct": categories,
        "top_self_pct": {f: round(100 * c / total, 1) for f, c in leaf.most_common(top)},
        "top_inclusive_pct": {f: round(100 * c / total, 1) for f, c in inclusive.most_common(top)},
    }


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used so far (/proc/stat, idle and iowait excluded)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait: float, threshold: float = 0.3, window: float = 3.0) -> float:
    """Wait (at most ``max_wait`` s) until the machine's CPU use over ``window`` s is below ``threshold`` cores.

    This machine may be shared; other processes' load only ever makes a run slower. Returns the last load seen.
    """
    deadline = time.monotonic() + max_wait
    while True:
        busy0, t0 = machine_busy_seconds(), time.monotonic()
        time.sleep(window)
        load = (machine_busy_seconds() - busy0) / (time.monotonic() - t0)
        if load < threshold or time.monotonic() >= deadline:
            return load

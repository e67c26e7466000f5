"""What the HTTP benchmarks share: gunicorn on a free local port, a load generator in other
processes (threads, each with its own keep-alive ``http.client`` connection), CPU accounting
from /proc, and the figures of a timed phase.

The benches run as scripts (``python bench/x.py``), so this folder is on ``sys.path``.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from _benchdb import ensure_database, pct, setup_django

ROOT = Path(__file__).resolve().parent.parent


# --- The server ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(
    url: str, *, settings_module: str = "alliance.settings.production", name: str = "grab", **extra
) -> dict:
    """Production settings with bench values. The field-encryption key must be the one the
    setup wrote the merchant's settlement fields with (requests read the merchant row)."""
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        DJANGO_SECRET_KEY=f"bench-{name}-" + uuid.uuid4().hex + "-not-a-real-secret-but-long-enough",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=url,
        DJANGO_CELERY_BROKER_URL="redis://127.0.0.1:6379/15",  # never used by these endpoints
        DJANGO_SMS_BACKEND="accounts.sms.ConsoleBackend",
        DJANGO_FIELD_ENCRYPTION_KEY=settings.ALLIANCE_FIELD_ENCRYPTION_KEY,
        # Required by production since ada02bd; no channel is called by grab_bench's endpoints.
        DJANGO_PUBLIC_BASE_URL="https://127.0.0.1",
        DJANGO_PAYMENT_GATEWAYS="{}",
    )
    env.update(extra)
    return env


class Server:
    """gunicorn serving ``alliance.wsgi`` with production's ``gunicorn.conf.py`` (the options
    given override it), started and answering ``GET /api/health/`` when made."""

    def __init__(
        self,
        url: str,
        worker_class: str,
        workers: int,
        threads: int,
        *,
        env: dict | None = None,
        name: str = "grab",
        port: int | None = None,
    ):
        self.port = port or free_port()
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            "w+", prefix=f"{name}-gunicorn-{worker_class}-", suffix=".log", delete=False
        )
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "alliance.wsgi:application",
            "--config",
            str(ROOT / "gunicorn.conf.py"),  # production's; the options below override it
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--backlog",
            "2048",
            "--timeout",
            "60",
        ]
        if worker_class == "gthread":
            cmd += ["--threads", str(threads)]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env if env is not None else server_env(url),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                log = self.log.read()
                self.stop()
                sys.exit("gunicorn did not start:\n" + log[-3000:])
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/health/", headers={"X-Forwarded-Proto": "https"})
                if conn.getresponse().status == 200:
                    conn.close()
                    break
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)

    def pids(self) -> list[int]:
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [self.proc.pid, *map(int, kids.read_text().split())]
        except OSError:
            return [self.proc.pid]

    def stop(self) -> None:
        stop_process(self.proc, timeout=20)
        self.log.close()


def stop_process(proc: subprocess.Popen, *, timeout: float) -> None:
    """SIGTERM (a graceful stop), SIGKILL if it is not over within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


def start(bench: str, default_url: str, *, sharing: str):
    """The bench database (made if missing), Django on it, and the header line; the URL and
    the connection."""
    url = os.environ.get("DATABASE_URL") or default_url
    ensure_database(url)
    connection = setup_django(url, bench=bench)
    with connection.cursor() as cur:
        server_version = cur.execute("SHOW server_version").fetchone()[0]
        max_conn = cur.execute("SHOW max_connections").fetchone()[0]
    print(
        f"{bench} on PostgreSQL {server_version} (max_connections {max_conn}), "
        f"{os.cpu_count()} CPUs, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"  {sharing} share these CPUs")
    return url, connection


# --- CPU accounting (from /proc) ------------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
    return total


def postgres_cpu(dbname: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to the bench database."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            if f" {dbname} " not in (entry / "cmdline").read_text().replace("\0", " "):
                continue
        except OSError:
            continue
        found[int(entry.name)] = cpu_seconds([int(entry.name)])
    return found


def machine_busy() -> float:
    """Seconds of CPU the whole machine has spent (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    idle = int(fields[3]) + int(fields[4])
    return (sum(int(f) for f in fields[:8]) - idle) / _TICK


# --- The load generator (other processes) --------------------------------------------------------
def send(conn: http.client.HTTPConnection, method: str, path: str, headers: dict, body=None):
    """One request on a client's keep-alive connection: (status, body, response headers,
    retries). Re-connects when the server closed it (sync workers close after every response)
    and resends a failed request as it was (the same headers: the same Idempotency-Key);
    after four failures the status is -1."""
    retries = 0
    while True:
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if response.will_close:
                conn.close()
            return response.status, data, response.headers, retries
        except (http.client.HTTPException, OSError):
            conn.close()
            retries += 1
            if retries > 3:
                return -1, b"", None, retries


def error_code(status: int, body: bytes) -> str:
    """The ``code`` of a 4xx answer's body ("" otherwise, "?" if it is not JSON)."""
    if not 400 <= status < 500:
        return ""
    try:
        return json.loads(body).get("code", "")
    except ValueError:
        return "?"


def _client_thread(port: int, jobs, go: threading.Event, results: list) -> None:
    """One client: requests ``(method, path, headers, customer[, body])`` one after the other
    on its own connection; a row ``(customer, status, code, start, end, retries)`` each."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    go.wait()
    for job in jobs:
        results.append(request_row(conn, job))
    conn.close()


def request_row(conn: http.client.HTTPConnection, job: tuple) -> tuple:
    method, path, headers, customer, *body = job
    start = time.monotonic()
    status, data, _headers, retries = send(conn, method, path, headers, *body)
    end = time.monotonic()
    return (customer, status, error_code(status, data), start, end, retries)


def _client_process(port: int, commands, out, client) -> None:
    while True:
        command = commands.get()
        if command[0] == "stop":
            return
        _, per_thread = command
        go = threading.Event()
        results: list = []
        threads = [
            threading.Thread(target=client, args=(port, jobs, go, results), daemon=True)
            for jobs in per_thread
        ]
        for t in threads:
            t.start()
        out.put(("ready", None))
        commands.get()  # ("go",)
        go.set()
        for t in threads:
            t.join()
        out.put(("done", results))


class LoadGenerator:
    """``processes`` x ``threads`` clients. ``client(port, jobs, go, results)`` runs one
    client's jobs (a module-level function: it is sent to spawned processes); by default
    ``_client_thread``, one request per job."""

    def __init__(self, port: int, processes: int, threads: int, client=_client_thread):
        ctx = mp.get_context("spawn")
        self.threads = threads
        self.out = ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(processes)]
        self.procs = [
            ctx.Process(target=_client_process, args=(port, q, self.out, client), daemon=True)
            for q in self.commands
        ]
        for p in self.procs:
            p.start()

    @property
    def clients(self) -> int:
        return len(self.procs) * self.threads

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def run(self, jobs: list, clients: int | None = None) -> list:
        """Spread the jobs round-robin over the clients (all, or the first ``clients``, spread
        over the processes), start them together, return the clients' rows."""
        n = min(clients or self.clients, self.clients)
        p, t = len(self.procs), self.threads
        # All clients: job i to client i (grab_bench's order); fewer: spread over the processes.
        order = range(n) if n == self.clients else [(k % p) * t + k // p for k in range(n)]
        slots = [[] for _ in range(self.clients)]
        for i, job in enumerate(jobs):
            slots[order[i % n]].append(job)
        for k, q in enumerate(self.commands):
            q.put(("run", slots[k * self.threads : (k + 1) * self.threads]))
        for _ in self.procs:
            assert self.out.get()[0] == "ready"
        for q in self.commands:
            q.put(("go",))
        results = []
        for _ in self.procs:
            kind, rows = self.out.get()
            results += rows
        return results

    def stop(self) -> None:
        for q in self.commands:
            q.put(("stop",))
        for p in self.procs:
            p.join(timeout=10)


BASE_HEADERS = {"X-Forwarded-Proto": "https", "Accept": "application/json"}


def health_jobs(n: int) -> list:
    return [("GET", "/api/health/", dict(BASE_HEADERS), 0) for _ in range(n)]


# --- Figures -------------------------------------------------------------------------------------
class Phase:
    """The rows of a timed phase (``start`` and ``end`` at [3] and [4], retries at [5]) and the
    CPU its processes spent; ``per`` names what the CPU is counted per."""

    def __init__(self, name: str, rows: list, cpu: dict, per: str = "request"):
        self.name = name
        self.rows = rows
        self.cpu = cpu
        self.per = per
        self.wall = max(r[4] for r in rows) - min(r[3] for r in rows)
        self.rate = len(rows) / self.wall
        self.retries = sum(r[5] for r in rows)

    def ms(self, pred=lambda r: True) -> list[float]:
        return [(r[4] - r[3]) * 1000 for r in self.rows if pred(r)]

    def line(self, label: str, pred=lambda r: True, rate: float | None = None) -> str:
        return latency_line(label, self.ms(pred), rate)

    def cpu_line(self) -> str:
        c, n, per = self.cpu, len(self.rows), self.per
        others = "".join(
            f"{name} {seconds:.1f} s ({seconds / n * 1000:.1f} ms/{per}), "
            for name, seconds in c.get("others", {}).items()
        )
        return (
            f"    cpu over {self.wall:.2f} s wall: server {c['server']:.1f} s "
            f"({c['server'] / n * 1000:.1f} ms/{per}), postgres {c['postgres']:.1f} s "
            f"({c['postgres'] / n * 1000:.1f} ms/{per}), {others}load generator "
            f"{c['clients']:.1f} s; whole machine {c['machine'] / c['capacity']:.0%} busy"
        )


def latency_line(label: str, lat: list[float], rate: float | None = None) -> str:
    rate_s = f"{rate:8,.0f}/s" if rate is not None else " " * 10
    return (
        f"  {label:<32} {len(lat):>6,}  {rate_s}  p50 {pct(lat, 50):7.1f} ms  "
        f"p99 {pct(lat, 99):7.1f} ms  max {max(lat, default=float('nan')):7.1f} ms"
    )


def timed_phase(
    name: str, gen: LoadGenerator, server: Server, jobs: list, *, others=None, per="request",
    clients: int | None = None,
) -> Phase:
    """Run ``jobs`` and count the CPU of the server, the bench database's PostgreSQL backends,
    the load generator, the whole machine and ``others`` (name -> a function giving pids)."""
    from django.db import connection

    others = others or {}
    dbname = connection.settings_dict["NAME"]
    pg_before = postgres_cpu(dbname)
    other_before = {k: cpu_seconds(pids()) for k, pids in others.items()}
    before = (
        cpu_seconds(server.pids()),
        0.0,
        cpu_seconds(gen.pids()),
        machine_busy(),
        time.monotonic(),
    )
    rows = gen.run(jobs, clients)
    pg_after = postgres_cpu(dbname)
    after = (
        cpu_seconds(server.pids()),
        sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items()),
        cpu_seconds(gen.pids()),
        machine_busy(),
        time.monotonic(),
    )
    cpu = {
        "server": after[0] - before[0],
        "postgres": after[1] - before[1],
        "clients": after[2] - before[2],
        "machine": after[3] - before[3],
        "capacity": (after[4] - before[4]) * (os.cpu_count() or 1),
    }
    if others:
        cpu["others"] = {k: cpu_seconds(pids()) - other_before[k] for k, pids in others.items()}
    return Phase(name, rows, cpu, per)

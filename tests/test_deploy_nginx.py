"""The production front with the real parts: Debian's nginx, running deploy/nginx/riskmodel.conf
on a free loopback port, in front of two `riskmodel serve` replicas that share one
PostgreSQL database (made fresh for this module) and one artifacts directory.

The front is started once for the module (starting two replicas takes seconds). Before each
test it is made whole again: a replica a test killed or stopped is started, the version
made current is the first one again, and nginx is seen sending to both replicas. Each test
reads only its own part of nginx's access log and uses campaign ids of its own."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import replica_manager
from conftest import _pg_admin, free_port, stop_server

from riskmodel import Settings, Store

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "deploy" / "nginx" / "riskmodel.conf"
ROLLING_RESTART = ROOT / "deploy" / "rolling-restart"
MANAGER = Path(__file__).resolve().parent / "replica_manager.py"
NGINX = "/usr/sbin/nginx"
KEY = "replica-test-key"

GOOD = {"campaign_id": "front-1", "marketplace": "US", "category": "home",
        "campaign_type": "lightning_deal", "duration_days": 1, "goal_alignment_score": 0.5,
        "material_delay_days": 8, "resource_value_usd": 20000, "committed_ad_budget_usd": 3000}
BODY = json.dumps(GOOD).encode()

needs_nginx = pytest.mark.skipif(not os.path.exists(NGINX) and not os.environ.get("CI"),
                                 reason="Debian's nginx is not installed (apt-get install "
                                        "nginx-light; .ci/run does)")


# --- the parts ------------------------------------------------------------------------------

def render_conf(listen: int, upstreams: list[int], logs: Path) -> str:
    """The shipped configuration with only its addresses and log path changed."""
    text = CONF.read_text()
    ports = iter(upstreams)
    text, n = re.subn(r"(?m)^    server 127\.0\.0\.1:\d+ ",
                      lambda m: f"    server 127.0.0.1:{next(ports)} ", text)
    assert n == len(upstreams), "one upstream server line per replica"
    text, n = re.subn(r"(?m)^    listen \d+;", f"    listen 127.0.0.1:{listen};", text)
    assert n == 1, "the listen line was not found"
    text, n = re.subn(r"access_log /var/log/nginx/riskmodel\.access\.log",
                      f"access_log {logs / 'riskmodel.access.log'}", text)
    assert n == 1, "the access_log line was not found"
    return text


def main_conf(prefix: Path, include: Path) -> str:
    """The `nginx.conf` around the include: everything nginx writes under ``prefix``."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers as nobody could not write
    return f"""{user}worker_processes 1;
pid {prefix / 'nginx.pid'};
error_log {prefix / 'error.log'} warn;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {prefix / 'body'};
    proxy_temp_path {prefix / 'proxy'};
    fastcgi_temp_path {prefix / 'fastcgi'};
    uwsgi_temp_path {prefix / 'uwsgi'};
    scgi_temp_path {prefix / 'scgi'};
    access_log off;
    include {include};
}}
"""


class Nginx:
    def __init__(self, prefix: Path, upstreams: list[int]) -> None:
        self.prefix, self.port = prefix, free_port()
        prefix.mkdir(parents=True, exist_ok=True)
        include = prefix / "riskmodel.conf"
        include.write_text(render_conf(self.port, upstreams, prefix))
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(main_conf(prefix, include))
        self.proc: subprocess.Popen | None = None
        self._log_start = 0  # access-log lines written before the test in progress

    def mark(self) -> None:
        """From now on, :meth:`access_log` reads only what is logged after this call."""
        self._log_start = len(self._log_lines())

    def _log_lines(self) -> list[str]:
        path = self.prefix / "riskmodel.access.log"
        return path.read_text().splitlines() if path.exists() else []

    def test_conf(self) -> subprocess.CompletedProcess:
        return subprocess.run([NGINX, "-t", "-p", str(self.prefix), "-c", str(self.conf),
                               "-g", "daemon off;"], capture_output=True, text=True)

    def start(self) -> None:
        self.proc = subprocess.Popen([NGINX, "-p", str(self.prefix), "-c", str(self.conf),
                                      "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"nginx exited: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.05)
        pytest.fail("nginx did not answer within 20 s")

    def stop(self) -> None:
        if self.proc is not None:
            stop_server(self.proc)  # SIGTERM (nginx's fast stop) to its process group
            self.proc.stderr.close()  # type: ignore[union-attr]

    def access_log(self, request_id: str | None = None) -> list[dict]:
        """The entries of the access log since :meth:`mark`; with ``request_id``, that
        request's, waited for (nginx logs a request when it is done with its connection,
        which can be after the client has its answer)."""
        deadline = time.monotonic() + 10
        while True:
            entries = [json.loads(line) for line in self._log_lines()[self._log_start:]]
            if request_id is None or time.monotonic() > deadline:
                return entries
            if any(e["request_id"] == request_id for e in entries):
                return [e for e in entries if e["request_id"] == request_id]
            time.sleep(0.05)


class Replica:
    """`riskmodel serve` on a fixed port, one worker, its temp directory of its own (so what
    it leaves there can be seen), handled by tests/replica_manager.py as a service manager
    would (deploy/rolling-restart restarts it through the same script)."""

    def __init__(self, port: int, env: dict[str, str], state: Path) -> None:
        self.port, self.state = port, state
        state.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, **env, TMPDIR=str(state))
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # serve makes its own, in TMPDIR
        argv = [sys.executable, "-m", "commands", "serve", "--bind", f"127.0.0.1:{port}"]
        (state / "replica.json").write_text(json.dumps({"argv": argv, "env": env}))

    def start(self) -> None:
        subprocess.run([sys.executable, str(MANAGER), "start", str(self.state)], check=True,
                       cwd=ROOT)

    def ready(self, timeout: float = 60) -> None:
        pid, deadline = replica_manager.pid_of(self.state), time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pid is None or not replica_manager.alive(pid):
                log = (self.state / "replica.log").read_text()[-2000:]
                pytest.fail(f"the replica on port {self.port} exited before it was ready:\n{log}")
            try:
                self.get("/readyz")
                return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"the replica on port {self.port} was not ready within {timeout:.0f} s")

    def terminate(self) -> None:
        """SIGTERM to the main process only, as `kill PID` or systemd (KillMode=mixed)
        stop it; wait for it to exit."""
        replica_manager.stop(self.state)

    def kill(self) -> None:
        """kill -9 of the whole replica (its main process and worker at once)."""
        replica_manager.stop(self.state, signal.SIGKILL, group=True)

    def stop(self) -> None:
        replica_manager.stop(self.state, group=True)

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return json.loads(r.read())

    @property
    def leftovers(self) -> list[str]:
        return [p.name for p in self.state.glob("riskmodel-metrics-*")]

    def run_dirs(self, pid: int | None) -> list[str]:
        """The metrics directories of the run with main process ``pid``. (A run killed by
        an earlier test may still have one: the next run removes it only once the killed
        process is reaped, which here is up to the container's init.)"""
        return [name for name in self.leftovers if name.startswith(f"riskmodel-metrics-{pid}-")]


class Front:
    """Two replicas on one PostgreSQL database and one artifacts directory, nginx before
    them."""

    def __init__(self, tmp: Path, artifacts: Path, database_url: str) -> None:
        self.artifacts, self.database_url = artifacts, database_url
        self.current = (artifacts / "CURRENT").read_text()
        env = {"RISKMODEL_ARTIFACTS": str(artifacts), "RISKMODEL_DATABASE_URL": database_url,
               "RISKMODEL_WORKERS": "1", "RISKMODEL_LOG_LEVEL": "WARNING",
               "RISKMODEL_API_KEYS": KEY, "RISKMODEL_RELOAD_INTERVAL": "0.5",
               "RISKMODEL_DATA_DIR": str(tmp / "var")}
        ports = [free_port(), free_port()]
        self.replicas = [Replica(port, env, tmp / f"replica-{port}") for port in ports]
        self.nginx = Nginx(tmp / "nginx", [r.port for r in self.replicas])
        self.port = self.nginx.port
        self._checks = 0

    def start(self) -> None:
        for r in self.replicas:  # both at once: they share the database from the start
            r.start()
        for r in self.replicas:
            r.ready()
        self.nginx.start()

    def heal(self) -> None:
        """Whole again after whatever the last test did: every replica running and ready,
        the first current version back (and served), nginx sending to both replicas."""
        for r in self.replicas:
            pid = replica_manager.pid_of(r.state)
            if pid is None or not replica_manager.alive(pid):
                r.start()
        if (self.artifacts / "CURRENT").read_text() != self.current:  # as a promotion does
            (self.artifacts / "CURRENT.heal").write_text(self.current)
            os.replace(self.artifacts / "CURRENT.heal", self.artifacts / "CURRENT")
        for r in self.replicas:
            r.ready()
        version = self.current.strip()
        _until(lambda: {r.get("/v1/model")["model_version"] for r in self.replicas}
               == {version})
        # a replica nginx saw fail stays out for fail_timeout (3 s): wait until it is back
        self.nginx.mark()
        both, seen = {f"127.0.0.1:{r.port}" for r in self.replicas}, set()
        deadline = time.monotonic() + 20
        while seen != both:
            assert time.monotonic() < deadline, f"nginx sends only to {seen}"
            self._checks += 1
            request_id = f"heal-{self._checks}"
            req = urllib.request.Request(f"http://127.0.0.1:{self.port}/healthz",
                                         headers={"X-Request-ID": request_id})
            with contextlib.suppress(OSError):
                urllib.request.urlopen(req, timeout=10).close()
            seen |= {e["upstream"].split(", ")[-1] for e in self.nginx.access_log(request_id)
                     if e["status"] == 200}  # the replica that answered
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop everything at once (each stop takes a second or two)."""
        stopping = [threading.Thread(target=part.stop)
                    for part in (self.nginx, *self.replicas)]
        for t in stopping:
            t.start()
        for t in stopping:
            t.join()


@pytest.fixture(scope="module")
def database_url(request):
    """A PostgreSQL database of its own on the server at 127.0.0.1:5432, dropped after."""
    name = f"riskmodel_front_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE); CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def artifacts(two_versions, tmp_path_factory):
    """A copy of the two-version registry (A current), which promotions may change."""
    root, a, b, bad = two_versions
    copy = tmp_path_factory.mktemp("front") / "artifacts"
    shutil.copytree(root, copy)
    return copy, a, b, bad


@pytest.fixture(scope="module")
def running_front(tmp_path_factory, artifacts, database_url):
    """nginx and two replicas for the whole module."""
    if not os.path.exists(NGINX):
        pytest.fail(f"{NGINX} is missing: apt-get install nginx-light")
    f = Front(tmp_path_factory.mktemp("front"), artifacts[0], database_url)
    try:
        f.start()
        yield f
    finally:
        f.stop()


@pytest.fixture
def front(running_front):
    """The module's front, whole, its access log read from here on."""
    running_front.heal()
    running_front.nginx.mark()
    return running_front


def _until(check, timeout: float = 20, what: str = "within the reload interval") -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} (waited {timeout:.0f} s)")
        time.sleep(0.05)


def _post(port: int, path: str, body: bytes, headers: dict | None = None,
          timeout: float = 10) -> tuple[int, dict, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", body,
                                 {"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


class Load:
    """Clients scoring through nginx on keep-alive connections, each as fast as it can or
    ``pause`` seconds after each answer; every answer other than a 200 with the campaign
    scored, and every connection error, is a failure."""

    def __init__(self, port: int, clients: int = 3, body: bytes = BODY,
                 pause: float = 0) -> None:
        self.port, self.clients, self.body, self.pause = port, clients, body, pause
        self.ok = 0
        self.failures: list[str] = []
        self.upstream_versions: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True)
                         for _ in range(clients)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def wait_for(self, count: int, timeout: float = 30) -> None:
        """Until ``count`` more requests have succeeded."""
        target, deadline = self.ok + count, time.monotonic() + timeout
        while self.ok < target:
            if time.monotonic() > deadline:
                pytest.fail(f"only {self.ok} requests succeeded; failures: {self.failures[:3]}")
            time.sleep(0.02)

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self._stop.is_set():
            try:
                conn.request("POST", "/v1/score", self.body,
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                if r.status != 200 or b'"campaign_id":"front-1"' not in data:
                    raise AssertionError(f"{r.status}: {data[:200]!r}")
                with self._lock:
                    self.ok += 1
                if self.pause:
                    self._stop.wait(self.pause)
            except Exception as e:  # noqa: BLE001  counted, the load goes on
                with self._lock:
                    self.failures.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.close()


# --- the configuration ----------------------------------------------------------------------

@needs_nginx
def test_the_shipped_configuration_is_valid_and_matches_the_settings(tmp_path):
    """nginx accepts the file as shipped (ports aside); its body limit is the service's."""
    text = CONF.read_text()
    [limit] = re.findall(r"(?m)^    client_max_body_size (\d+)m;", text)
    assert int(limit) * 2**20 == Settings().max_body_bytes
    [upload] = re.findall(r"(?m)^        client_max_body_size (\d+)m;", text)
    assert int(upload) * 2**20 == Settings().max_upload_bytes
    [header] = re.findall(r"client_header_timeout (\d+)s;", text)
    assert int(header) == Settings().timeout
    done = Nginx(tmp_path, [free_port(), free_port()]).test_conf()
    assert done.returncode == 0, done.stderr


# --- through the front ------------------------------------------------------------------------

@needs_nginx
def test_requests_reach_both_replicas_with_their_request_id(front):
    for i in range(12):
        status, headers, body = _post(front.port, "/v1/score", BODY,
                                      {"X-Request-ID": f"client-{i}"})
        assert status == 200
        assert headers["X-Request-ID"] == body["request_id"] == f"client-{i}"
    # an id the service would not take is replaced by nginx's own, which the replica keeps
    status, headers, body = _post(front.port, "/v1/score", BODY, {"X-Request-ID": "bad id!"})
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert headers["X-Request-ID"] == body["request_id"]
    front.nginx.access_log("client-11")
    logged = front.nginx.access_log()
    assert {e["request_id"] for e in logged} >= {f"client-{i}" for i in range(12)}
    assert {e["upstream"] for e in logged} == {f"127.0.0.1:{r.port}" for r in front.replicas}


@needs_nginx
def test_a_body_over_the_limit_is_refused_by_nginx_as_a_problem(front):
    big = b'{"campaigns": [' + b" " * Settings().max_body_bytes + b"]}"
    status, headers, body = _post(front.port, "/v1/score", big, {"X-Request-ID": "too-big"})
    assert status == 413
    assert headers["Content-Type"] == "application/problem+json"
    assert body["type"] == "/problems/body-too-large" and body["request_id"] == "too-big"
    assert [e["upstream"] for e in front.nginx.access_log("too-big")] == [""]  # no replica


class SlowClient(threading.Thread):
    """A client that sends its request a byte a second: the head, or (head whole) the body,
    until ``stop`` is set; then it closes its connection."""

    HEAD = (b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(BODY))

    def __init__(self, port: int, send_body: bool, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.send_body, self.stop = port, send_body, stop
        self.sent = 0  # bytes sent slowly so far
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                if self.send_body:
                    s.sendall(self.HEAD)
                for byte in BODY if self.send_body else self.HEAD:
                    s.send(bytes([byte]))
                    self.sent += 1
                    if self.stop.wait(1.0):
                        return
        except Exception as e:  # noqa: BLE001  the test reports it
            self.error = e


def _timed_scores(port: int, seconds: float, pause: float = 0.05) -> list[float]:
    """Ordinary requests through nginx for ``seconds``, one every ``pause`` s on one
    keep-alive connection: each one's round trip in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    until = time.monotonic() + seconds
    try:
        while time.monotonic() < until:
            started = time.perf_counter()
            conn.request("POST", "/v1/score", BODY, {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            times.append((time.perf_counter() - started) * 1000)
            assert r.status == 200 and b'"campaign_id":"front-1"' in data, data[:200]
            time.sleep(pause)
    finally:
        conn.close()
    return times


@needs_nginx
def test_slow_clients_do_not_hold_up_ordinary_requests(front):
    """16 connections sending a byte a second (8 their head, 8 their body) are held by nginx,
    which passes a request on only once it has it whole: ordinary requests meanwhile (one
    every 0.05 s for 3 s, about 50) are all answered, at the latency they had before (about
    20 requests over 1 s); figures printed, run with -s."""
    before = _timed_scores(front.port, 1)
    stop = threading.Event()
    slow = [SlowClient(front.port, i % 2 == 1, stop) for i in range(16)]
    for c in slow:
        c.start()
    try:
        _until(lambda: all(c.sent >= 2 for c in slow) or any(c.error for c in slow), 10,
               "every slow client sending")
        during = _timed_scores(front.port, 3)
        # each slow client was still sending, a byte a second, all through those 3 s
        sent = [c.sent for c in slow]
        assert all(c.is_alive() for c in slow) and min(sent) >= 4, (sent, slow[0].error)
    finally:
        stop.set()
        for c in slow:
            c.join(timeout=10)
    print(f"\nthrough nginx, ms: before p50 {statistics.median(before):.2f} max "
          f"{max(before):.2f} (n={len(before)}); beside 16 slow clients p50 "
          f"{statistics.median(during):.2f} max {max(during):.2f} (n={len(during)})")
    assert len(during) >= 20
    # no request waited behind a slow client (that would take seconds); not a speed test
    assert max(during) < 1000, f"slowest ordinary request {max(during):.0f} ms"
    # nginx passed none of the slow requests on: it logs each one (a 400, the client gone
    # before its request was whole) as it closes the connection, with no replica
    _until(lambda: len([e for e in front.nginx.access_log() if e["status"] != 200]) >= 16,
           10, "the 16 slow requests logged")
    cut = [e for e in front.nginx.access_log() if e["status"] != 200]
    assert [(e["status"], e["upstream"]) for e in cut] == [(400, "")] * 16, cut
    assert len([e for e in cut if e["uri"] == "/v1/score"]) == 8  # the heads were whole


@needs_nginx
def test_kill_9_of_one_replica_under_load_fails_no_request(front):
    """nginx retries a scoring request on the other replica when its connection fails,
    even once sent (scoring is pure: see the configuration). Batches of 200 campaigns from 6
    clients, so that requests are in progress on the replica when it dies (without
    `non_idempotent` in the configuration, those fail): 30 answered before the kill, 60
    after it."""
    victim, other = front.replicas
    batch = json.dumps({"campaigns": [GOOD] * 200}).encode()
    with Load(front.port, clients=6, body=batch) as load:
        load.wait_for(30)
        victim.kill()
        load.wait_for(60)
    retried = [e for e in front.nginx.access_log() if "," in e["upstream"]]
    print(f"\n{load.ok} batches answered, {len(retried)} of them retried on the other "
          f"replica, {len(load.failures)} failed")
    assert load.failures == []
    after = front.nginx.access_log()[-40:]
    assert {e["upstream"] for e in after} == {f"127.0.0.1:{other.port}"}


@needs_nginx
def test_a_rolling_restart_under_load_fails_no_request(front):
    """deploy/rolling-restart under load: SIGTERM one replica, start it again, wait for its
    /readyz (and nginx's fail_timeout), then the other; every request is answered. A
    stopped replica leaves no riskmodel-metrics-* directory behind."""
    pids = [replica_manager.pid_of(r.state) for r in front.replicas]
    dirs = [r.run_dirs(pid) for r, pid in zip(front.replicas, pids, strict=True)]
    assert [len(d) for d in dirs] == [1, 1]  # each run's own
    # the restart command stops the replica, notes what the stopped run left in its temp
    # folder (the next run would remove what a dead run left), then starts it
    state = f"{front.replicas[0].state.parent}/replica-{{port}}"
    left = front.replicas[0].state.parent / "left-by-stop"
    left.unlink(missing_ok=True)
    restart = (f"{sys.executable} {MANAGER} stop {state} && "
               f"(ls -d {state}/riskmodel-metrics-* >> {left} 2>/dev/null; "
               f"{sys.executable} {MANAGER} start {state})")
    env = dict(os.environ, RISKMODEL_READY_TIMEOUT="60", RISKMODEL_RESTART_COMMAND=restart)
    # 3 clients, each sending again 10 ms after its answer: a few thousand requests meet the
    # restarts, and the replicas start faster than beside clients that take both cores
    with Load(front.port, pause=0.01) as load:
        load.wait_for(20)
        before = load.ok
        done = subprocess.run([str(ROLLING_RESTART), *(str(r.port) for r in front.replicas)],
                              env=env, capture_output=True, text=True, timeout=300)
        during = load.ok - before
        # nginx takes the last one back at its next try after fail_timeout: within seconds
        both = {f"127.0.0.1:{r.port}" for r in front.replicas}
        deadline = time.monotonic() + 15
        while {e["upstream"] for e in front.nginx.access_log()[-50:]} != both:
            assert time.monotonic() < deadline, "nginx did not send to both replicas again"
            load.wait_for(50)
    print(f"\n{before} requests answered before the restart, {during} during it, "
          f"{load.ok - before - during} after; {len(load.failures)} failed")
    assert done.returncode == 0, done.stderr
    assert [f"127.0.0.1:{r.port} ready" in done.stderr for r in front.replicas] == [True] * 2
    assert load.failures == []
    restarted = [replica_manager.pid_of(r.state) for r in front.replicas]
    assert None not in restarted and not set(restarted) & set(pids)
    # each stopped run removed its directory as it stopped; the new run has one of its own
    assert not left.exists() or left.read_text() == ""
    now = [r.run_dirs(pid) for r, pid in zip(front.replicas, restarted, strict=True)]
    assert [len(d) for d in now] == [1, 1]
    assert not {*dirs[0], *dirs[1]} & {d for r in front.replicas for d in r.leftovers}


def _outcome_post(port: int, barrier: threading.Barrier, results: list) -> None:
    plan = dict(GOOD, campaign_id="outcome-once")
    outcome = {"campaign_id": "outcome-once", "failed": True, "failure_reason": "other",
               "completed_on": "2026-03-01", "plan": plan}
    barrier.wait(timeout=30)
    status, _, body = _post(port, "/v1/outcomes", json.dumps(outcome).encode(),
                            {"X-API-Key": KEY})
    results.append((status, body["results"][0]["status"] if status == 200 else body))


@needs_nginx
def test_one_outcome_posted_through_both_replicas_at_once_is_stored_once(front):
    barrier, results = threading.Barrier(8), []
    threads = [threading.Thread(target=_outcome_post,
                                args=(front.replicas[i % 2].port, barrier, results))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results, key=str) == [(200, "created")] + [(200, "unchanged")] * 7, results
    store = Store(front.database_url, create=False)
    try:
        stored = store.outcome_frame()
        assert list(stored["campaign_id"]).count("outcome-once") == 1
        assert store.integrity_check() == []
    finally:
        store.dispose()


@needs_nginx
def test_both_replicas_prediction_logs_land_in_the_shared_store(front):
    for i, replica in enumerate(front.replicas):
        body = json.dumps(dict(GOOD, campaign_id=f"via-{i}")).encode()
        assert _post(replica.port, "/v1/score", body, {"X-Request-ID": f"req-{i}"})[0] == 200
    store = Store(front.database_url)
    try:
        store.migrate()  # if no replica has yet (the advisory lock keeps it to one at once)
        deadline = time.monotonic() + 20  # each replica writes its log about once a second
        while True:
            logged = {i: store.predictions_for(f"via-{i}") for i in range(2)}
            if all(logged.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        store.dispose()
    assert [[row["request_id"] for row in logged[i]] for i in range(2)] == [["req-0"], ["req-1"]]


def _promote(replica: Replica, version: str) -> int:
    """Promote ``version`` from the workbench page of one replica (CSRF token, API key)."""
    from urllib.parse import urlencode

    with urllib.request.urlopen(f"http://127.0.0.1:{replica.port}/model", timeout=10) as r:
        [token] = re.findall(r"riskmodel_csrf=([^;]+)", r.headers["Set-Cookie"])
    form = urlencode({"version": version, "api_key": KEY, "csrf_token": token,
                      "reason": "test"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{replica.port}/model/promote", form,
                                 {"Cookie": f"riskmodel_csrf={token}"})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@needs_nginx
def test_a_promotion_through_one_replica_is_served_by_both(front, artifacts):
    _, a, b, bad = artifacts
    first, second = front.replicas
    assert {r.get("/v1/model")["model_version"] for r in front.replicas} == {a}
    assert _promote(first, b) == 303
    _until(lambda: {r.get("/v1/model")["model_version"] for r in front.replicas} == {b})
    # a corrupt version is refused by the page of either replica, and nothing changes
    assert _promote(first, bad) == _promote(second, bad) == 422
    # one that becomes current behind their back (a hand edit, another tool) is refused by
    # each replica, for the same reason; both keep serving what they had
    (artifacts[0] / "CURRENT").write_text(bad + "\n")
    _until(lambda: all((r.get("/readyz").get("last_refused") or {}).get("version") == bad
                       for r in front.replicas))
    ready = [r.get("/readyz") for r in front.replicas]
    assert ready[0]["last_refused"]["reason"] == ready[1]["last_refused"]["reason"]
    assert [r["model_version"] for r in ready] == [b, b]
    assert _post(front.port, "/v1/score", BODY)[2]["model_version"] == b

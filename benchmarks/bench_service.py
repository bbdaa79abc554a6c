"""The scoring service on loopback, on granian and on gunicorn, against a Flask echo on each.

    python benchmarks/bench_service.py [--seconds 8] [--rounds 5] [--connections 8]
                                       [--only throughput one-client slow-clients cold-start]
                                       [--baseline DIR]

Five servers run side by side, two worker processes each: our app as `riskmodel serve` runs
it (granian, service/server.py), the same with the prediction log off, the Flask echo
(benchmarks/echo_app.py) on the same granian settings, and our app and the echo on gunicorn
as `riskmodel serve` ran them before (benchmarks/gunicorn_conf.py, 2 sync workers). The load
comes from wrk (Debian package `wrk`) in a separate process: one campaign per request, the
default three factors. Four measurements, each printed per round with the medians:

- throughput: wrk, 2 threads, 8 connections; rounds go through the servers in turn so drift
  on this shared machine hits all alike; each round's ratios are printed as well;
- one client: wrk, 1 thread, 1 connection: p50 and p99 (with ``--realtime``, as root, the
  servers' threads and wrk run on SCHED_FIFO, so that other work on this shared machine
  does not land in the tail being measured; the figures say which);
- slow clients: 16 connections send at a byte a second (8 a request head, 8 a body) while
  one client scores a campaign every 0.2 s for 12 s: how many were answered, p50/p99/max;
- cold start: from launching the server to its first /readyz 200, granian
  (`riskmodel serve`) and gunicorn launched in turn;
- languages (`--only languages`): our app on granian, the same campaign in English (no
  header, and `Accept-Language: en-US,en;q=0.9`) and in Chinese (`Accept-Language:
  zh-CN,zh;q=0.9,en;q=0.8`), wrk runs interleaved round by round; the ratio Chinese /
  English per round and of the medians (the bar: ≥ 0.95).

With ``--baseline DIR`` (another checkout, e.g. ``git worktree add --detach /tmp/main main``)
only our app runs, from this checkout and from DIR (on DIR's .venv if it has one, else this
interpreter; same settings), in
alternating rounds: a change's cost measured side by side rather than against old figures.
Both run on the same server: granian (`riskmodel serve`) by default, or with
``--baseline-server gunicorn`` both on gunicorn with benchmarks/gunicorn_conf.py, for a
checkout from before the move to granian (whose `riskmodel serve` was gunicorn).

The issue's bars: ours on granian ≥ 1.4 × ours on gunicorn and ≥ 0.60 × the echo on granian;
one client p50 ≤ 0.5 ms and p99 ≤ 1.5 ms; slow-client p99 < 20 ms; cold start not slower
than on gunicorn; the prediction log costs at most 20% (on/off ≥ 0.80). Extra environment
(e.g. RISKMODEL_LOG_LEVEL) is passed to every server.
"""

from __future__ import annotations

import argparse
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
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
CAMPAIGN = {
    "campaign_id": "bench-1", "marketplace": "US", "category": "home",
    "campaign_type": "lightning_deal", "duration_days": 1, "goal_alignment_score": 0.55,
    "mou_signed": False, "dedicated_contact": True, "weekly_sync": False,
    "material_delay_days": 6, "brand_avg_past_delay_days": 3, "custom_video_required": True,
    "resource_value_usd": 20000, "committed_ad_budget_usd": 4000,
    "attribution_enabled": False, "utm_configured": True, "brand_analytics_active": True,
    "annual_sales_usd": 1200000, "bsr_top100_products": 4, "monthly_ad_spend_usd": 7000,
    "has_a_plus_content": True, "has_video_main_image": False, "prior_coop_campaigns": 2,
}
BODY = json.dumps(CAMPAIGN).encode()

# the echo on granian, through the same serve() and worker set-up as `riskmodel serve`
ECHO_ON_GRANIAN = ("import os\nfrom riskmodel import settings\nfrom service.server import serve\n"
                   "serve(settings(os.environ), 'echo_app:app', factory=False)\n")


def command(server: str, app: str, python: str = sys.executable) -> list[str]:
    """How each server is launched (its port comes in RISKMODEL_BIND), by ``python``."""
    if server == "granian":
        if app == "echo":
            return [python, "-c", ECHO_ON_GRANIAN]
        return [python, "-m", "commands", "serve"]
    target = "echo_app:app" if app == "echo" else "service:create_app()"
    return [python, "-m", "gunicorn", "--config", str(BENCH / "gunicorn_conf.py"), target]


# name -> (server, app, extra environment)
SERVERS = {
    "granian echo": ("granian", "echo", {}),
    "granian riskmodel": ("granian", "riskmodel", {}),
    "granian no-predlog": ("granian", "riskmodel", {"RISKMODEL_LOG_PREDICTIONS": "false"}),
    "gunicorn echo": ("gunicorn", "echo", {}),
    "gunicorn riskmodel": ("gunicorn", "riskmodel", {}),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(name: str, tmp: Path) -> tuple[subprocess.Popen, int]:
    """Start server ``name`` on a free port, its metrics and SQLite store under ``tmp``."""
    server, app, extra = SERVERS[name]
    cwd = Path(extra.get("cwd", ROOT))  # a baseline checkout runs from there
    extra = {k: v for k, v in extra.items() if k != "cwd"}
    port = free_port()
    slug = name.replace(" ", "-")
    env = dict(os.environ, PYTHONPATH=str(BENCH), RISKMODEL_BIND=f"127.0.0.1:{port}",
               RISKMODEL_DATA_DIR=str(tmp / f"var-{slug}-{port}"), **extra)
    if server == "gunicorn":  # `riskmodel serve` made it this directory before
        metrics = tmp / f"metrics-{slug}-{port}"
        metrics.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    else:  # `riskmodel serve` makes its own, and removes it at exit
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # a baseline checkout with a venv of its own runs on it: its libraries may differ
    own = cwd / ".venv" / "bin" / "python"
    python = str(own) if cwd != ROOT and own.exists() else sys.executable
    proc = subprocess.Popen(command(server, app, python), cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_ready(port: int, path: str = "/readyz", timeout: float = 60.0) -> float:
    """Poll ``path`` every 10 ms until it answers 200 (for /v1/score: to the campaign);
    the time it took."""
    started = time.perf_counter()
    data, headers = (BODY, {"Content-Type": "application/json"}) if path == "/v1/score" \
        else (None, {})
    while time.perf_counter() - started < timeout:
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data, headers)
            with urllib.request.urlopen(req, timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.01)
    raise SystemExit(f"nothing ready on port {port} after {timeout:.0f} s")


def wrk(port: int, seconds: int, connections: int, script: Path,
        threads: int = 2, prefix: tuple[str, ...] = ()) -> dict[str, float]:
    """requests/s and latency percentiles (ms) of one wrk run; no failed request allowed."""
    out = subprocess.run([*prefix, "wrk", f"-t{min(threads, connections)}", f"-c{connections}",
                          f"-d{seconds}s", "--latency", "-s", str(script),
                          f"http://127.0.0.1:{port}/v1/score"],
                         capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise SystemExit(f"failed requests on port {port}:\n{out}")
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    if m := re.search(r"Socket errors: (.*)", out):
        print(f"  (wrk on port {port}: socket errors {m.group(1)})")
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)\b", out)
        result[f"p{pct}"] = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    return result


def write_script(tmp: Path, language: str | None = None, name: str = "post.lua") -> Path:
    """wrk's script: POST the one campaign as JSON (with ``Accept-Language: language``)."""
    script = tmp / name
    head = "" if language is None else f"wrk.headers[\"Accept-Language\"] = \"{language}\"\n"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"{head}wrk.body = {json.dumps(BODY.decode())}\n")
    return script


def arguments(rounds: int) -> argparse.Namespace:
    """The benchmarks' options (seconds and rounds of wrk, connections); wrk must exist."""
    ap = argparse.ArgumentParser()
    # single rounds on this shared 2-core machine swing by a fifth: several by default
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--only", nargs="+", default=None,
                    choices=["throughput", "one-client", "slow-clients", "cold-start",
                             "languages"])
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another checkout: run only our app, from here and from there")
    ap.add_argument("--baseline-server", choices=["granian", "gunicorn"], default="granian",
                    help="the server both checkouts run on with --baseline")
    ap.add_argument("--realtime", action="store_true",
                    help="one client: servers and wrk on SCHED_FIFO (root, chrt), so that "
                    "other work on the machine does not land in the tail")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    return args


@contextlib.contextmanager
def servers(names: list[str]):
    """The servers ``names``, each on its own port, ready and warmed up: yields wrk's script
    and ``{name: (process, port)}``, and stops them all (and removes their files)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-"))
    script = write_script(tmp)
    running: dict[str, tuple[subprocess.Popen, int]] = {}
    try:
        for name in names:
            running[name] = launch(name, tmp)
        for _, port in running.values():
            wait_ready(port, "/v1/score")  # the echo has no /readyz
            wrk(port, 2, 8, script)  # warm-up
        yield script, running
    finally:
        for proc, _ in running.values():
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def rotated(running: dict, r: int) -> list:
    """The servers in the order of round ``r``: each goes first in turn. Measured
    2026-11-29, two checkouts of the same speed (813k and 817k instructions a request):
    whichever ran first in every round got 0.87-0.90 of the other's requests per second."""
    items = list(running.items())
    k = r % len(items)
    return items[k:] + items[:k]


def _median(values) -> float:
    return statistics.median(values)


def throughput(running, script, args) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {name: [] for name in running}
    for r in range(args.rounds):
        for name, (_, port) in rotated(running, r):
            res = wrk(port, args.seconds, args.connections, script)
            results[name].append(res)
            print(f"round {r + 1} {name:<20} {res['rps']:8.0f} req/s  p50 {res['p50']:6.2f} ms"
                  f"  p99 {res['p99']:6.2f} ms", flush=True)
    print(f"throughput, {args.connections} connections, median of {args.rounds} rounds:")
    for name, runs in results.items():
        print(f"  {name:<20} {_median(x['rps'] for x in runs):8.0f} req/s  p99 "
              f"{_median(x['p99'] for x in runs):6.2f} ms")

    def ratio(a: str, b: str, bar: str) -> None:
        if a in results and b in results:
            per = [x["rps"] / y["rps"] for x, y in zip(results[a], results[b], strict=True)]
            med = _median(x["rps"] for x in results[a]) / _median(x["rps"] for x in results[b])
            print(f"  {a} / {b}: {med:.2f} (medians); per round "
                  f"{', '.join(f'{x:.2f}' for x in per)}, median {_median(per):.2f}  [{bar}]")

    ratio("granian riskmodel", "gunicorn riskmodel", "bar ≥ 1.4")
    ratio("granian riskmodel", "granian echo", "bar ≥ 0.60")
    ratio("gunicorn riskmodel", "gunicorn echo", "before: 0.72-0.80")
    ratio("granian echo", "gunicorn echo", "the servers' own ceilings")
    ratio("granian riskmodel", "granian no-predlog", "prediction log on/off, bar ≥ 0.80")
    ratio("granian riskmodel", "baseline riskmodel", "this checkout / the baseline")
    ratio("gunicorn riskmodel", "baseline riskmodel", "this checkout / the baseline")
    return results


def scheduling(proc: subprocess.Popen, policy: str) -> None:
    """Every thread of every process of the server's session on ``policy``: ``-f`` FIFO at
    priority 20, ``-o`` the default."""
    sid = os.getsid(proc.pid)
    pids = subprocess.run(["pgrep", "-s", str(sid)], capture_output=True,
                          text=True).stdout.split()
    for pid in pids:
        subprocess.run(["chrt", "-a", policy, "-p", "20" if policy == "-f" else "0", pid],
                       capture_output=True, check=False)


def one_client(running, script, args) -> None:
    results: dict[str, list[dict]] = {name: [] for name in running}
    prefix: tuple[str, ...] = ()
    if args.realtime:  # the tail of one client is what a busy neighbour hits first
        if os.geteuid() != 0 or not shutil.which("chrt"):
            raise SystemExit("--realtime needs root and chrt (util-linux)")
        for proc, _ in running.values():
            scheduling(proc, "-f")
        prefix = ("chrt", "-f", "30")
        print("one client on SCHED_FIFO (servers 20, wrk 30)")
    try:
        _one_client_rounds(running, script, args, results, prefix)
    finally:
        if args.realtime:
            for proc, _ in running.values():
                scheduling(proc, "-o")


def _one_client_rounds(running, script, args, results, prefix) -> None:
    for r in range(args.rounds):
        for name, (_, port) in rotated(running, r):
            res = wrk(port, args.seconds, 1, script, threads=1, prefix=prefix)
            results[name].append(res)
            print(f"one client, round {r + 1} {name:<20} p50 {res['p50']:5.2f} ms  "
                  f"p99 {res['p99']:5.2f} ms  ({res['rps']:.0f} req/s)", flush=True)
    print(f"one client, median of {args.rounds} rounds (bars for granian riskmodel: "
          "p50 ≤ 0.5 ms, p99 ≤ 1.5 ms):")
    for name, runs in results.items():
        print(f"  {name:<20} p50 {_median(x['p50'] for x in runs):5.2f} ms  "
              f"p99 {_median(x['p99'] for x in runs):5.2f} ms")


def _slow_client(port: int, body: bool, stop_at: float, opened: list) -> None:
    """Send a request a byte a second until ``stop_at``, then hang up: its head, or (head
    sent whole) its body."""
    head = (b"POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nX-Padding: %s\r\n\r\n" % (len(BODY), b"p" * 64))
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return
    with s:
        opened.append(s)
        try:
            if body:
                s.sendall(head)
            for byte in BODY if body else head:
                if time.monotonic() >= stop_at:
                    break
                s.send(bytes([byte]))
                time.sleep(1.0)
        except OSError:
            return


def slow_clients(running, args, seconds: float = 12.0, clients: int = 16) -> None:
    """Ordinary requests, one after another (0.2 s apart), while ``clients`` connections
    send a byte a second for ``seconds``; a request still unanswered 10 s after the window
    counts as unanswered."""
    for name, (_, port) in running.items():
        stop_at = time.monotonic() + seconds
        opened: list[socket.socket] = []
        slow = [threading.Thread(target=_slow_client, args=(port, i % 2 == 1, stop_at, opened),
                                 daemon=True) for i in range(clients)]
        for t in slow:
            t.start()
        time.sleep(1.0)  # every slow client connected and started
        times, failed, waited = [], 0, 0.0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port,
                                              timeout=max(1.0, stop_at - time.monotonic() + 10))
            try:
                conn.request("POST", "/v1/score", BODY, {"Content-Type": "application/json"})
                ok = conn.getresponse().status == 200
            except OSError:
                ok = False
            finally:
                conn.close()
            elapsed = (time.perf_counter() - started) * 1000
            if ok:
                times.append(elapsed)
            else:
                failed += 1
                waited = max(waited, elapsed / 1000)
            time.sleep(max(0.0, 0.2 - elapsed / 1000))
        for t in slow:
            t.join(timeout=15)
        times.sort()
        line = (f"slow clients ({clients}, a byte a second, {seconds:.0f} s) {name:<20} "
                f"{len(times)} of {len(times) + failed} answered")
        if times:
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            line += (f"; p50 {_median(times):.1f} ms, p99 {p99:.1f} ms, slowest "
                     f"{times[-1]:.1f} ms")
        if failed:
            line += f"; unanswered after up to {waited:.1f} s"
        print(line, flush=True)
        time.sleep(2.0)  # the server settles (closed slow connections) before the next


LANGUAGES = {"English (no header)": None, "English (en-US)": "en-US,en;q=0.9",
             "Chinese (zh-CN)": "zh-CN,zh;q=0.9,en;q=0.8"}


def languages(running, args) -> None:
    """The same campaign answered in English and in Chinese by one server, interleaved."""
    _, port = running["granian riskmodel"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-lang-"))
    try:
        scripts = {name: write_script(tmp, lang, f"post-{i}.lua")
                   for i, (name, lang) in enumerate(LANGUAGES.items())}
        for lang in LANGUAGES.values():  # each answers in its language, before counting
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/score", BODY,
                                         {"Content-Type": "application/json",
                                          **({"Accept-Language": lang} if lang else {})})
            with urllib.request.urlopen(req, timeout=5) as r:
                print(f"  {lang or '(no header)'}: Content-Language "
                      f"{r.headers['Content-Language']}")
        results: dict[str, list[dict]] = {name: [] for name in LANGUAGES}
        for r in range(args.rounds):
            for name, script in scripts.items():
                res = wrk(port, args.seconds, args.connections, script)
                results[name].append(res)
                print(f"languages, round {r + 1} {name:<20} {res['rps']:8.0f} req/s  "
                      f"p50 {res['p50']:6.2f} ms  p99 {res['p99']:6.2f} ms", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"languages, {args.connections} connections, median of {args.rounds} rounds:")
    for name, runs in results.items():
        print(f"  {name:<20} {_median(x['rps'] for x in runs):8.0f} req/s  p99 "
              f"{_median(x['p99'] for x in runs):6.2f} ms")
    zh = results["Chinese (zh-CN)"]
    for base in ("English (no header)", "English (en-US)"):
        per = [x["rps"] / y["rps"] for x, y in zip(zh, results[base], strict=True)]
        med = _median(x["rps"] for x in zh) / _median(x["rps"] for x in results[base])
        print(f"  Chinese / {base}: {med:.3f} (medians); per round "
              f"{', '.join(f'{x:.3f}' for x in per)}, median {_median(per):.3f}  [bar ≥ 0.95]")


def cold_start(args, launches: int = 5) -> None:
    """Launch to the first /readyz 200 of our app, granian and gunicorn in turn."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-cold-"))
    times: dict[str, list[float]] = {"granian riskmodel": [], "gunicorn riskmodel": []}
    try:
        for r in range(launches):
            for name in times:
                started = time.perf_counter()
                proc, port = launch(name, tmp)
                try:
                    wait_ready(port)
                    times[name].append(time.perf_counter() - started)
                finally:
                    stop(proc)
                print(f"cold start, launch {r + 1} {name:<20} {times[name][-1]:.2f} s",
                      flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    g, u = (_median(times[k]) for k in times)
    print(f"cold start, median of {launches}: granian {g:.2f} s, gunicorn {u:.2f} s; "
          f"granian / gunicorn {g / u:.2f}  [bar: ≤ 1.0]")


def main() -> None:
    args = arguments(rounds=5)
    only = set(args.only or ["throughput", "one-client", "slow-clients", "cold-start",
                             "languages"])
    if args.baseline:
        server = args.baseline_server
        SERVERS["baseline riskmodel"] = (server, "riskmodel",
                                         {"cwd": str(args.baseline.resolve())})
        own = args.baseline.resolve() / ".venv" / "bin" / "python"
        print(f"baseline {args.baseline.resolve()} on "
              f"{own if own.exists() else sys.executable + ' (it has no .venv)'}")
        names = [f"{server} riskmodel", "baseline riskmodel"]
        with servers(names) as (script, running):
            if "throughput" in only:
                throughput(running, script, args)
            if "one-client" in only:
                one_client(running, script, args)
        return
    if only - {"cold-start"}:
        names = list(SERVERS) if only - {"cold-start", "languages"} else ["granian riskmodel"]
        with servers(names) as (script, running):
            if "throughput" in only:
                throughput(running, script, args)
            mine = {k: v for k, v in running.items() if k != "granian no-predlog"}
            if "one-client" in only:  # with the log off too: what the log costs the tail
                one_client(running, script, args)
            if "slow-clients" in only:
                slow_clients(mine, args)
            if "languages" in only:
                languages(running, args)
    if "cold-start" in only:
        cold_start(args)


if __name__ == "__main__":
    main()

"""Instructions per request in a granian worker, counted by callgrind: the Flask echo, our
app, and our app without the prediction log; with ``--apps riskmodel en-US zh-CN``, our app
asked without a language, in English and in Chinese (``Accept-Language``).

    python benchmarks/bench_service_instructions.py [--requests 300] [--apps ...]

valgrind's callgrind counts the instructions a process executes in user space (Python,
Flask, our code, granian's Rust), not seconds: the count repeats within about a percent
whatever else this shared machine is doing, so it shows a change of a few percent that
requests per second here cannot (work in the kernel, system calls, is not counted). Each
server runs as `service/server.py` runs it, with one worker, under `valgrind
--tool=callgrind --trace-children=yes --instr-atstart=no`; after 100 warm-up requests and a
pause (the prediction log's first write opens the store), counting is switched on
(`callgrind_control -i on`) for ``--requests`` requests on one keep-alive connection, then
off, and the worker's counts are dumped. Needs valgrind (Debian package `valgrind`); takes
a minute or two per server.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_service import BENCH, BODY, ROOT, free_port

SERVE = ("import os\nfrom riskmodel import settings\nfrom service.server import serve\n"
         "serve(settings(os.environ), {target})\n")
APPS = {
    "echo": ("'echo_app:app', factory=False", {}),
    "riskmodel": ("'service:create_app'", {}),
    "no-predlog": ("'service:create_app'", {"RISKMODEL_LOG_PREDICTIONS": "false"}),
    # our app, asked in English and in Chinese by header (docs/i18n.md)
    "en-US": ("'service:create_app'", {}),
    "zh-CN": ("'service:create_app'", {}),
}
HEADERS = {"en-US": {"Accept-Language": "en-US,en;q=0.9"},
           "zh-CN": {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}}


def _requests(port: int, n: int, headers: dict | None = None) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(n):
        conn.request("POST", "/v1/score", BODY,
                     {"Content-Type": "application/json", **(headers or {})})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"status {r.status} on port {port}")
    conn.close()


def _ready(port: int, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            _requests(port, 1)
            return
        time.sleep(1)
    raise SystemExit("the server under valgrind was not ready in time")


def count(app: str, n: int, tmp: Path) -> int:
    """Instructions the worker executed for ``n`` requests to ``app``."""
    target, extra = APPS[app]
    port = free_port()
    out = tmp / f"{app}.callgrind"
    env = dict(os.environ, PYTHONPATH=str(BENCH), RISKMODEL_WORKERS="1",
               RISKMODEL_BIND=f"127.0.0.1:{port}", RISKMODEL_LOG_LEVEL="INFO",
               RISKMODEL_DATA_DIR=str(tmp / f"var-{app}"), **extra)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--trace-children=yes",
                             "--instr-atstart=no", f"--callgrind-out-file={out}.%p",
                             sys.executable, "-c", SERVE.format(target=target)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _ready(port, proc)
        [worker] = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        _requests(port, 100, HEADERS.get(app))
        time.sleep(4)  # the prediction log's first write (it opens the store) is behind us
        subprocess.run(["callgrind_control", "-i", "on", worker], capture_output=True)
        _requests(port, n, HEADERS.get(app))
        subprocess.run(["callgrind_control", "-i", "off", worker], capture_output=True)
        subprocess.run(["callgrind_control", "-d", worker], capture_output=True)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=120)
    dump = max(tmp.glob(f"{app}.callgrind.{worker}*"), key=lambda p: p.stat().st_size)
    totals = subprocess.run(["callgrind_annotate", str(dump)], capture_output=True,
                            text=True).stdout
    return int(re.search(r"([\d,]+) \([\d.]+%\)\s+PROGRAM TOTALS", totals)
               .group(1).replace(",", ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--apps", nargs="+", default=["echo", "riskmodel", "no-predlog"],
                    choices=list(APPS))
    args = ap.parse_args()
    if not shutil.which("callgrind_control"):
        raise SystemExit("valgrind is not installed: apt-get install valgrind")
    tmp = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    try:
        per = {}
        for app in args.apps:
            per[app] = count(app, args.requests, tmp) / args.requests
            print(f"{app:<12} {per[app]:11,.0f} instructions per request "
                  f"({args.requests} requests, one granian worker)", flush=True)
        if "echo" in per:
            for app in per.keys() - {"echo"}:
                print(f"{app} / echo: {per[app] / per['echo']:.2f}")
        for english in ("riskmodel", "en-US"):
            if "zh-CN" in per and english in per:
                print(f"zh-CN / {english}: {per['zh-CN'] / per[english]:.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Start-up in instructions: what ``riskmodel serve`` and the echo on granian execute up to
the fork of their workers, counted by valgrind's callgrind.

Wall times on this machine change by a factor of two within minutes; instruction counts
do not (the same count run after run, whatever else the machine is doing). granian's
``serve`` is replaced by a stand-in that exits where the real one would fork, so the
count is the main process's whole start: Python, the command line, granian, Flask, and
for ours numpy, Babel, prometheus-client, the model and the app.

With ``--baseline DIR`` (another checkout with its own ``.venv``), its ``riskmodel serve``
is counted too. Needs valgrind (``apt-get install valgrind``); each count takes about 20 s.

    .venv/bin/python benchmarks/bench_start_instructions.py
    .venv/bin/python benchmarks/bench_start_instructions.py --baseline /work/base
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# granian's serve replaced by an exit where it would fork the workers
STAND_IN = ("import sys, granian\n"
            "def _fork_here(self, *args, **kwargs):\n"
            "    raise SystemExit(0)\n"
            "granian.Granian.serve = _fork_here\n")
SERVE = STAND_IN + "from commands.main import main\nmain(['serve'])\n"
ECHO = STAND_IN + ("import os\nfrom riskmodel import settings\nfrom service.server import serve\n"
                   "serve(settings(os.environ), 'echo_app:app', factory=False)\n")


def count(python: str, code: str, root: Path, tmp: Path) -> int:
    """Instructions ``python -c code`` executes, run in checkout ``root``."""
    env = dict(os.environ, PYTHONPATH=str(BENCH), RISKMODEL_ARTIFACTS=str(root / "artifacts"),
               RISKMODEL_DATA_DIR=str(tmp / root.name), RISKMODEL_LOG_LEVEL="ERROR",
               RISKMODEL_WORKERS="2")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          python, "-c", code], cwd=root, env=env, capture_output=True,
                         text=True, check=False)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or not found:
        raise SystemExit(f"{python} in {root} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return int(found[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout (with its .venv) counted too")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install valgrind)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-start-instr-"))
    try:
        serve = count(sys.executable, SERVE, ROOT, tmp)
        echo = count(sys.executable, ECHO, ROOT, tmp)
        print(f"riskmodel serve, to the fork   {serve / 1e6:8,.1f} M instructions")
        print(f"echo on granian, to the fork   {echo / 1e6:8,.1f} M instructions")
        print(f"serve / echo                   {serve / echo:8.2f}")
        print(f"serve - echo                   {(serve - echo) / 1e6:8,.1f} M")
        if args.baseline:
            base = args.baseline.resolve()
            python = base / ".venv" / "bin" / "python"
            if not python.exists():
                parser.error(f"{python} does not exist: make the baseline's venv first")
            before = count(str(python), SERVE, base, tmp)
            print(f"baseline serve, to the fork    {before / 1e6:8,.1f} M instructions"
                  f"   ours / baseline {serve / before:.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

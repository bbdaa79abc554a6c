"""One `riskmodel serve` replica handled the way a service manager handles it: started from
its saved command and environment, stopped with SIGTERM to its main process (systemd's
KillMode=mixed), restarted. tests/test_deploy_nginx.py uses it, and gives it to
deploy/rolling-restart as the restart command in place of `systemctl restart`:

    python tests/replica_manager.py start|stop|restart STATE

``STATE`` holds ``replica.json`` (``argv``, ``env``), ``replica.log`` (its stderr) and, while
it runs, ``replica.pid``.
Standard library only: it starts in a few tens of milliseconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def pid_of(state: Path) -> int | None:
    try:
        return int((state / "replica.pid").read_text())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not reaped by its new parent, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def start(state: Path) -> int:
    """Start the replica in a session of its own; its pid."""
    spec = json.loads((state / "replica.json").read_text())
    with open(state / "replica.log", "ab") as log:  # its stderr, for a test that fails
        proc = subprocess.Popen(spec["argv"], env=spec["env"], stdout=subprocess.DEVNULL,
                                stderr=log, start_new_session=True)
    (state / "replica.pid").write_text(str(proc.pid))
    return proc.pid


def stop(state: Path, sig: int = signal.SIGTERM, group: bool = False,
         timeout: float = 30) -> None:
    """``sig`` to the main process (``group``: to all of the replica's processes); wait
    until it has exited, SIGKILL to the group after ``timeout`` seconds."""
    pid = pid_of(state)
    if pid is None:
        return
    try:
        os.killpg(pid, sig) if group else os.kill(pid, sig)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
        time.sleep(0.05)
    (state / "replica.pid").unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop", "restart"):
        print(__doc__, file=sys.stderr)
        return 2
    command, state = argv[0], Path(argv[1])
    if command in ("stop", "restart"):
        stop(state)
    if command in ("start", "restart"):
        start(state)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Scoring chunks in worker processes (batch/workers.py): failures, kills, interrupts."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from riskmodel import SCHEMA, RiskModelError


def _alive(pid: int) -> bool:
    """Running or sleeping: not gone, and not a zombie nobody has reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads worker processes from /proc")
def test_workers_end_when_the_main_process_is_killed(trained, tmp_path):
    """SIGKILL leaves no chance to stop the workers: each must see its pipe close and exit,
    not wait forever (it used to, holding the main process's end of its own pipe)."""
    from training.synthetic import generate

    root, _ = trained
    src = tmp_path / "big.csv"
    generate(300_000, seed=4)[list(SCHEMA.names)].to_csv(src, index=False)
    proc = subprocess.Popen([sys.executable, "-m", "commands", "score", "--artifacts",
                             str(root), "--in", str(src), "--out", str(tmp_path / "o.csv"),
                             "--workers", "3"], stderr=subprocess.DEVNULL, cwd=tmp_path)
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while len(workers) < 3 and time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError):
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                workers = [int(p) for p in f.read().split()]
        time.sleep(0.02)
    assert len(workers) == 3, "the workers never started"
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [w for w in workers if _alive(w)]
    for w in left:  # do not leave them behind, whatever the outcome
        os.kill(w, signal.SIGKILL)
    assert left == []


def test_a_failing_worker_stops_the_run_and_leaves_nothing(scorer, plans_csv, tmp_path,
                                                           monkeypatch):
    import batch
    import batch.parts as parts

    real = parts.score_chunk

    def broken(scorer, df, top_k):
        if (df["campaign_id"] == pd.read_csv(plans_csv)["campaign_id"][250]).any():
            raise ZeroDivisionError("a bug")
        return real(scorer, df, top_k)

    monkeypatch.setattr(parts, "score_chunk", broken)  # the forked workers inherit it
    out = tmp_path / "o.csv"
    with pytest.raises(ZeroDivisionError) as info:
        batch.score_file(plans_csv, out, scorer, workers=2, chunk_rows=50, progress=False)
    assert "in a scoring worker" in "".join(getattr(info.value, "__notes__", []))
    assert list(tmp_path.iterdir()) == []


def test_a_worker_killed_mid_run_is_an_error_and_leaves_nothing(scorer, plans_csv, tmp_path,
                                                                monkeypatch):
    import batch
    import batch.parts as parts

    real = parts.score_chunk

    def dies(scorer, df, top_k):
        if (df["campaign_id"] == pd.read_csv(plans_csv)["campaign_id"][250]).any():
            os.kill(os.getpid(), signal.SIGKILL)
        return real(scorer, df, top_k)

    monkeypatch.setattr(parts, "score_chunk", dies)
    with pytest.raises(RiskModelError, match=r"stopped unexpectedly \(exit code -9\)"):
        batch.score_file(plans_csv, tmp_path / "o.csv", scorer, workers=2, chunk_rows=50,
                         progress=False)
    assert list(tmp_path.iterdir()) == []


def test_formatted_rows_survive_an_empty_first_batch(tmp_path):
    """A table whose first batch is empty (a block whose rows were all rejected) is
    written as its rows: pyarrow's write_csv without a header wrote uninitialised memory."""
    import pyarrow as pa

    from batch.workers import _write_rows

    table = pa.table({"a": pa.chunked_array([pa.array([], pa.string()), pa.array(["x1", "x2"])]),
                      "b": pa.chunked_array([pa.array([], pa.string()), pa.array(["y", "z"])])})
    _write_rows(table, str(tmp_path / "part.csv"))
    assert (tmp_path / "part.csv").read_bytes() == b'"x1","y"\n"x2","z"\n'

"""Batch scoring on Dask (batch/dask_engine.py): the same output as the one-process engine,
row for row, for any number of workers; a killed worker; a real cluster by its address."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")  # the dask extra; `make test` installs it

from batch import score_file  # noqa: E402
from batch.dask_engine import score_file_dask, stop_cluster  # noqa: E402
from commands.main import main  # noqa: E402
from riskmodel import RiskModelError, SchemaError  # noqa: E402


def _awkward_plans(plans_csv, path):
    """The plans with invalid rows spread through the file, a campaign id holding a quoted
    line break (invalid, and a trap for splitting the file) and one holding a comma and
    quotes (valid)."""
    df = pd.read_csv(plans_csv, dtype=str, keep_default_na=False)
    df.loc[3, "marketplace"] = "Atlantis"
    df.loc[150, "goal_alignment_score"] = "lots"
    df.loc[151, "campaign_id"] = "two\nlines"
    df.loc[152, "campaign_id"] = 'say "hi", twice'
    df.loc[399, "duration_days"] = "-4"
    df.to_csv(path, index=False)
    return path


def _run(engine, src, out, scorer, **kw):
    summary = engine(src, out, scorer, progress=False, **kw)
    return summary


def _same_summary(a, b):
    assert (a.scored, a.rejected_rows, a.problems) == (b.scored, b.rejected_rows, b.problems)
    assert a.bands == b.bands and a.leading_families == b.leading_families
    assert a.riskiest == b.riskiest
    assert a.risk_by_type.keys() == b.risk_by_type.keys()
    for label, (total, count) in a.risk_by_type.items():
        assert b.risk_by_type[label][1] == count
        assert b.risk_by_type[label][0] == pytest.approx(total, rel=1e-12)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_dask_writes_what_the_one_process_engine_writes(kind, scorer, plans_csv, tmp_path):
    """Row for row, for 1 and 2 workers and partitions that cut the file anywhere; the
    rejects file byte for byte (its row numbers are the file's)."""
    src = _awkward_plans(plans_csv, tmp_path / "plans.csv")
    local = _run(score_file, src, tmp_path / f"local.{kind}", scorer, workers=1)
    assert (local.scored, local.rejected_rows) == (396, 4)
    expected_rejects = local.rejects_path.read_bytes()
    for workers, chunk_rows in ((1, 100_000), (2, 37), (2, 11)):
        out = tmp_path / f"dask-{workers}-{chunk_rows}.{kind}"
        got = _run(score_file_dask, src, out, scorer, workers=workers, chunk_rows=chunk_rows)
        if kind == "csv":
            assert out.read_bytes() == (tmp_path / "local.csv").read_bytes()
        else:
            pd.testing.assert_frame_equal(pd.read_parquet(out),
                                          pd.read_parquet(tmp_path / "local.parquet"))
        assert got.rejects_path.read_bytes() == expected_rejects
        _same_summary(local, got)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_rejects_are_in_the_scorers_language(scorer, plans_csv, tmp_path):
    """`--lang zh-CN`: the rejects file's reasons in Chinese, as the one-process engine
    writes them (the Dask engine wrote English)."""
    src = _awkward_plans(plans_csv, tmp_path / "plans.csv")
    zh = scorer.with_locale("zh_CN")
    local = _run(score_file, src, tmp_path / "local.csv", zh, workers=1)
    got = _run(score_file_dask, src, tmp_path / "dask.csv", zh, workers=1, chunk_rows=100)
    text = got.rejects_path.read_text(encoding="utf-8")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert got.rejects_path.read_bytes() == local.rejects_path.read_bytes()


def test_parquet_in_and_a_parquet_dataset_out(scorer, plans_csv, tmp_path):
    """Parquet input (one file, or a folder of files given as a file:// URL) scores like
    the CSV; a folder output is a dataset of one file per partition, the same rows."""
    src = _awkward_plans(plans_csv, tmp_path / "plans.csv")
    plans = pd.read_csv(src, dtype=str, keep_default_na=False)
    plans.to_parquet(tmp_path / "plans.parquet", row_group_size=50)
    (tmp_path / "in").mkdir()
    for i, start in enumerate(range(0, 400, 150)):
        plans.iloc[start:start + 150].to_parquet(tmp_path / "in" / f"p{i}.parquet",
                                                 index=False)
    _run(score_file, tmp_path / "plans.parquet", tmp_path / "local.csv", scorer, workers=1)
    expected = (tmp_path / "local.csv").read_bytes()
    _run(score_file_dask, str(tmp_path / "plans.parquet"), tmp_path / "a.csv", scorer,
         workers=2, chunk_rows=120)
    assert (tmp_path / "a.csv").read_bytes() == expected
    _run(score_file_dask, f"file://{tmp_path / 'in'}", tmp_path / "b.csv", scorer,
         workers=2, chunk_rows=60)
    assert (tmp_path / "b.csv").read_bytes() == expected
    _run(score_file, src, tmp_path / "local.parquet", scorer, workers=1)
    summary = _run(score_file_dask, src, f"{tmp_path / 'scored'}/", scorer, workers=2,
                   chunk_rows=100)
    parts = sorted(p.name for p in (tmp_path / "scored").iterdir())
    assert len(parts) > 1 and parts == [f"part.{i:05d}.parquet" for i in range(len(parts))]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "scored"),
                                  pd.read_parquet(tmp_path / "local.parquet"))
    assert summary.rejects_path == tmp_path / "scored.rejects.csv"


def test_the_command_on_dask(runner, trained, plans_csv, tmp_path):
    """`--engine dask` end to end: the same file, rejects, summary lines and report."""
    root, _ = trained
    src = _awkward_plans(plans_csv, tmp_path / "plans.csv")
    args = ["score", "--artifacts", str(root), "--in", str(src)]
    local = runner.invoke(main, [*args, "--out", str(tmp_path / "l.csv"), "--workers", "1"])
    dask = runner.invoke(main, [*args, "--out", str(tmp_path / "d.csv"), "--engine", "dask",
                                "--workers", "2", "--report", str(tmp_path / "r.html")])
    assert local.exit_code == dask.exit_code == 3, dask.output
    assert (tmp_path / "d.csv").read_bytes() == (tmp_path / "l.csv").read_bytes()
    assert (tmp_path / "d.rejects.csv").read_bytes() == (tmp_path / "l.rejects.csv").read_bytes()
    assert dask.output.replace("d.rejects", "l.rejects").splitlines()[:-1] == \
        local.output.splitlines()
    assert "<html" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("args, message", [
    (["--engine", "local", "--scheduler", "tcp://127.0.0.1:1"], "goes with --engine dask"),
    (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "has the workers it has"),
    (["--engine", "local", "--workers", "2"], "runs a local Dask cluster"),
], ids=["scheduler-without-dask", "workers-and-scheduler", "local-with-workers"])
def test_options_that_do_not_go_together(runner, trained, plans_csv, tmp_path, args, message):
    root, _ = trained
    res = runner.invoke(main, ["score", "--artifacts", str(root), "--in", str(plans_csv),
                               "--out", str(tmp_path / "o.csv"), *args])
    assert res.exit_code == 2 and message in res.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["--engine", "dask"], ["--workers", "2"]],
                         ids=["engine-dask", "workers-2"])
def test_without_the_extra_the_message_says_what_to_install(runner, trained, plans_csv,
                                                            tmp_path, monkeypatch, args):
    """`--workers N > 1` runs on Dask: without the extra it is one clear error, not a
    quiet fall back to one process."""
    root, _ = trained
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    res = runner.invoke(main, ["score", "--artifacts", str(root), "--in", str(plans_csv),
                               "--out", str(tmp_path / "o.csv"), *args])
    assert res.exit_code == 2
    assert "pip install 'riskmodel[dask]'" in res.output
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RiskModelError, match=r"pip install 'riskmodel\[dask\]'"):
        score_file(plans_csv, tmp_path / "o.csv", None, workers=2)  # the Python API too
    assert list(tmp_path.iterdir()) == []


def test_workers_above_one_run_on_dask(runner, trained, plans_csv, tmp_path, monkeypatch):
    """`--workers 2` without `--engine` is the Dask engine (there is no other pool)."""
    import batch.dask_engine as engine

    root, _ = trained
    calls = []
    real = engine.score_file_dask
    monkeypatch.setattr(engine, "score_file_dask",
                        lambda *a, **kw: calls.append(kw["workers"]) or real(*a, **kw))
    args = ["score", "--artifacts", str(root), "--in", str(plans_csv)]
    one = runner.invoke(main, [*args, "--out", str(tmp_path / "1.csv"), "--workers", "1"])
    two = runner.invoke(main, [*args, "--out", str(tmp_path / "2.csv"), "--workers", "2"])
    assert one.exit_code == two.exit_code == 0, two.output
    assert calls == [2]
    assert (tmp_path / "2.csv").read_bytes() == (tmp_path / "1.csv").read_bytes()


def test_strict_header_only_and_missing_columns(scorer, plans_csv, tmp_path):
    src = _awkward_plans(plans_csv, tmp_path / "plans.csv")
    with pytest.raises(SchemaError) as info:
        score_file_dask(src, tmp_path / "o.csv", scorer, strict=True, workers=1,
                        chunk_rows=100, progress=False)
    rows = sorted(e.row for e in info.value.errors)
    assert rows[0] == 4 and rows[-1] == 400  # the file's row numbers, not a partition's
    head = tmp_path / "head.csv"
    head.write_text(plans_csv.read_text().splitlines()[0] + "\n")
    with pytest.raises(RiskModelError, match="has a header but no campaigns"):
        score_file_dask(head, tmp_path / "o.csv", scorer, workers=1, progress=False)
    narrow = tmp_path / "narrow.csv"
    pd.read_csv(plans_csv).drop(columns=["resource_value_usd"]).to_csv(narrow, index=False)
    with pytest.raises(SchemaError, match="resource_value_usd"):
        score_file_dask(narrow, tmp_path / "o.csv", scorer, workers=1, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.csv", "narrow.csv",
                                                          "plans.csv"]


class _Dies:
    """A scorer whose worker process is killed (SIGKILL) when it scores ``campaign``;
    only the first time when ``marker`` is given (the file records it happened)."""

    def __init__(self, scorer, campaign: str, marker: str | None) -> None:
        self.scorer, self.campaign, self.marker = scorer, campaign, marker

    def __getattr__(self, name):
        if name == "scorer":
            raise AttributeError(name)
        return getattr(self.scorer, name)

    def explain_batch(self, batch, top_k):
        if np.any(np.asarray(batch["campaign_id"]) == self.campaign):
            if self.marker is None or not os.path.exists(self.marker):
                if self.marker is not None:
                    open(self.marker, "x").close()
                os.kill(os.getpid(), signal.SIGKILL)
        return self.scorer.explain_batch(batch, top_k)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_killed_worker_is_replaced_and_the_output_is_the_same(kind, scorer, plans_csv,
                                                                 tmp_path):
    src = _awkward_plans(plans_csv, tmp_path / "plans.csv")
    _run(score_file, src, tmp_path / f"local.{kind}", scorer, workers=1)
    campaign = pd.read_csv(plans_csv)["campaign_id"][250]
    marker = tmp_path / "killed"
    out = tmp_path / f"dask.{kind}"
    _run(score_file_dask, src, out, _Dies(scorer, campaign, str(marker)), workers=2,
         chunk_rows=50)
    assert marker.exists()  # a worker did die
    if kind == "csv":
        assert out.read_bytes() == (tmp_path / "local.csv").read_bytes()
    else:
        pd.testing.assert_frame_equal(pd.read_parquet(out),
                                      pd.read_parquet(tmp_path / "local.parquet"))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


class _Fails(_Dies):
    """A scorer with a bug that shows on one campaign."""

    def explain_batch(self, batch, top_k):
        if np.any(np.asarray(batch["campaign_id"]) == self.campaign):
            raise ZeroDivisionError("a bug")
        return self.scorer.explain_batch(batch, top_k)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_failing_partition_stops_the_run_and_leaves_nothing(kind, scorer, plans_csv,
                                                              tmp_path):
    campaign = pd.read_csv(plans_csv)["campaign_id"][250]
    (tmp_path / "out").mkdir()
    with pytest.raises(ZeroDivisionError, match="a bug"):
        score_file_dask(plans_csv, tmp_path / "out" / f"o.{kind}",
                        _Fails(scorer, campaign, None), workers=2, chunk_rows=50,
                        progress=False)
    assert list((tmp_path / "out").iterdir()) == []


def test_formatted_rows_survive_an_empty_first_batch(tmp_path):
    """A table whose first batch is empty (a block whose rows were all rejected) is
    written as its rows: pyarrow's write_csv without a header wrote uninitialised memory."""
    import pyarrow as pa

    from batch.dask_engine import _write_rows

    table = pa.table({"a": pa.chunked_array([pa.array([], pa.string()), pa.array(["x1", "x2"])]),
                      "b": pa.chunked_array([pa.array([], pa.string()), pa.array(["y", "z"])])})
    _write_rows(table, str(tmp_path / "part.csv"))
    assert (tmp_path / "part.csv").read_bytes() == b'"x1","y"\n"x2","z"\n'


def test_a_partition_that_keeps_killing_workers_is_a_clear_error(scorer, plans_csv,
                                                                 tmp_path):
    import dask

    campaign = pd.read_csv(plans_csv)["campaign_id"][250]
    (tmp_path / "out").mkdir()
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with pytest.raises(RiskModelError, match=r"partition \d+ of \d+ died 2 time\(s\)"):
            score_file_dask(plans_csv, tmp_path / "out" / "o.csv", _Dies(scorer, campaign,
                                                                         None),
                            workers=2, chunk_rows=50, progress=False)
    assert list((tmp_path / "out").iterdir()) == []


class _StuckCluster:
    """A local cluster whose close waits for ever on a worker that does not exit (as
    distributed's can), until that worker is killed."""

    def __init__(self, worker):
        self.worker, self.closes = worker, []
        self.workers = {0: type("Nanny", (), {"pid": worker.pid})(), 1: type("Nanny", (), {
            "pid": None})()}  # a nanny whose worker is gone

    def close(self, timeout=None):
        self.closes.append(timeout)
        try:
            self.worker.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError from None


def test_a_cluster_that_does_not_stop_has_its_workers_killed():
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        cluster = _StuckCluster(worker)
        stop_cluster(cluster, timeout=0.5)
        assert worker.poll() == -signal.SIGKILL and cluster.closes == [0.5, 0.5]
    finally:
        worker.kill()
        worker.wait()


def test_a_running_cluster_by_its_address(scorer, plans_csv, tmp_path):
    """`--scheduler ADDRESS`: a cluster started apart is used as it is, and left running."""
    from distributed import Client, LocalCluster

    src = _awkward_plans(plans_csv, tmp_path / "plans.csv")
    _run(score_file, src, tmp_path / "local.csv", scorer, workers=1)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                      dashboard_address="127.0.0.1:0") as cluster:
        _run(score_file_dask, src, tmp_path / "dask.csv", scorer,
             scheduler=cluster.scheduler_address, chunk_rows=80)
        with Client(cluster.scheduler_address) as client:  # still there
            assert len(client.scheduler_info()["workers"]) == 1
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(c) for c in f.read().split()]
                out += kids
                todo += kids
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def _start_big_run(trained, tmp_path):
    """A dask run of 200,000 plans, returned once its workers are writing part files."""
    import subprocess
    import time

    from riskmodel import SCHEMA
    from training.synthetic import generate

    root, _ = trained
    src = tmp_path / "big.csv"
    generate(200_000, seed=5)[list(SCHEMA.names)].to_csv(src, index=False)
    proc = subprocess.Popen([sys.executable, "-m", "commands", "score", "--artifacts",
                             str(root), "--in", str(src), "--out", str(tmp_path / "o.csv"),
                             "--engine", "dask", "--workers", "2"],
                            stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        parts = [p for p in tmp_path.glob(".riskmodel-parts-*/*.csv")]
        if parts and len(_descendants(proc.pid)) >= 2:
            return proc
        time.sleep(0.05)
    workers = _descendants(proc.pid)
    proc.kill()
    _end(proc, workers, 60)
    pytest.fail("the dask run never started writing")


def _end(proc, workers: list[int], within: float) -> tuple[bytes, list[int]]:
    """Wait for ``proc`` and then for its ``workers`` to exit, ``within`` seconds each;
    return its standard error and the workers left alive (killed, so none stays behind).

    Not ``proc.communicate``: the workers inherit the command's standard error, so its end
    comes only when every worker has exited, and a slow worker would fail the wait for the
    command instead of the check of the workers."""
    import threading
    import time

    err: list[bytes] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    reader.start()
    proc.wait(timeout=within)
    deadline = time.monotonic() + within
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    reader.join(timeout=10)
    proc.stderr.close()
    return (err[0] if err else b""), left


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads worker processes from /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupting_a_dask_run_leaves_nothing(sig, trained, tmp_path):
    proc = _start_big_run(trained, tmp_path)
    workers = _descendants(proc.pid)
    proc.send_signal(sig)
    err, left = _end(proc, workers, 60)
    assert proc.returncode == 130, err.decode()[-3000:]
    assert err.decode().strip().endswith("interrupted: no output was written"), \
        err.decode()[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]
    assert left == []


def _hold_parent_alive_pipes(proc, workers: list[int]) -> list[int]:
    """Open here the write end of each worker's parent-alive pipe (distributed's: the
    worker exits when it reads its end), as a worker forked after another's pipe was made
    holds it: then the command's death alone does not end that pipe."""
    def pipes(pid):
        ends: dict[str, set[str]] = {}
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                name = os.readlink(f"/proc/{pid}/fd/{fd}")
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    flags = int(f.read().split("flags:")[1].split()[0], 8)
            except (OSError, IndexError):
                continue
            if name.startswith("pipe:"):
                ends.setdefault(name, set()).add("w" if flags & os.O_WRONLY else "r")
        return ends

    read_only = set().union(*({p for p, e in pipes(w).items() if e == {"r"}} for w in workers))
    held = []
    for fd in os.listdir(f"/proc/{proc.pid}/fd"):
        try:
            name = os.readlink(f"/proc/{proc.pid}/fd/{fd}")
            if name in read_only:
                held.append(os.open(f"/proc/{proc.pid}/fd/{fd}", os.O_WRONLY))
        except OSError:
            pass
    return held


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads worker processes from /proc")
@pytest.mark.parametrize("held", [False, True], ids=["plain", "parent-pipes-held"])
def test_the_local_cluster_ends_when_the_command_is_killed(held, trained, tmp_path):
    """SIGKILL leaves the command no chance to stop its cluster: the workers must notice
    and exit by themselves, also when their parent-alive pipes are held open elsewhere (a
    worker forked just after another's pipe was made holds it: two such workers waited
    for each other for ever)."""
    proc = _start_big_run(trained, tmp_path)
    workers = _descendants(proc.pid)
    fds = _hold_parent_alive_pipes(proc, workers) if held else []
    try:
        assert len(fds) >= (len(workers) if held else 0)
        proc.kill()
        _, left = _end(proc, workers, 60)
    finally:
        for fd in fds:
            os.close(fd)
    assert left == []

"""Batch scoring on Dask: ``riskmodel score --engine dask``, and ``--workers N`` > 1.

The plan file is read as a Dask DataFrame (:mod:`batch.dask_read`); each partition is
scored by a Dask worker with the same function as the one-process engine
(:func:`batch.parts.score_part`: validation, ``Scorer.explain_batch``, the flat arrow
columns); this process puts the results together in input order, exactly as
:func:`batch.score_file` does: the rejects with their row numbers in the file, the summary,
the report. The output is the same, row for row, whatever the engine or the workers.

- CSV out: each worker formats its rows into a part file beside the output; the parts are
  appended in order to one file (by the kernel where it can).
- Parquet out, one file: each worker puts its scored table in an Arrow IPC file beside the
  output (fast to write; no copy through the cluster's connections); this process maps
  them and writes them in order to one Parquet file.
- Parquet out, a dataset (``--out`` ending in ``/`` or an existing folder): each worker
  writes its own ``part.NNNNN.parquet``.

The model goes to the cluster once, as a task of its own: a worker that needs it fetches it
from another, and if the only copy is lost with a worker, Dask makes it again. Without a
scheduler address a local cluster of worker processes starts (forked, so it starts in
about a second with the model and libraries already loaded); with one, the run uses that
cluster as it is, and the output's folder must be one its workers see at the same path.

A worker that dies mid-run is replaced and its partition scored again (part files are
written under a temporary name and renamed, so a half-written one is never used); if the
same partition kills workers more often than Dask allows
(``distributed.scheduler.allowed-failures``), the run stops with a clear error and nothing
under the output's names.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import secrets
import shutil
import signal
import sys
import tempfile
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from batch.cells import safe_table
from batch.chunks import CHUNK_ROWS, RecordError
from batch.columns import output_columns
from batch.dask_read import Source, as_table, open_source, plans_frame, read_table
from batch.outputs import Output, Rejects
from batch.parts import Part, score_part
from batch.summary import BatchSummary, progress_bar
from batch.workbook import is_workbook, score_via_workbook
from riskmodel import (
    FAMILIES,
    DataError,
    RiskModelError,
    SchemaError,
    missing_columns,
    validate_campaigns,
)

MISSING = ("--engine dask and --workers N > 1 run on Dask and its distributed scheduler: "
           "pip install 'riskmodel[dask]'")


def require_dask() -> None:
    """Raise one clear error when the ``dask`` extra is not installed."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as e:
        raise RiskModelError(f"{MISSING} ({e})") from None


@dataclass(frozen=True)
class Sink:
    """Where a worker puts its scored rows, in ``folder``: ``csv`` (a part file to append),
    ``arrow`` (an Arrow IPC file this process maps and writes to one Parquet file: no copy
    through the cluster's connections), ``dataset`` (a Parquet file of the dataset)."""

    kind: str
    folder: str | None = None


# ---------------------------------------------------------------- on the workers


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary-encoded text as plain strings, as :class:`batch.outputs.Output` writes
    Parquet."""
    schema = pa.schema([pa.field(f.name, f.type.value_type)
                        if pa.types.is_dictionary(f.type) else f for f in table.schema],
                       metadata=table.schema.metadata)
    return table.cast(schema)


def _put(folder: str, name: str, write) -> str:
    """Write a file by ``write(path)`` under a temporary name, then rename it to ``name``:
    a worker killed while writing leaves no half file under the real name."""
    path = os.path.join(folder, name)
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _write_rows(table: pa.Table, path: str) -> None:
    """The rows of ``table`` as CSV without a header. Empty record batches are left out:
    pyarrow 26's ``write_csv`` without a header writes garbage (uninitialised memory) for a
    table whose first batch is empty, as reading a record longer than pyarrow's block
    leaves it."""
    batches = [b for b in table.to_batches() if b.num_rows]
    pacsv.write_csv(pa.Table.from_batches(batches, schema=table.schema), path,
                    write_options=pacsv.WriteOptions(include_header=False))


def _write_ipc(table: pa.Table, path: str) -> None:
    with pa.OSFile(path, "wb") as f, pa.ipc.new_file(f, table.schema) as w:
        w.write_table(table)


def score_partition(df, index: int, scorer, source: Source, top_k: int, keep_scores: bool,
                    sink: Sink) -> Part:
    """Score partition ``index`` on a worker; what comes back is small unless the
    prediction log needs the rows."""
    table = as_table(df, source)
    part = score_part(scorer, table, table.to_pandas(), top_k, keep_scores)
    if isinstance(part.output, pa.Table) and sink.folder is not None:
        out = part.output
        if sink.kind == "csv":
            # text cells a spreadsheet shows, never runs (batch/cells.py)
            path = _put(sink.folder, f"{index:07d}.csv",
                        lambda p: _write_rows(safe_table(out), p))
            part.output = (out.schema, path)
        elif sink.kind == "arrow":
            part.output = _put(sink.folder, f"{index:07d}.arrow",
                               lambda p: _write_ipc(out, p))
        else:
            _put(sink.folder, f"part.{index:05d}.parquet",
                 lambda p: pq.write_table(_plain(out), p))
            part.output = out.schema
    return part


def check_partition(df, source: Source) -> tuple[int, list]:
    """``--strict``: the rows and the problems of one partition, nothing scored."""
    v = validate_campaigns(as_table(df, source).to_pandas())
    return len(df), v.errors


def _scorer(scorer):
    return scorer


# ---------------------------------------------------------------- here


log = logging.getLogger(__name__)

LOOPBACK_ANY_PORT = "127.0.0.1:0"  # the local cluster's scheduler HTTP server


@contextmanager
def dask_client(workers: int | None, scheduler: str | None):
    """A client of the cluster at ``scheduler``, or of a local cluster of ``workers``
    processes (one thread each) started for this run and stopped after it."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    n = workers or default_workers()
    # forked workers start with what this process has loaded (spawned ones took about
    # four seconds here); the setting stays for workers the nannies restart
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    # defined here, not at the module's top: distributed is the optional extra, and this
    # module loads without it (require_dask says what to install)
    from distributed.diagnostics.plugin import WorkerPlugin

    class ExitWithThisProcess(WorkerPlugin):
        """A worker exits when this process (its parent: the nannies live here) is gone.

        distributed's own check misses it: a worker waits for the end of a pipe whose
        write end stays open in its parent, but a forked worker also inherits the write
        ends of the pipes of the workers started around it, so two workers can keep each
        other waiting after a SIGKILL (seen in 1-3 of 100 starts on a loaded machine).
        Their fallback, closing on the lost scheduler connection, never ends either (it
        waits on the dead nanny). The plugin is run again in a worker a nanny restarts.
        """

        name = "riskmodel-exit-with-parent"

        def __init__(self, parent: int) -> None:
            self.parent = parent

        def setup(self, worker) -> None:
            import threading
            import time

            def watch(parent: int) -> None:
                while os.getppid() == parent:
                    time.sleep(0.2)
                os._exit(1)

            threading.Thread(target=watch, args=(self.parent,), daemon=True,
                             name="riskmodel exit with parent").start()

    with dask.config.set({"distributed.worker.multiprocessing-method": method}):
        # the scheduler's HTTP server starts even without a dashboard, on 8787 unless told:
        # a free loopback port, so a second run (or a busy 8787) neither clashes nor warns
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=LOOPBACK_ANY_PORT,
                               silence_logs=logging.CRITICAL)
        try:
            with Client(cluster) as client:
                client.register_plugin(ExitWithThisProcess(os.getpid()))
                yield client
        finally:
            stop_cluster(cluster)


# seconds a local cluster has to stop before its workers are killed (it takes one or two)
STOP_TIMEOUT = 30.0


def stop_cluster(cluster, timeout: float = STOP_TIMEOUT) -> None:
    """Stop a local cluster; kill the worker processes it still has after ``timeout``
    seconds, and wait as long again for it to finish.

    distributed waits without limit for a worker process to exit: once in the suite, under
    load, after a partition had killed its workers, a nanny was restarting one as the
    cluster closed, that worker never exited, and the run, its error already known, hung
    until pytest's timeout (ten minutes) instead of exiting.
    """
    try:
        cluster.close(timeout=timeout)
        return
    except TimeoutError:
        pass
    log.warning("the local Dask cluster did not stop within %.0f s; killing its workers",
                timeout)
    for nanny in list(cluster.workers.values()):
        pid = getattr(nanny, "pid", None)  # its worker process, if alive
        if pid:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    with suppress(TimeoutError):
        cluster.close(timeout=timeout)


def default_workers() -> int:
    """Processes of a local cluster: one per core the process may use, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def _nworkers(client) -> int:
    return max(1, sum(w.get("nthreads", 1)
                      for w in client.scheduler_info()["workers"].values()))


def _in_order(client, tasks: list, window: int) -> Iterator:
    """The results of ``tasks`` in order, at most ``window`` in the cluster at a time (so
    what waits to be written stays bounded whatever the file's size). A broken CSV record
    comes as a :class:`RecordError` naming its row in its partition."""
    from distributed import KilledWorker

    pending: deque = deque()
    todo = iter(enumerate(tasks))
    try:
        for i, task in todo:
            pending.append((i, client.compute(task)))
            if len(pending) >= window:
                break
        while pending:
            i, future = pending.popleft()
            try:
                result = future.result()
            except KilledWorker as e:
                allowed = e.args[2]
                raise RiskModelError(
                    f"the Dask worker scoring partition {i + 1} of {len(tasks)} died "
                    f"{allowed + 1} time(s) (Dask tries a partition again {allowed} "
                    f"time(s) on another worker); stopped, nothing was written") from None
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt[0], client.compute(nxt[1])))
            yield result
    finally:
        for _, future in pending:
            future.cancel()


def score_file_dask(src: str | Path, dst: str | Path, scorer, *, top_k: int = 3,
                    strict: bool = False, rejects: str | Path | None = None,
                    chunk_rows: int = CHUNK_ROWS, progress: bool | None = None,
                    log_to=None, workers: int | None = None,
                    scheduler: str | None = None) -> BatchSummary:
    """:func:`batch.score_file` on Dask: the same output, rejects and summary.

    ``src`` is a path or an fsspec URL (CSV, Parquet, a folder of Parquet files) or ``-``;
    ``dst`` a CSV or Parquet file, a folder for a Parquet dataset (ending in ``/``), or
    ``-``. ``workers`` processes of a local cluster (default one per core, at most 4), or
    the cluster at ``scheduler``.
    """
    require_dask()
    if is_workbook(src) or is_workbook(dst):
        def run(s, d, sc, **kw):
            return score_file_dask(s, d, sc, workers=workers, scheduler=scheduler, **kw)
        return score_via_workbook(run, src, dst, scorer, top_k=top_k, strict=strict,
                                  rejects=rejects, chunk_rows=chunk_rows, progress=progress,
                                  log_to=log_to)
    stdin_copy = None
    if str(src) == "-":
        fd, name = tempfile.mkstemp(prefix="riskmodel-stdin-", suffix=".csv")
        with os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
        stdin_copy = src = name
    try:
        return _run(str(src), str(dst), scorer, top_k=top_k, strict=strict, rejects=rejects,
                    chunk_rows=chunk_rows, progress=progress, log_to=log_to,
                    workers=workers, scheduler=scheduler)
    finally:
        if stdin_copy is not None:
            os.unlink(stdin_copy)


def _out_kind(dst: str) -> str:
    if dst == "-":
        return "csv"
    if dst.endswith(("/", os.sep)) or Path(dst).is_dir():
        return "dataset"
    kind = Path(dst).suffix.lower().lstrip(".")
    if kind not in ("csv", "parquet"):
        raise ValueError(f"{dst} has an unknown file type: expected .csv, .parquet, .xlsx "
                         f"or a folder (ending in /) for a Parquet dataset")
    return kind


def _run(src: str, dst_name: str, scorer, *, top_k, strict, rejects, chunk_rows, progress,
         log_to, workers, scheduler) -> BatchSummary:
    kind = _out_kind(dst_name)
    to_stdout = dst_name == "-"
    dst = Path(dst_name.rstrip("/" + os.sep) if kind == "dataset" else dst_name)
    source = open_source(src, chunk_rows)
    errors = missing_columns(set(source.names))
    if errors:
        raise SchemaError(errors)
    if not source.pieces:
        raise DataError(f"{src} has a header but no campaigns")
    rejects_path = Path(rejects) if rejects else (
        Path("rejects.csv") if to_stdout else dst.with_name(
            (dst.name if kind == "dataset" else dst.stem) + ".rejects.csv"))
    summary = BatchSummary(model_version=scorer.version)
    tmp: Path | None = None  # the output under its temporary name (a file or a folder)
    part_dir: Path | None = None
    out: Output | None = None
    bar = None
    rej = Rejects(rejects_path, scorer.locale)  # its words in the scorer's language
    try:
        with dask_client(workers, scheduler) as client:
            import dask

            frame = plans_frame(source)
            window = 2 * _nworkers(client) + 1
            if strict:
                checks = [dask.delayed(check_partition)(p, source)
                          for p in frame.to_delayed()]
                _check_all(client, checks, window)
            if not to_stdout:
                dst.parent.mkdir(parents=True, exist_ok=True)
                tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(6)}.part")
                if kind == "dataset":
                    tmp.mkdir()
                else:
                    tmp.open("xb").close()
            if kind == "dataset":
                sink = Sink("dataset", str(tmp))
            else:  # parts beside the output (a cluster at --scheduler must see the folder)
                part_dir = Path(tempfile.mkdtemp(prefix=".riskmodel-parts-",
                                                 dir=None if to_stdout else dst.parent))
                sink = Sink("arrow" if kind == "parquet" else "csv", str(part_dir))
            model = client.submit(_scorer, scorer, key=f"riskmodel-scorer-"
                                  f"{scorer.version}-{secrets.token_hex(4)}")
            keep = log_to is not None
            tasks = [dask.delayed(score_partition)(p, i, model, source, top_k, keep, sink)
                     for i, p in enumerate(frame.to_delayed())]
            bar = progress_bar(progress)
            if kind != "dataset":
                out = Output(sys.stdout.buffer if to_stdout else str(tmp), kind)
            offset = 0
            wrote = False
            try:
                for part in _in_order(client, tasks, window):
                    rej.add(part.errors, offset, part.ids)
                    offset += part.rows
                    if part.output is not None:
                        wrote = True
                        if isinstance(part.output, str):  # an Arrow file: mapped, not copied
                            part.output = _mapped(part.output)
                        if out is not None:
                            out.write(part.output)
                        summary.merge(part.summary)
                        if log_to is not None:
                            from batch.run import _log_predictions

                            _log_predictions(log_to, part, scorer)
                    bar.update(part.rows)
            except RecordError as e:  # its row counted in its partition
                raise e.in_file(offset) from None
        if offset == 0:
            raise DataError(f"{src} has a header but no campaigns")
        if not wrote:  # nothing valid: still write a header-only output
            schema = pa.schema([(n, pa.string()) for n in source.names]
                               + [(n, pa.string()) for n in output_columns(top_k, FAMILIES)])
            if out is not None:
                out.write_schema(schema)
            else:
                assert tmp is not None
                pq.write_table(schema.empty_table(), tmp / "part.00000.parquet")
        if out is not None:
            out.close()
            out = None
        if tmp is not None:
            _into_place(tmp, dst)
            tmp = None
        summary.rejects_path = rej.commit()
        summary.rejected_rows, summary.problems = rej.rows, rej.problems
    finally:
        if bar is not None:
            bar.close()
        if out is not None:
            out.abort()
        if tmp is not None:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
        if part_dir is not None:
            shutil.rmtree(part_dir, ignore_errors=True)
        rej.discard()
    summary.riskiest.sort(reverse=True)
    return summary


def _mapped(path: str) -> pa.Table:
    """The table of an Arrow IPC file, memory-mapped; the file is removed at once (the
    mapping keeps its pages until the table is written and dropped)."""
    table = pa.ipc.open_file(pa.memory_map(path)).read_all()
    os.unlink(path)
    return table


def _check_all(client, checks: list, window: int) -> None:
    """``--strict``: every problem of the file with its row, before anything is written."""
    import dataclasses

    errors = []
    offset = 0
    try:
        for rows, errs in _in_order(client, checks, window):
            errors += [e if e.row is None else dataclasses.replace(e, row=e.row + offset)
                       for e in errs]
            offset += rows
    except RecordError as e:  # its row counted in its partition
        raise e.in_file(offset) from None
    if errors:
        raise SchemaError(errors)


def _into_place(tmp: Path, dst: Path) -> None:
    """Rename the finished output to its name; a dataset replaces the folder that was
    there (moved aside first, deleted after)."""
    if tmp.is_dir() and dst.is_dir():
        old = dst.with_name(f".{dst.name}.{secrets.token_hex(6)}.old")
        os.replace(dst, old)
        os.replace(tmp, dst)
        shutil.rmtree(old, ignore_errors=True)
        return
    os.replace(tmp, dst)


__all__ = ["MISSING", "Sink", "check_partition", "dask_client", "default_workers", "read_table",
           "require_dask", "score_file_dask", "score_partition", "stop_cluster"]

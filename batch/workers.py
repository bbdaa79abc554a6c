"""Chunks scored in order, here or by forked worker processes.

Each worker is forked with the loaded scorer, so it starts at once and scores exactly as the
main process would. (To be replaced by an established engine; kept as it was.)
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import traceback
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.csv as pacsv

from batch.cells import safe_table
from batch.chunks import CsvBlock
from batch.parts import Part, score_part
from riskmodel import RiskModelError, Scorer


def _worker_score(scorer: Scorer, chunk: pa.Table | CsvBlock, top_k: int, keep_scores: bool,
                  csv_part: str | None) -> Part:
    """Score one chunk in a worker (a CSV block it parses itself, or a table). For CSV
    output the worker also formats the rows (half the work) straight into ``csv_part``, a
    file the main process appends to the output: the text never goes through a pipe."""
    table = chunk.read() if isinstance(chunk, CsvBlock) else chunk
    part = score_part(scorer, table, table.to_pandas(), top_k, keep_scores)
    if csv_part is not None and isinstance(part.output, pa.Table):
        _write_rows(safe_table(part.output), csv_part)
        part.output = (part.output.schema, csv_part)
    return part


def _write_rows(table: pa.Table, path: str) -> None:
    """The rows of ``table`` as CSV without a header. Empty record batches are left out:
    pyarrow 26's ``write_csv`` without a header writes garbage (uninitialised memory) for a
    table whose first batch is empty, as reading a record longer than pyarrow's block
    leaves it."""
    batches = [b for b in table.to_batches() if b.num_rows]
    pacsv.write_csv(pa.Table.from_batches(batches, schema=table.schema), path,
                    write_options=pacsv.WriteOptions(include_header=False))


_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}
T = TypeVar("T")


def _worker_main(conn, scorer: Scorer, main_ends: list) -> None:
    """A worker's loop: a task in, its part (or the exception) out, until told to stop or
    the main process goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles interrupts
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)  # held while forking
    # the fork copied the main process's ends of this worker's pipe and of the workers
    # forked before it: closed here, so that when the main process is gone (even killed)
    # this worker's next read ends instead of waiting forever
    for end in main_ends:
        end.close()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        result: Part | Exception
        try:
            result = _worker_score(scorer, *task)
        except Exception as e:  # noqa: BLE001  raised again in the main process
            if not isinstance(e, (RiskModelError, ValueError, OSError)):  # a bug: say where
                e.add_note("in a scoring worker:\n" + "".join(traceback.format_exception(e)))
            result = e
        try:
            conn.send(result)
        except Exception:  # noqa: BLE001  an exception that does not pickle
            conn.send(RuntimeError(f"a scoring worker failed: {result!r}"))


def default_workers() -> int:
    """Worker processes for batch scoring: one per core the process may use, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def _prefetch(chunks: Iterator[T], depth: int = 1) -> Generator[T, None, None]:
    """Iterate ``chunks`` with the next item already being read on a background thread
    (pyarrow parses outside the GIL, so reading overlaps scoring). Closing this closes
    ``chunks`` too, once the thread has let go of it."""
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="riskmodel-read") as pool:
            ahead: deque = deque(pool.submit(next, chunks, None) for _ in range(depth))
            try:
                while True:
                    item = ahead.popleft().result()
                    if item is None:
                        return
                    ahead.append(pool.submit(next, chunks, None))
                    yield item
            finally:
                for f in ahead:
                    f.cancel()
    finally:  # the pool has shut down: no read is running, the source can close its file
        close = getattr(chunks, "close", None)
        if close is not None:
            try:
                close()
            except ValueError:  # "generator already executing": an interrupt (Ctrl-C) cut
                pass  # the pool's wait short while a read ran; the process is ending


def _tables(chunks: Iterator[pa.Table | CsvBlock]) -> Iterator[pa.Table]:
    """The chunks, each a table: a CSV block is parsed by a worker process, not here."""
    for chunk in chunks:
        if isinstance(chunk, CsvBlock):
            raise TypeError("CSV blocks are for worker processes: without workers, pass "
                            "tables (read_chunks)")
        yield chunk


class Scoring:
    """Chunks in, scored parts out, in input order.

    With one worker the chunks are scored here while the next is read on a thread. With
    more, forked worker processes score them (and format CSV): each has its own pipe and
    one chunk at a time, chunks go round-robin, so results come back in order and a killed
    worker cannot leave a lock held.
    """

    def __init__(self, scorer: Scorer, top_k: int, keep_scores: bool, workers: int,
                 part_dir: Path | None) -> None:
        self.scorer, self.top_k, self.keep_scores = scorer, top_k, keep_scores
        self.part_dir = part_dir  # where workers put formatted CSV chunks; None: Parquet
        self.procs: list = []
        self.conns: list = []
        if workers > 1 and "fork" in mp.get_all_start_methods():
            ctx = mp.get_context("fork")
            # an interrupt landing inside fork() would be swallowed by an at-fork hook:
            # hold SIGINT and SIGTERM until the workers exist, then take them as usual
            held = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
            try:
                try:
                    for _ in range(workers):
                        here, there = ctx.Pipe()
                        proc = ctx.Process(target=_worker_main,
                                           args=(there, scorer, [*self.conns, here]),
                                           daemon=True, name="riskmodel-score")
                        proc.start()
                        there.close()
                        self.procs.append(proc)
                        self.conns.append(here)
                finally:
                    # an interrupt that came meanwhile is raised here
                    signal.pthread_sigmask(signal.SIG_SETMASK, held)
            except BaseException:  # the caller never gets this object: stop them here
                self.abort()
                raise

    def _result(self, w: int) -> Part:
        try:
            result = self.conns[w].recv()
        except EOFError:  # killed (out of memory, a signal...): one clear error, exit 1
            self.procs[w].join(timeout=5)
            raise RiskModelError(f"a scoring worker stopped unexpectedly (exit code "
                                 f"{self.procs[w].exitcode}); nothing was written") from None
        if isinstance(result, BaseException):
            raise result
        return result

    @property
    def parallel(self) -> bool:
        return bool(self.procs)

    def parts(self, chunks: Iterator[pa.Table | CsvBlock]) -> Generator[Part, None, None]:
        """Score ``chunks`` (tables; CSV blocks only with workers) in order."""
        if not self.procs:
            with closing(_prefetch((t, t.to_pandas()) for t in _tables(chunks))) as ahead:
                for table, df in ahead:
                    yield score_part(self.scorer, table, df, self.top_k, self.keep_scores)
            return
        n = len(self.procs)
        busy: set[int] = set()  # workers with a chunk; the oldest is the next in order
        seq = -1
        with closing(_prefetch(chunks)) as ahead:
            for seq, chunk in enumerate(ahead):
                w = seq % n
                if w in busy:
                    busy.discard(w)
                    yield self._result(w)
                csv_part = None if self.part_dir is None else \
                    str(self.part_dir / f"{seq:07d}.csv")
                self.conns[w].send((chunk, self.top_k, self.keep_scores, csv_part))
                busy.add(w)
            for k in range(1, n + 1):  # the rest, in order
                w = (seq + k) % n
                if w in busy:
                    busy.discard(w)
                    yield self._result(w)

    def close(self) -> None:
        """Let the workers finish and exit."""
        for conn in self.conns:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc in self.procs:
            proc.join(timeout=10)
        self.abort()

    def abort(self) -> None:
        """Stop the workers now (nothing they hold is needed)."""
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
            proc.join()
        for conn in self.conns:
            conn.close()
        self.procs, self.conns = [], []

"""Shared fixtures, layered: history -> trained registry -> loaded model; plus a CLI runner."""

from __future__ import annotations

import contextlib
import os
import tempfile

import pytest
from click.testing import CliRunner

# every app the tests build keeps its SQLite store out of the working tree
os.environ.setdefault("RISKMODEL_DATA_DIR", tempfile.mkdtemp(prefix="riskmodel-test-var-"))

from training.synthetic import generate
from training.train import train


@pytest.fixture(scope="session")
def history_df():
    """4,000 generated campaigns with outcomes and truth."""
    return generate(4000, seed=11, with_truth=True)


@pytest.fixture(scope="session")
def history_csv(tmp_path_factory, history_df):
    path = tmp_path_factory.mktemp("data") / "history.csv"
    history_df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def trained(tmp_path_factory, history_csv):
    """An artifacts root with one promoted version trained on ``history_csv``."""
    root = tmp_path_factory.mktemp("artifacts")
    result = train(history_csv, out=root, progress=False, code_version="test")
    return root, result


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture(scope="session")
def scorer(trained):
    from riskmodel import load_model

    root, _ = trained
    return load_model(root=root)


@pytest.fixture(scope="session")
def plans(history_df):
    """Campaign plans as JSON-like records (None for empty), outcome and truth removed."""
    from riskmodel import SCHEMA

    df = history_df[list(SCHEMA.names)].head(300).astype(object)
    return df.where(df.notna(), None).to_dict("records")


@pytest.fixture(scope="session")
def plans_csv(tmp_path_factory, history_df):
    """400 plans of the history as a CSV file (contract columns only)."""
    from riskmodel import SCHEMA

    path = tmp_path_factory.mktemp("plans") / "plans.csv"
    history_df[list(SCHEMA.names)].head(400).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def two_versions(tmp_path_factory, history_csv):
    """An artifacts root with two good versions (A current) and one corrupt copy."""
    import shutil

    from training.synthetic import generate

    root = tmp_path_factory.mktemp("two")
    a = train(history_csv, out=root, progress=False, promote=True).version
    other = tmp_path_factory.mktemp("data2") / "other.csv"
    generate(3000, seed=99).to_csv(other, index=False)
    b = train(other, out=root, progress=False, promote=False).version
    bad = "v00000000-000000-corrupt0"
    shutil.copytree(root / "models" / a, root / "models" / bad)
    path = root / "models" / bad / "model.npz"
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    return root, a, b, bad


@pytest.fixture
def app(trained):
    from service import create_app

    root, _ = trained
    return create_app({"artifacts": str(root), "reload_interval": 3600.0})


@pytest.fixture
def client(app):
    return app.test_client()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(artifacts, env_extra: dict | None = None, workers: int = 2):
    """``riskmodel serve`` (granian, ``workers`` workers) on a free loopback port, in a
    session of its own: the process and the port. Not yet ready; see :func:`wait_ready`.
    ``env_extra`` adds to the environment (a value of None removes that variable)."""
    import subprocess
    import sys

    port = free_port()
    env = dict(os.environ, RISKMODEL_ARTIFACTS=str(artifacts), RISKMODEL_WORKERS=str(workers),
               RISKMODEL_LOG_LEVEL="WARNING")
    for key, value in (env_extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    proc = subprocess.Popen([sys.executable, "-m", "commands", "serve", "--bind",
                             f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    return proc, port


def wait_ready(proc, port: int, timeout: float = 60) -> None:
    """Until ``/readyz`` answers 200; fail the test if the server exits or takes too long."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the server did not become ready within {timeout:.0f} s")


def stop_server(proc) -> None:
    """SIGTERM to the server's process group, as a service manager stops it; SIGKILL if it
    has not exited 30 s later."""
    import signal
    import subprocess

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def running_server(artifacts, tmp_path, **env_extra: str):
    """``riskmodel serve`` (granian, two workers) on a free loopback port, ready, its
    Prometheus files under ``tmp_path``; yields the port and stops the server afterwards."""
    metrics_dir = tempfile.mkdtemp(prefix="metrics-", dir=tmp_path)
    proc, port = start_server(artifacts, dict(env_extra,
                                              PROMETHEUS_MULTIPROC_DIR=metrics_dir))
    try:
        wait_ready(proc, port)
        yield port
    finally:
        stop_server(proc)


@pytest.fixture
def service_log():
    """The records the service logs while the test runs (its logger does not propagate,
    so caplog does not see them)."""
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("riskmodel.service")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@contextlib.contextmanager
def read_only(path):
    """``path`` made unwritable for this process while the block runs: immutable
    (``chattr +i``) for root, whom file modes do not stop; mode 0444 for anyone else."""
    import stat
    import subprocess

    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot make a file immutable here: {done.stderr.decode().strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        return
    mode = path.stat().st_mode
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    try:
        yield
    finally:
        path.chmod(mode)


def _pg_admin(sql: str) -> None:
    import psycopg

    try:
        conn = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                               autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {e}")
    with conn:
        for statement in sql.split(";"):
            if statement.strip():
                conn.execute(statement)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """The same store tests against SQLite and against the PostgreSQL server (a database
    of its own, created for the test and dropped after it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    yield from _pg_database(request)


@pytest.fixture
def pg_store_url(request):
    """A store on the PostgreSQL server (a database of its own, dropped after the test),
    for a test that compares it with SQLite."""
    yield from _pg_database(request)


def _pg_database(request):
    name = f"riskmodel_test_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE); CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

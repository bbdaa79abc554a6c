import json
import subprocess
import sys


def test_help_imports_no_heavy_library():
    """``riskmodel --help`` (and the group itself) loads neither scikit-learn, scipy,
    pandas, matplotlib nor numpy; and in the C locale (``LANG=C.UTF-8``, English) not
    Babel either, whose locale data it took to say so."""
    import os

    code = ("import json, sys\nfrom click.testing import CliRunner\n"
            "from commands.main import main\n"
            "r = CliRunner().invoke(main, ['--help'])\nassert r.exit_code == 0, r.output\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sklearn', 'scipy', 'pandas', 'matplotlib', 'numpy', 'babel'))))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANGUAGE"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=dict(env, LANG="C.UTF-8"))
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_scoring_a_small_csv_loads_only_what_it_uses(trained, plans_csv, tmp_path):
    """``riskmodel score`` of a CSV into a CSV, its stderr not a terminal, loads no
    progress bar (tqdm), no Parquet module, no Dask, no workbook reader, no database
    layer, no fitting library and not Babel's catalog loader: each is start-up a 10-row
    file does not need."""
    root, _ = trained
    code = ("import json, sys\nfrom commands.main import main\n"
            f"main(['score', '--artifacts', {str(root)!r}, '--in', {str(plans_csv)!r}, "
            f"'--out', {str(tmp_path / 'o.csv')!r}], standalone_mode=False)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tqdm', 'dask', 'distributed', 'openpyxl', 'sqlalchemy', 'sklearn', 'scipy', "
            "'matplotlib') or m.startswith(('pyarrow.parquet', 'babel.support')))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    assert (tmp_path / "o.csv").is_file()
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [], out.stderr[-2000:]


def test_a_command_run_in_process_gives_the_sigterm_handler_back():
    """The group turns SIGTERM into KeyboardInterrupt for the command's length only: a
    process that runs commands itself (pytest here) keeps its own handler, and what it forks
    afterwards does not inherit ours (a forked helper that took SIGTERM as Ctrl-C once kept
    a test run waiting on it)."""
    import signal

    from click.testing import CliRunner

    from commands.main import _on_sigterm, main

    seen = []

    def mine(signum, frame):  # noqa: ARG001
        seen.append(signum)

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        result = CliRunner().invoke(main, ["models", "--help"])
        assert result.exit_code == 0, result.output
        assert signal.getsignal(signal.SIGTERM) is mine
        # and while a command runs, SIGTERM is ours
        during = []
        import commands.main as entry

        @entry.main.command("probe-signal", hidden=True)
        def probe() -> None:
            during.append(signal.getsignal(signal.SIGTERM))

        try:
            result = CliRunner().invoke(main, ["probe-signal"])
        finally:
            entry.main.commands.pop("probe-signal", None)
        assert result.exit_code == 0, result.output
        assert during == [_on_sigterm]
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


class _SignalsInItsFinalizer:
    """An object whose ``__del__`` is running when SIGTERM's handler runs (as a Dask
    future's finalizer was when a run was stopped)."""

    def __del__(self):
        import os
        import signal

        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10_000):  # the handler runs here, inside the finalizer
            pass


def test_a_sigterm_that_lands_in_a_finalizer_still_stops_the_command():
    """Python cannot raise from a finalizer: the KeyboardInterrupt that SIGTERM's handler
    raised there used to be printed and dropped, and a run it had stopped finished and
    wrote its output. The command is stopped all the same."""
    import signal
    import time

    from click.testing import CliRunner

    import commands.main as entry

    reached = []

    @entry.main.command("probe-finalizer", hidden=True)
    def probe() -> None:
        _SignalsInItsFinalizer()  # made and dropped: its finalizer runs now
        time.sleep(3)
        reached.append(True)

    previous, hook = signal.getsignal(signal.SIGTERM), sys.unraisablehook
    try:
        result = CliRunner().invoke(entry.main, ["probe-finalizer"])
    finally:
        entry.main.commands.pop("probe-finalizer", None)
    assert reached == [] and result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit) or "Aborted" in result.output
    assert signal.getsignal(signal.SIGTERM) is previous and sys.unraisablehook is hook


def test_serve_main_process_imports_no_sqlalchemy_nor_fitting_library(tmp_path):
    """``riskmodel serve``'s main process, up to the fork of its workers (settings, the
    store's file pinned, the app's code preloaded), loads neither SQLAlchemy nor
    scikit-learn, scipy, pandas or matplotlib: each costs start-up, and the workers open
    the store on first use. granian is replaced by a stand-in that reports instead of
    forking; the store's file is pinned all the same."""
    import os
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = ("import json, sys, granian\n"
            "class Server:\n"
            "    def __init__(self, *args, **kwargs): pass\n"
            "    def serve(self, **kwargs):\n"
            "        print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sqlalchemy', 'sklearn', 'scipy', 'pandas', 'matplotlib'))))\n"
            "granian.Granian = Server\n"
            "from commands.main import main\n"
            f"main(['serve', '--bind', '127.0.0.1:{port}'], standalone_mode=False)\n")
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["RISKMODEL_DATA_DIR"] = str(tmp_path / "var")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [], out.stderr
    store = tmp_path / "var" / "riskmodel.sqlite3"
    assert f"store: {store}" in out.stderr
    assert store.is_file()  # pinned: it exists, so it has an identity for the workers

"""The root ``riskmodel`` group: subcommands loaded lazily, by name."""

from __future__ import annotations

import importlib
import os
import signal
import sys

import click

from riskmodel import N_, __version__

# name -> "module:attribute" of each subcommand, in the order --help lists them
SUBCOMMANDS = {
    "generate": "commands.train:generate",
    "train": "commands.train:train_command",
    "score": "commands.score:score_command",
    "serve": "commands.serve:serve",
    "outcomes": "commands.outcomes:outcomes",
    "retrain": "commands.train:retrain",
    "monitor": "commands.monitor:monitor_command",
    "models": "commands.models:models",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click's documented pattern
    for large command lines)."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *sorted(set(super().list_commands(ctx)) - set(self.lazy))]

    def main(self, args=None, *rest, **kwargs):  # type: ignore[override]
        """Run in the language of ``--lang`` or the environment (commands/i18n.py)."""
        import sys

        from commands.i18n import _, choose, speaking

        argv = sys.argv[1:] if args is None else list(args)
        with speaking(choose(argv, os.environ)):
            self.help = _(ROOT_HELP)
            for param in self.params:  # read when this module was imported
                if isinstance(param, click.Option) and param.name in _OPTION_HELP:
                    param.help = _(_OPTION_HELP[param.name])
            return super().main(args, *rest, **kwargs)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, attribute = target.split(":")
        return getattr(importlib.import_module(module), attribute)


def _on_sigterm(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def _interrupt_again(previous_hook):
    """``sys.unraisablehook`` for as long as a command runs: an interrupt that landed in a
    finalizer (a ``__del__`` run by the garbage collector, such as a Dask future's), where
    Python cannot raise it and only prints it, is asked for again, so that it lands in the
    command's own code (a SIGTERM swallowed so once let a run it had stopped finish and
    write its output); anything else goes to ``previous_hook``."""
    def hook(unraisable) -> None:
        if issubclass(unraisable.exc_type, KeyboardInterrupt):
            # sent a moment later from a thread of its own: raised from here (or while
            # this hook waited for a thread to start) it would land in this hook again
            import _thread

            _thread.start_new_thread(_stop_soon, ())
            return
        previous_hook(unraisable)

    return hook


def _stop_soon() -> None:
    import time

    time.sleep(0.001)  # the hook has returned by then
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:  # the command still runs
        os.kill(os.getpid(), signal.SIGTERM)


ROOT_HELP = N_("Failure risk of Amazon co-op campaigns: generate data, train, score, serve.")
LANG_HELP = N_("Language of the help and messages: en or zh-CN (default: from LANG).")
_OPTION_HELP = {"lang": LANG_HELP, "version": N_("Show the version and exit.")}


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS, help=ROOT_HELP)
@click.version_option(__version__, prog_name="riskmodel")
@click.option("--lang", metavar="LANG", default=None,
              help=LANG_HELP)
def main(lang: str | None) -> None:  # noqa: ARG001  read before click parses (LazyGroup.main)
    # SIGTERM stops a command as Ctrl-C does (its clean-up runs). The handler lasts as long
    # as the command: a caller that runs commands in its own process (tests, a notebook)
    # gets its own handler back, and nothing it forks later inherits ours.
    # An interrupt swallowed by a finalizer is raised again (_interrupt_again).
    previous, previous_hook = signal.signal(signal.SIGTERM, _on_sigterm), sys.unraisablehook
    sys.unraisablehook = _interrupt_again(previous_hook)

    def restore() -> None:
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGTERM, previous)

    click.get_current_context().call_on_close(restore)


if __name__ == "__main__":  # pragma: no cover
    main()

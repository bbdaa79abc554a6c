"""The root ``riskmodel`` group: subcommands loaded lazily, by name."""

from __future__ import annotations

import importlib
import signal

import click

from riskmodel import __version__

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

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, attribute = target.split(":")
        return getattr(importlib.import_module(module), attribute)


def _on_sigterm(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS)
@click.version_option(__version__, prog_name="riskmodel")
def main() -> None:
    """Failure risk of Amazon co-op campaigns: generate data, train, score, serve."""
    signal.signal(signal.SIGTERM, _on_sigterm)


if __name__ == "__main__":  # pragma: no cover
    main()

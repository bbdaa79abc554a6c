"""The command line's language: ``--lang``, else the locale of the environment (``LANGUAGE``,
``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else English.

It sets the language of the help and of the error messages, click's own ones included
(click asks Python's :mod:`gettext`, which this points at the ``commands`` catalog for the
time of a command). The text columns of a scored file follow ``score --lang`` only: a data
file does not change with the terminal's locale.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from riskmodel import N_, negotiate_locale, read_catalog

CATALOGS = Path(__file__).with_name("locale")
DOMAIN = "commands"
_ENVIRONMENT = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

# click's own messages a user meets (its msgids, word for word), for this catalog
CLICK = (N_("Usage:"), N_("Options"), N_("Commands"), N_("Show this message and exit."),
         N_("Show the version and exit."), N_("Error: {message}"),
         N_("Try '{command} {option}' for help."), N_("Invalid value: {message}"),
         N_("Invalid value for {param_hint}: {message}"), N_("Missing option"),
         N_("Missing argument"), N_("Missing parameter: {param_name}"),
         N_("Missing command."), N_("No such option {name!r}."),
         N_("No such command {name!r}."), N_("Aborted!"), N_("default: {default}"),
         N_("Option {name!r} requires an argument."), N_("{value} is not in the range {range}."),
         N_("{value!r} is not a valid {number_type}."), N_("integer"), N_("float"),
         N_("{name} {filename!r} does not exist."), N_("{name} {filename!r} is a directory."),
         N_("{name} {filename!r} is a file."), N_("file"), N_("directory"), N_("path"),
         N_("required"))

_current = {"locale": "en"}


def choose(args: Sequence[str], environ: dict | os._Environ) -> str:
    """The locale of a command line: its ``--lang`` (the first), else the environment's."""
    given = None
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args):
            given = args[i + 1]
            break
        if arg.startswith("--lang="):
            given = arg.partition("=")[2]
            break
    env = [v.split(":")[0] for v in (environ.get(k) for k in _ENVIRONMENT) if v]
    return negotiate_locale(given, *env)


def locale() -> str:
    """The locale of the command running."""
    return _current["locale"]


@cache
def _catalog(locale: str) -> stdlib_gettext.NullTranslations:
    return read_catalog(CATALOGS, DOMAIN, locale)


def _(message: str) -> str:
    """``message`` in the command's language."""
    return _catalog(_current["locale"]).gettext(message)


@contextmanager
def speaking(locale: str) -> Iterator[None]:
    """The command's language for the time of the block, click's messages included; the
    process's gettext settings as they were afterwards (tests run many commands in one)."""
    before = (_current["locale"], os.environ.get("LANGUAGE"), stdlib_gettext.textdomain())
    _current["locale"] = locale
    os.environ["LANGUAGE"] = locale
    stdlib_gettext.bindtextdomain(DOMAIN, str(CATALOGS))
    stdlib_gettext.textdomain(DOMAIN)
    try:
        yield
    finally:
        _current["locale"] = before[0]
        if before[1] is None:
            os.environ.pop("LANGUAGE", None)
        else:
            os.environ["LANGUAGE"] = before[1]
        stdlib_gettext.textdomain(before[2])

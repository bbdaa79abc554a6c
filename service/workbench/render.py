"""Template filters, and the quarter view rendered as one self-contained file (the report
of ``riskmodel score --report``): the same template as the page, its stylesheet inlined,
no script, nothing fetched."""

from __future__ import annotations

import math
from importlib import resources

from jinja2 import Environment, PackageLoader, select_autoescape

from riskmodel import BANDS, FAMILY_LABELS, VALUE_LABELS, family_label, label, warning_label


def pct(x: float | None, digits: int = 0) -> str:
    if x is None or x != x:
        return "–"
    return f"{x * 100:.{digits}f}%"


def signed(x: float | None, digits: int = 2) -> str:
    if x is None or x != x:
        return "–"
    return f"{x:+.{digits}f}".replace("-", "−")


def number(x: float | int | None, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:,.{digits}f}"


def value_label(v: object) -> str:
    return VALUE_LABELS.get(str(v), str(v))


def warning_words(code: str) -> str:
    return warning_label(code)


FILTERS = {"pct": pct, "signed": signed, "number": number, "label": label,
           "family_label": family_label, "value_label": value_label,
           "warning_words": warning_words}
GLOBALS = {"BANDS": BANDS, "FAMILY_LABELS": FAMILY_LABELS}


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("service.workbench", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters.update(FILTERS)
    env.globals.update(GLOBALS)
    return env


def render_report(quarter, *, title: str = "Quarter check") -> str:
    """The quarter view of ``quarter`` (:class:`batch.Quarter`) as one printable HTML file
    with its styles inline."""
    css = resources.files("service.workbench").joinpath("static/app.css").read_text("utf-8")
    return _environment().get_template("workbench/report.html").render(
        q=quarter, title=title, css=css, interactive=False, links=None)

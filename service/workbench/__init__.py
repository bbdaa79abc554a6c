"""The planner's workbench: web pages in the scoring service for the people who plan
co-op campaigns. ``/`` checks one campaign, ``/quarter`` a quarter's plan file, ``/model``
shows the model in service, ``/monitoring`` whether it is still right. Jinja templates and
plain JavaScript shipped in the package; every page is sent with a Content-Security-Policy,
and every form that changes something (or sends an API key) carries a CSRF token.
"""

from service.workbench import check, model, monitoring, quarter  # noqa: E402,F401  (routes on bp)
from service.workbench.blueprint import bp
from service.workbench.render import render_report

__all__ = ["bp", "render_report"]

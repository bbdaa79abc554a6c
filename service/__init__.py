"""The scoring service: ``create_app()`` builds the Flask app.

``create_app`` is imported on first use (PEP 562), so ``service.server`` can prepare the
process (the Prometheus multiprocess directory, which prometheus_client reads when it is
first imported) before Flask, the model's libraries and prometheus_client load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from service.app import create_app

        return create_app
    raise AttributeError(f"module 'service' has no attribute {name!r}")


if TYPE_CHECKING:
    from service.app import create_app

"""The scoring service: ``create_app()`` builds the Flask app."""

from service.app import create_app

__all__ = ["create_app"]

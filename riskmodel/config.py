"""Defaults, overridable by ``RISKMODEL_*`` environment variables. Read at the edges only."""

from __future__ import annotations

import os
from pathlib import Path


def artifacts_dir() -> Path:
    """``RISKMODEL_ARTIFACTS``, else ``./artifacts``."""
    return Path(os.environ.get("RISKMODEL_ARTIFACTS", "artifacts"))

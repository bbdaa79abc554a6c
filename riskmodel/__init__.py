"""riskmodel: how likely an Amazon co-op campaign is to fail, why, and what to change.

The domain core. Its public API is the names below; the packages above it (``training``,
``service``, ``batch``, ``commands``) import only these, never a module of the core (the
import contracts in ``pyproject.toml`` check it). Names are imported on first use
(PEP 562), so ``import riskmodel`` is cheap and each caller loads only what it needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> the module of the core that defines it
_EXPORTS = {
    "ADVICE": "advice", "ESCALATION": "advice", "ReadinessWarning": "advice",
    "WARNING_CODES": "advice", "readiness_flags": "advice",
    "CampaignBatch": "campaigns",
    "ConfigError": "config", "Settings": "config", "api_keys": "config",
    "database_url": "config", "settings": "config",
    "FAMILIES": "contract", "SCHEMA": "contract", "Column": "contract", "Schema": "contract",
    "ArtifactError": "errors", "DataError": "errors", "FieldError": "errors",
    "ParameterError": "errors",
    "RiskModelError": "errors", "SchemaError": "errors",
    "BoundedLogisticRegression": "estimators",
    "BUDGET_RATIO": "features", "FACTORS": "features", "Factor": "features",
    "factor_values": "features",
    "DEFAULT_INTERACTIONS": "model", "AdditiveRiskModel": "model",
    "FAMILY_LABELS": "labels", "LABELS": "labels", "VALUE_LABELS": "labels",
    "WARNING_LABELS": "labels", "family_label": "labels", "label": "labels",
    "Registry": "registry",
    "BANDS": "explanation", "DIRECTIONS": "explanation", "CampaignScore": "explanation",
    "Explanation": "explanation", "FactorContribution": "explanation",
    "WhatIf": "explanation",
    "Scorer": "scoring", "load_model": "scoring",
    "KeyFileError": "signing", "SignatureError": "signing", "generate_keys": "signing",
    "model_keys": "signing",
    "OutcomeConflict": "store", "Store": "store", "StoreMissing": "store",
    "StoreUnavailable": "store", "UnknownCampaign": "store",
    "Validated": "validation", "missing_columns": "validation", "parse_outcome": "validation",
    "read_table": "validation", "validate_campaigns": "validation",
    "validate_record": "validation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'riskmodel' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"riskmodel.{module}"), name)
    globals()[name] = value  # the next lookup is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the same names, for type checkers (a test holds the two lists equal)
    from riskmodel.advice import (
        ADVICE,
        ESCALATION,
        WARNING_CODES,
        ReadinessWarning,
        readiness_flags,
    )
    from riskmodel.campaigns import CampaignBatch
    from riskmodel.config import ConfigError, Settings, api_keys, database_url, settings
    from riskmodel.contract import FAMILIES, SCHEMA, Column, Schema
    from riskmodel.errors import (
        ArtifactError,
        DataError,
        FieldError,
        ParameterError,
        RiskModelError,
        SchemaError,
    )
    from riskmodel.estimators import BoundedLogisticRegression
    from riskmodel.explanation import (
        BANDS,
        DIRECTIONS,
        CampaignScore,
        Explanation,
        FactorContribution,
        WhatIf,
    )
    from riskmodel.features import BUDGET_RATIO, FACTORS, Factor, factor_values
    from riskmodel.labels import (
        FAMILY_LABELS,
        LABELS,
        VALUE_LABELS,
        WARNING_LABELS,
        family_label,
        label,
    )
    from riskmodel.model import DEFAULT_INTERACTIONS, AdditiveRiskModel
    from riskmodel.registry import Registry
    from riskmodel.scoring import Scorer, load_model
    from riskmodel.signing import KeyFileError, SignatureError, generate_keys, model_keys
    from riskmodel.store import (
        OutcomeConflict,
        Store,
        StoreMissing,
        StoreUnavailable,
        UnknownCampaign,
    )
    from riskmodel.validation import (
        Validated,
        missing_columns,
        parse_outcome,
        read_table,
        validate_campaigns,
        validate_record,
    )

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
    "OUT_OF_DEPTH_CODES": "advice", "OutOfDepth": "coverage",
    "CampaignBatch": "campaigns",
    "ConfigError": "config", "Settings": "config", "api_keys": "config",
    "database_url": "config", "settings": "config",
    "FAMILIES": "contract", "SCHEMA": "contract", "Column": "contract", "Schema": "contract",
    "ArtifactError": "errors", "DataError": "errors", "FieldError": "errors",
    "MAX_SHOWN": "errors", "shorten": "errors",
    "ParameterError": "errors",
    "RiskModelError": "errors", "SchemaError": "errors",
    "BoundedLogisticRegression": "estimators",
    "BUDGET_RATIO": "features", "FACTORS": "features", "Factor": "features",
    "factor_values": "features",
    "DEFAULT_INTERACTIONS": "model", "AdditiveRiskModel": "model",
    "FAMILY_LABELS": "labels", "LABELS": "labels", "VALUE_LABELS": "labels",
    "WARNING_LABELS": "labels", "family_label": "labels", "label": "labels",
    "MARKETPLACE_NAMES": "labels", "value_label": "labels", "warning_label": "labels",
    "LOCALES": "i18n", "format_number": "i18n", "format_share": "i18n",
    "format_usd": "i18n", "gettext": "i18n", "language_tag": "i18n",
    "read_catalog": "i18n", "negotiate_locale": "i18n",
    "escalation": "advice",
    "N_": "i18n", "field_message": "i18n", "advice_text": "advice", "allowed_in": "i18n",
    "OUT_OF_DEPTH_LABELS": "labels", "out_of_depth_label": "labels",
    "BAND_RULE": "labels", "band_rule": "labels",
    "Registry": "registry",
    "MAX_ERRORS": "rules", "MAX_FIELDS": "rules",
    "REFERENCE_FILE": "drift", "reference_statistics": "drift",
    "VERDICTS": "verdicts", "MonitoringError": "monitoring", "Policy": "monitoring",
    "ReferenceMissing": "monitoring", "load_reference": "monitoring", "monitor": "monitoring",
    "assess": "monitoring", "EmptyWindow": "monitoring", "REASON_CODES": "verdicts",
    "REASON_LEVELS": "verdicts", "SEGMENTS_NAMED": "verdicts",
    "Reason": "monitoring",
    "BANDS": "explanation", "DIRECTIONS": "explanation", "CampaignScore": "explanation",
    "Explanation": "explanation", "FactorContribution": "explanation",
    "WhatIf": "explanation",
    "Scorer": "scoring", "load_model": "scoring",
    "KeyFileError": "signing", "SignatureError": "signing", "generate_keys": "signing",
    "model_keys": "signing",
    "OutcomeConflict": "errors", "Store": "store", "StoreMissing": "errors",
    "StoreUnavailable": "errors", "UnknownCampaign": "errors",
    "check_store_file": "storefile", "open_store_file": "storefile",
    "store_file": "storefile", "shown_url": "storefile",
    "CAMPAIGN_ALLOWED": "validation", "CAMPAIGN_FIELDS": "validation",
    "ErrorList": "validation", "check_fields": "validation",
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
        OUT_OF_DEPTH_CODES,
        WARNING_CODES,
        ReadinessWarning,
        advice_text,
        escalation,
        readiness_flags,
    )
    from riskmodel.campaigns import CampaignBatch
    from riskmodel.config import ConfigError, Settings, api_keys, database_url, settings
    from riskmodel.contract import FAMILIES, SCHEMA, Column, Schema
    from riskmodel.coverage import OutOfDepth
    from riskmodel.drift import REFERENCE_FILE, reference_statistics
    from riskmodel.errors import (
        MAX_SHOWN,
        ArtifactError,
        DataError,
        FieldError,
        OutcomeConflict,
        ParameterError,
        RiskModelError,
        SchemaError,
        StoreMissing,
        StoreUnavailable,
        UnknownCampaign,
        shorten,
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
    from riskmodel.i18n import (
        LOCALES,
        N_,
        allowed_in,
        field_message,
        format_number,
        format_share,
        format_usd,
        gettext,
        language_tag,
        negotiate_locale,
        read_catalog,
    )
    from riskmodel.labels import (
        BAND_RULE,
        FAMILY_LABELS,
        LABELS,
        MARKETPLACE_NAMES,
        OUT_OF_DEPTH_LABELS,
        VALUE_LABELS,
        WARNING_LABELS,
        band_rule,
        family_label,
        label,
        out_of_depth_label,
        value_label,
        warning_label,
    )
    from riskmodel.model import DEFAULT_INTERACTIONS, AdditiveRiskModel
    from riskmodel.monitoring import (
        EmptyWindow,
        MonitoringError,
        Policy,
        Reason,
        ReferenceMissing,
        assess,
        load_reference,
        monitor,
    )
    from riskmodel.registry import Registry
    from riskmodel.rules import MAX_ERRORS, MAX_FIELDS
    from riskmodel.scoring import Scorer, load_model
    from riskmodel.signing import KeyFileError, SignatureError, generate_keys, model_keys
    from riskmodel.store import Store
    from riskmodel.storefile import check_store_file, open_store_file, shown_url, store_file
    from riskmodel.validation import (
        CAMPAIGN_ALLOWED,
        CAMPAIGN_FIELDS,
        ErrorList,
        Validated,
        check_fields,
        missing_columns,
        parse_outcome,
        read_table,
        validate_campaigns,
        validate_record,
    )
    from riskmodel.verdicts import REASON_CODES, REASON_LEVELS, SEGMENTS_NAMED, VERDICTS

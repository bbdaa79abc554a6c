"""riskmodel: how likely an Amazon co-op campaign is to fail, why, and what to change."""

from riskmodel.advice import ReadinessWarning
from riskmodel.errors import ArtifactError, DataError, FieldError, RiskModelError, SchemaError
from riskmodel.registry import Registry
from riskmodel.schema import FAMILIES, SCHEMA, Column, Schema
from riskmodel.scoring import (  # noqa: I001  (after validation: scoring imports it)
    CampaignScore,
    FactorContribution,
    Scorer,
    WhatIf,
    load_model,
)
from riskmodel.validation import CampaignBatch, Validated, read_table, validate_campaigns

__version__ = "0.1.0"  # noqa: I001

__all__ = [
    "SCHEMA",
    "FAMILIES",
    "ArtifactError",
    "CampaignBatch",
    "CampaignScore",
    "FactorContribution",
    "ReadinessWarning",
    "Registry",
    "Scorer",
    "WhatIf",
    "load_model",
    "Column",
    "DataError",
    "FieldError",
    "RiskModelError",
    "Schema",
    "SchemaError",
    "Validated",
    "read_table",
    "validate_campaigns",
]

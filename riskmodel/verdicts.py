"""The verdicts monitoring gives and the codes of its reasons: plain names, importable
without pandas (the service's OpenAPI document lists them; riskmodel.monitoring gives
them)."""

from __future__ import annotations

OK, WATCH, RETRAIN = "ok", "watch", "retrain recommended"
VERDICTS = (OK, WATCH, RETRAIN)

# The reasons a verdict can give, each a stable code with its parameters beside the
# English (docs/monitoring.md, "The reasons as codes"): a program or a page in another
# language reads the code, never the words.
FACTOR_MOVED = "factor_moved"
FACTOR_MOVED_WITHIN_CAMPAIGN_TYPE = "factor_moved_within_campaign_type"
PREDICTED_RISK_MOVED = "predicted_risk_moved"
MISCALIBRATED = "miscalibrated"
ROC_AUC_DROPPED = "roc_auc_dropped"
ECE_ROSE = "ece_rose"
SEGMENTS_MISCALIBRATED = "segments_miscalibrated"
REASON_CODES = (FACTOR_MOVED, FACTOR_MOVED_WITHIN_CAMPAIGN_TYPE, PREDICTED_RISK_MOVED,
                MISCALIBRATED, ROC_AUC_DROPPED, ECE_ROSE, SEGMENTS_MISCALIBRATED)
REASON_LEVELS = ("retrain", "watch")
# a reason's words name at most this many miscalibrated segments (its codes list them all)
SEGMENTS_NAMED = 8

__all__ = ["ECE_ROSE", "FACTOR_MOVED", "FACTOR_MOVED_WITHIN_CAMPAIGN_TYPE", "MISCALIBRATED",
           "OK", "PREDICTED_RISK_MOVED", "REASON_CODES", "REASON_LEVELS", "RETRAIN",
           "ROC_AUC_DROPPED", "SEGMENTS_MISCALIBRATED", "SEGMENTS_NAMED", "VERDICTS", "WATCH"]

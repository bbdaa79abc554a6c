"""Batch scoring of plan files: readers, parallel scoring, output, rejects, summary, report.

Sits on the core (:mod:`riskmodel`), which knows nothing of it; the command line's
``riskmodel score`` calls :func:`score_file`.
"""

from batch.columns import output_columns
from batch.report import render_html
from batch.run import score_file
from batch.summary import BatchSummary, summary_lines
from batch.workers import default_workers

__all__ = ["BatchSummary", "default_workers", "output_columns", "render_html", "score_file",
           "summary_lines"]

"""Batch scoring of plan files: readers, parallel scoring, output, rejects, summary, the
quarter view's figures, Excel workbooks.

Sits on the core (:mod:`riskmodel`), which knows nothing of it; the command line's
``riskmodel score`` calls :func:`score_file`.
"""

from batch.columns import output_columns
from batch.outputs import check_paths, default_rejects
from batch.quarter import Action, Quarter, summarise_quarter
from batch.run import score_file
from batch.summary import BatchSummary, summary_lines
from batch.workbook import (
    is_workbook,
    read_plan_workbook,
    template_workbook,
    write_scored_workbook,
)

__all__ = ["Action", "BatchSummary", "Quarter", "check_paths", "default_rejects",
           "is_workbook",
           "output_columns", "read_plan_workbook", "score_file",
           "summarise_quarter", "summary_lines", "template_workbook", "write_scored_workbook"]

"""The PDF progress report for one patient's treatment series (fpdf2).

- :mod:`analyzer.report.data`: :class:`ReportData` / :class:`ViewImages`, labels, summary metrics;
- :mod:`analyzer.report.pdf`: :func:`build_report` (plain data in, PDF bytes out) and the
  plain-language :func:`summary_lines`;
- :mod:`analyzer.report.sources`: the data from the store or from a batch run's results.json.

The ``report`` subcommand is in :mod:`analyzer.cli`.
"""

from analyzer.report.data import (
    METRIC_LABELS,
    SUMMARY_METRICS,
    ReportData,
    ViewImages,
    metric_label,
)
from analyzer.report.pdf import PLAIN_WORDS, build_report, plain_words, summary_lines
from analyzer.report.sources import (
    practitioner_report_from_store,
    report_data_from_batch_json,
    report_data_from_store,
    report_from_store,
)

__all__ = [
    "PLAIN_WORDS",
    "plain_words",
    "practitioner_report_from_store",
    "METRIC_LABELS",
    "SUMMARY_METRICS",
    "ReportData",
    "ViewImages",
    "build_report",
    "metric_label",
    "report_data_from_batch_json",
    "report_data_from_store",
    "report_from_store",
    "summary_lines",
]

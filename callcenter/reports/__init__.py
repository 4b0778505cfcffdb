"""Supervisor reports from the call-event store (definitions in docs/metrics.md)."""

from callcenter.reports.kpi import build_report
from callcenter.reports.model import REPORTS, Filters, Report, ReportError
from callcenter.reports.projection import refresh

__all__ = ["REPORTS", "Filters", "Report", "ReportError", "build_report", "refresh"]

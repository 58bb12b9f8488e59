"""Charts drawn with matplotlib from plain data (lists, dicts, numbers, labels); see README.md.

This package knows nothing of results files or of how the numbers were measured: runbench
converts its results into the chart descriptions that draw_all takes.
"""
from plots.charts import draw, draw_all, missing_reason

__all__ = ["draw", "draw_all", "missing_reason"]

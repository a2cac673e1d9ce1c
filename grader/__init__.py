"""The course grader: submission -> sandbox -> worker -> judge -> report (DESIGN.md §4)."""

__version__ = "0.1.0"

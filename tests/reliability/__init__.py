"""Reliability suite: faults, damaged files, bad input, multi-process consistency (see docs/reliability.md)."""

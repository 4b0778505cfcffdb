"""Outbound calls: jobs, the dialler, limits, caller-ID choice, speech (docs/outbound.md)."""

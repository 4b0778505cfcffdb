"""Agents (座席): their states, persisted across daemon restarts, and the keypad features."""

from callcenter.agents.state import PAUSE_REASONS, AgentBook, AgentRecord, AgentState

__all__ = ["PAUSE_REASONS", "AgentBook", "AgentRecord", "AgentState"]

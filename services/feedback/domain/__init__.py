"""Feedback's pure decisions: verdicts (state machine, who may judge), the facts reports count
about each lead, and report arithmetic. No I/O, no framework."""

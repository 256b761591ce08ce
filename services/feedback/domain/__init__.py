"""Feedback's pure decisions: a lead's stages (the state machine its verdicts follow), who may
judge and what a verdict carries, the facts reports count about each lead, and report
arithmetic. No I/O, no framework."""

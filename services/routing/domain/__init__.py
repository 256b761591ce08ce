"""Routing's decisions, without I/O: criteria, rules, eligibility, strategies, hours."""

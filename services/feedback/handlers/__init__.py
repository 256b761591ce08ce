"""Feedback's use cases, none of them committing: the events it reads (`leads`) and giving a
verdict (`verdicts`)."""

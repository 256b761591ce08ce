"""Routing's request and response models, one module per resource of `api/` (`fields` holds the
constrained types they share). The same input models validate the admin API and `handoff reps
import` files, so a file and an API call are refused for the same reasons."""

"""What scoring's API answers, one module per resource as in `api/`."""

"""Capture's test helper modules hold asserts: pytest rewrites them as it does a test module's,
so a failing one shows the values compared."""

import pytest

pytest.register_assert_rewrite(
    "tests.capture.cleaning_helpers", "tests.capture.forms_helpers", "tests.capture.leads_helpers"
)

"""Settings: HANDOFF_-prefixed environment, no default secret outside development."""

import pytest
from pydantic import ValidationError

from shared.settings import DEVELOPMENT_SECRET, Settings


def test_production_refuses_the_development_secret():
    for environment in ("production", "test"):
        with pytest.raises(ValidationError, match="HANDOFF_SECRET_KEY"):
            Settings(environment=environment)
    assert Settings(environment="production", secret_key="s3cret-from-vault").secret_key
    assert Settings(environment="development").secret_key == DEVELOPMENT_SECRET


def test_settings_come_from_handoff_prefixed_environment(monkeypatch):
    monkeypatch.setenv("HANDOFF_TOPIC_PREFIX", "acme.")
    monkeypatch.setenv("HANDOFF_CONSUMER_MAX_ATTEMPTS", "5")
    settings = Settings()
    assert settings.topic("lead.mql.v1") == "acme.lead.mql.v1"
    assert settings.dlq_topic("lead.mql.v1") == "acme.lead.mql.v1.dlq"
    assert settings.consumer_max_attempts == 5

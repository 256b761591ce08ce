"""Settings: HANDOFF_-prefixed environment, a real secret outside development."""

import secrets

import pytest
from pydantic import ValidationError

from handoff.brokers import services_tuning
from shared.settings import DEVELOPMENT_SECRET, MIN_SECRET_LENGTH, Settings


@pytest.mark.parametrize("environment", ["production", "test"])
@pytest.mark.parametrize(
    "secret", [DEVELOPMENT_SECRET, "", "change-me", "x" * (MIN_SECRET_LENGTH - 1)]
)
def test_outside_development_a_default_or_short_secret_is_refused(environment, secret):
    with pytest.raises(ValidationError) as refused:
        Settings(environment=environment, secret_key=secret)
    message = str(refused.value)
    assert "HANDOFF_SECRET_KEY" in message and "secrets.token_urlsafe(32)" in message
    assert f"{secret!r}" not in message, "the refused secret is not repeated in the error"


def test_outside_development_a_long_random_secret_is_taken():
    secret = secrets.token_urlsafe(32)
    assert Settings(environment="production", secret_key=secret).secret_key == secret
    assert Settings(environment="test", secret_key="y" * MIN_SECRET_LENGTH).secret_key


def test_development_runs_on_the_default_secret():
    assert Settings(environment="development").secret_key == DEVELOPMENT_SECRET


def test_a_refused_secret_from_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("HANDOFF_ENVIRONMENT", "production")
    monkeypatch.setenv("HANDOFF_SECRET_KEY", "change-me")
    with pytest.raises(ValidationError, match="HANDOFF_SECRET_KEY"):
        Settings()


def test_settings_come_from_handoff_prefixed_environment(monkeypatch):
    monkeypatch.setenv("HANDOFF_TOPIC_PREFIX", "acme.")
    monkeypatch.setenv("HANDOFF_CONSUMER_MAX_ATTEMPTS", "5")
    settings = Settings()
    assert settings.topic("lead.mql.v1") == "acme.lead.mql.v1"
    assert settings.consumer_max_attempts == 5


def test_consumers_let_kafka_hold_a_fetch_and_the_stack_shortens_it_on_tansu(monkeypatch):
    """Apache Kafka answers a fetch as soon as records arrive, so the default waits long and
    spares idle polls; Tansu holds every fetch for the whole wait, so its stack sets 20 ms."""
    assert Settings().consumer_fetch_max_wait_ms == 500
    tansu = services_tuning("tansu")
    assert tansu == {"HANDOFF_CONSUMER_FETCH_MAX_WAIT_MS": "20"}
    assert services_tuning("kafka") == services_tuning(None) == {}
    for name, value in tansu.items():
        monkeypatch.setenv(name, value)
    assert Settings().consumer_fetch_max_wait_ms == 20

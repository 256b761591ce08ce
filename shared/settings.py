"""Settings shared by every service, read from `HANDOFF_`-prefixed environment variables."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me"
MIN_SECRET_LENGTH = 32
MAKE_A_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


class Settings(BaseSettings):
    # Hidden inputs keep a refused secret out of the error, and so out of the logs.
    model_config = SettingsConfigDict(
        env_prefix="HANDOFF_", extra="ignore", hide_input_in_errors=True
    )

    environment: Literal["development", "test", "production"] = "development"
    secret_key: str = Field(DEVELOPMENT_SECRET, description="Signs and hashes API keys.")
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    kafka_bootstrap: str = "127.0.0.1:9092"
    database_pool_size: int = Field(
        10,
        ge=1,
        description="Database connections each service process keeps open; requests "
        "beyond it wait for one rather than opening short-lived ones.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    topic_prefix: str = Field("", description="Optional prefix for shared clusters, e.g. 'acme.'")

    consumer_fetch_max_wait_ms: int = Field(
        500,
        ge=1,
        description="How long the broker may hold a consumer's fetch while it has no new "
        "records. Apache Kafka answers as soon as records arrive, so a long wait costs no "
        "latency and spares idle polls; Tansu holds every fetch for the whole wait, so the "
        "stack and the suite set 20 ms on Tansu.",
    )
    consumer_session_timeout_ms: int = 10_000
    consumer_heartbeat_interval_ms: int = 3_000
    consumer_max_attempts: int = Field(3, ge=1, description="Handler tries before the DLQ.")
    consumer_retry_backoff_ms: int = 100
    consumer_batch_size: int = Field(
        100,
        ge=1,
        description="Records of one partition (or of a fetch's several partitions, when they "
        "fit) handled in one transaction (one commit, then the offset commit); 1 is a "
        "transaction per record.",
    )
    consumer_commit_interval_ms: int = Field(
        1_000,
        ge=0,
        description="Longest a handled record's offset waits to be committed: one offset "
        "commit for every batch in that time, and at once when the consumer stops or a "
        "rebalance takes a partition away. Records handled but not committed when a process "
        "dies come again, and their event ids make them no-ops. 0 commits after every fetch.",
    )
    processed_events_retention_days: int = Field(
        14,
        ge=1,
        description="How long consumed event ids are kept for deduplication; longer "
        "than the topics' retention, so no redelivery is older.",
    )

    outbox_batch_size: int = 500
    max_event_bytes: int = Field(
        900_000,
        ge=1,
        description="Largest event a service writes; Kafka's default limit for a message is 1 MiB.",
    )
    outbox_poll_interval_s: float = Field(
        1.0,
        description="Fallback wake-up. A commit that wrote outbox rows wakes its process's relay "
        "at once (which tells the publishing instance by NOTIFY if that is another one); rows "
        "written by the CLI wait for this poll.",
    )

    max_form_body_bytes: int = Field(
        64 * 1024, ge=1, description="Largest web-form submission body capture reads."
    )
    max_body_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1,
        description="Largest body of any other request (a batch of 1,000 activities fits).",
    )
    form_rate_per_ip_per_minute: int = Field(
        30, ge=1, description="Form submissions one client IP may make per minute, per instance."
    )
    form_rate_per_form_per_minute: int = Field(
        600, ge=1, description="Submissions one form accepts per minute, per instance."
    )

    @model_validator(mode="after")
    def _require_a_real_secret_outside_development(self) -> Self:
        if self.environment == "development":
            return self
        if self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"HANDOFF_SECRET_KEY must be a secret of at least {MIN_SECRET_LENGTH} characters, "
                f"not the development default, outside development (environment is "
                f"{self.environment!r}); make one with: {MAKE_A_SECRET}"
            )
        return self

    def topic(self, base: str) -> str:
        return f"{self.topic_prefix}{base}"

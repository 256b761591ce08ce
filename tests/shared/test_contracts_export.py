"""The published contracts in docs/events/ are generated from shared.events and up to date."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from shared.contracts_export import PRODUCERS, asyncapi, json_schemas, write_documents
from shared.events import EVENT_TYPES, TOPICS, Envelope, LeadErasedEvent
from tests.shared.examples import EXAMPLES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"


def _problems(value: Any, schema: dict) -> list[str]:
    """What the JSON Schema validator finds wrong with `value`, as `path: message` lines."""
    validator = Draft202012Validator(schema)
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(value)]


def test_the_committed_documents_are_the_generated_ones(tmp_path: Path) -> None:
    fresh = {path.name: path.read_text(encoding="utf-8") for path in write_documents(tmp_path)}
    committed = {path.name: path.read_text(encoding="utf-8") for path in DOCS.glob("*.json")}
    assert committed == fresh, (
        "docs/events/ is out of date with shared/events.py: run "
        "`handoff schemas` (or python -m shared.contracts_export)"
    )


def test_every_topic_has_a_schema_naming_it() -> None:
    schemas = json_schemas()
    assert list(schemas) == list(TOPICS)
    for topic, schema in schemas.items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert topic in schema["$id"] and schema["title"] == topic and schema["description"]


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda e: e.topic)
def test_each_example_matches_its_published_schema(event_type: type[Envelope]) -> None:
    schema = json_schemas()[event_type.topic]
    sent = json.loads(EXAMPLES[event_type].to_bytes())
    assert _problems(sent, schema) == []


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda e: e.topic)
def test_each_example_matches_its_asyncapi_message(event_type: type[Envelope]) -> None:
    document = asyncapi()
    channel = document["channels"][event_type.topic.replace(".", "_")]
    assert channel["address"] == event_type.topic
    assert channel["x-dlq"]["address"] == f"{event_type.topic}.dlq"
    message = document["components"]["messages"][event_type.__name__]
    assert "UTF-8" in message["bindings"]["kafka"]["key"]["description"]
    sent = json.loads(EXAMPLES[event_type].to_bytes())
    # the payload refers into components/schemas, so validate with the document's components
    assert _problems(sent, {**message["payload"], "components": document["components"]}) == []


def test_the_check_catches_a_wrong_event() -> None:
    schema = json_schemas()["lead.erased.v1"]
    sent = json.loads(EXAMPLES[LeadErasedEvent].to_bytes())
    wrong = sent | {"event_type": "lead.mql", "surprise": 1, "payload": {"reason": 7}}
    del wrong["lead_id"]
    problems = "\n".join(_problems(wrong, schema))
    for expected in (
        "$.event_type: 'lead.erased' was expected",
        "$.payload.reason: 7 is not",
        "$: 'lead_id' is a required property",
    ):
        assert expected in problems, problems


def test_the_asyncapi_document_names_every_producer_and_dlq_header() -> None:
    document = asyncapi()
    assert document["asyncapi"] == "3.0.0" and document["info"]["title"] == "Handoff events"
    assert sorted(t for topics in PRODUCERS.values() for t in topics) == sorted(TOPICS)
    sent = {op["channel"]["$ref"].rsplit("/", 1)[-1] for op in document["operations"].values()}
    assert sent == set(document["channels"])
    assert set(document["components"]["schemas"]["DeadLetterHeaders"]["properties"]) == {
        "dlq.error",
        "dlq.error.trace",
        "dlq.attempts",
        "dlq.original.topic",
        "dlq.original.partition",
        "dlq.original.offset",
        "dlq.consumer.group",
        "dlq.failed_at",
    }

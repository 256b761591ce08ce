"""The published contracts: JSON Schemas and an AsyncAPI document, generated from `shared.events`.

Never edit `docs/events/` by hand; regenerate it with `handoff schemas`
(or `python -m shared.contracts_export`). A test fails while the two disagree.
"""

from __future__ import annotations

import inspect
import json
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from shared.events import EVENT_TYPES, Envelope

JSON_SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
KAFKA_BINDING = "0.5.0"

# Which service writes each topic; every other service only reads.
PRODUCERS: dict[str, tuple[str, ...]] = {
    "capture": ("lead.captured.v1", "lead.activity.v1", "lead.erased.v1"),
    "scoring": ("lead.scored.v1", "lead.mql.v1"),
    "routing": ("lead.assigned.v1", "lead.queued.v1", "lead.returned.v1", "sales.capacity.v1"),
    "feedback": ("lead.feedback.v1",),
}

# Headers `shared.deadletter` adds when the consumer gives up on a record, beside its own.
DLQ_HEADERS: dict[str, str] = {
    "dlq.error": "Exception type and message (at most 2000 characters).",
    "dlq.error.trace": "Python traceback (its last 4000 characters).",
    "dlq.attempts": "How many times the handler was tried.",
    "dlq.original.topic": "Topic the record was read from.",
    "dlq.original.partition": "Partition the record was read from.",
    "dlq.original.offset": "Offset of the record in that partition.",
    "dlq.consumer.group": "Consumer group that gave up on it.",
    "dlq.failed_at": "When it gave up, UTC, e.g. 2026-03-02T09:30:15Z.",
}

# Fields the producers always send, although the models give them defaults.
_ALWAYS_SENT = ("event_id", "event_type", "schema_version", "occurred_at", "producer", "payload")


def _key_doc(event: type[Envelope]) -> str:
    return (
        "the team id, UTF-8."
        if event.keyed_by_team
        else "the lead id (UUID text), UTF-8, so one lead's events stay in order on one partition."
    )


def _description(event: type[Envelope]) -> str:
    if event.__doc__:
        return inspect.cleandoc(event.__doc__)
    payload = getattr(event.model_fields["payload"].annotation, "__name__", "payload")
    return f"The record value on `{event.topic}`: the common envelope around a {payload} payload."


def _as_sent(schema: dict[str, Any], event: type[Envelope]) -> dict[str, Any]:
    """Mark what is always on the wire as required; lead events always carry a lead id."""
    required = set(schema.get("required", ())) | set(_ALWAYS_SENT)
    if not event.keyed_by_team:
        required.add("lead_id")
        lead_id = schema["properties"]["lead_id"]
        schema["properties"]["lead_id"] = next(s for s in lead_id["anyOf"] if s["type"] != "null")
    schema["required"] = sorted(required)
    return schema


def json_schemas() -> dict[str, dict[str, Any]]:
    """Topic name -> JSON Schema (draft 2020-12) of its record value."""
    schemas = {}
    for event in EVENT_TYPES:
        schema = _as_sent(event.model_json_schema(), event)
        schemas[event.topic] = {
            "$schema": JSON_SCHEMA_DRAFT,
            **schema,
            "$id": f"urn:handoff:event:{event.topic}",
            "title": event.topic,
            "description": _description(event),
        }
    return schemas


def _channel_id(topic: str) -> str:
    return topic.replace(".", "_")  # channel and operation ids may not contain dots


def _channel(event: type[Envelope]) -> dict[str, Any]:
    dlq = f"{event.topic}.dlq"
    return {
        "address": event.topic,
        "description": (
            f"{_description(event)} Record key: {_key_doc(event)} Records that "
            f"cannot be processed after bounded retries go to `{dlq}` unchanged, "
            f"with the `dlq.*` error headers added."
        ),
        "messages": {event.__name__: {"$ref": f"#/components/messages/{event.__name__}"}},
        "bindings": {"kafka": {"topic": event.topic, "bindingVersion": KAFKA_BINDING}},
        "x-dlq": {"address": dlq, "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"}},
    }


def _message(event: type[Envelope], payload: dict[str, Any]) -> dict[str, Any]:
    key = {"type": "string", "description": _key_doc(event)}
    if not event.keyed_by_team:
        key["format"] = "uuid"
    return {
        "name": event.model_fields["event_type"].default,
        "title": event.__name__,
        "summary": _description(event),
        "contentType": "application/json",
        "payload": payload,
        "bindings": {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING}},
    }


def _operations() -> dict[str, Any]:
    by_topic = {event.topic: event for event in EVENT_TYPES}
    operations = {}
    for service, topics in PRODUCERS.items():
        for topic in topics:
            channel = _channel_id(topic)
            operations[f"{service}_sends_{channel}"] = {
                "action": "send",
                "summary": f"{service} publishes {topic}.",
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{by_topic[topic].__name__}"}],
                "tags": [{"name": service}],
            }
    return operations


def asyncapi() -> dict[str, Any]:
    """AsyncAPI 3.0 document: one channel per topic, its message, key, DLQ twin and producer."""
    refs, top = models_json_schema(
        [(event, "validation") for event in EVENT_TYPES],
        ref_template="#/components/schemas/{model}",
    )
    schemas = top["$defs"]
    for event in EVENT_TYPES:
        _as_sent(schemas[event.__name__], event)
    schemas["DeadLetterHeaders"] = {
        "type": "object",
        "properties": {
            name: {"type": "string", "description": doc} for name, doc in DLQ_HEADERS.items()
        },
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Handoff events",
            "version": version("handoff"),
            "description": (
                "Events the Handoff services exchange over Kafka. Addresses are base names; "
                "a deployment may prefix them (HANDOFF_TOPIC_PREFIX). Every value is the JSON "
                "envelope, every key the lead id (the team id on sales.capacity.v1)."
            ),
        },
        "defaultContentType": "application/json",
        "channels": {_channel_id(event.topic): _channel(event) for event in EVENT_TYPES},
        "operations": _operations(),
        "components": {
            "schemas": schemas,
            "messages": {
                event.__name__: _message(event, refs[(event, "validation")])
                for event in EVENT_TYPES
            },
        },
    }


def _render(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_documents(out_dir: Path) -> list[Path]:
    """Write `<topic>.schema.json` per topic and `asyncapi.json`; drop schemas of gone topics."""
    out_dir.mkdir(parents=True, exist_ok=True)
    documents = {f"{topic}.schema.json": schema for topic, schema in json_schemas().items()}
    documents["asyncapi.json"] = asyncapi()
    paths = []
    for name, document in documents.items():
        path = out_dir / name
        path.write_text(_render(document), encoding="utf-8")
        paths.append(path)
    for stale in set(out_dir.glob("*.schema.json")) - set(paths):
        stale.unlink()
    return paths


if __name__ == "__main__":
    for written in write_documents(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/events")):
        print(written)

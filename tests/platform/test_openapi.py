"""What every service's HTTP edge promises, checked on all four apps: a 405 names every method
its path takes (`Allow`), and the operations endpoints (`/healthz`, `/readyz`, `/metrics`)
answer only what their OpenAPI document describes — `/readyz`'s 503 included.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI

from handoff.embedded import free_port
from services.capture.app import create_app as create_capture
from services.feedback.app import create_app as create_feedback
from services.routing.app import create_app as create_routing
from services.scoring.app import create_app as create_scoring
from shared.settings import Settings
from tests.helpers import running

pytestmark = pytest.mark.asyncio

APPS: dict[str, Callable[[Settings], FastAPI]] = {
    "capture": create_capture,
    "scoring": create_scoring,
    "routing": create_routing,
    "feedback": create_feedback,
}
METHODS = ("GET", "PUT", "POST", "PATCH", "DELETE")  # sent to find a refused one
OPERATION_KEYS = {"get", "put", "post", "patch", "delete", "options", "head"}  # OpenAPI's
OPERATIONS = ("/healthz", "/readyz", "/metrics")


def documented_methods(document: dict[str, Any]) -> dict[str, set[str]]:
    """Each documented path template -> the methods the document gives it."""
    return {
        template: {method.upper() for method in operations if method in OPERATION_KEYS}
        for template, operations in document["paths"].items()
    }


def template_pattern(template: str) -> re.Pattern[str]:
    """A path template as the paths it stands for: `{name}` is one path segment."""
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def expected_allow(paths: dict[str, set[str]], path: str) -> set[str]:
    """The methods of every documented template the concrete path matches (one path may match
    several: `/v1/leads/export` is also a `/v1/leads/{lead_id}`)."""
    return {
        method
        for template, methods in paths.items()
        if template_pattern(template).fullmatch(path)
        for method in methods
    }


def plain_client(app: FastAPI) -> httpx.AsyncClient:
    """No lifespan: a 405 is the router's answer, before any route or dependency runs."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.mark.parametrize("service", list(APPS))
async def test_a_405_names_every_method_of_its_path_on_every_service(
    settings: Settings, service: str
) -> None:
    app = APPS[service](settings)
    paths = documented_methods(app.openapi())
    assert paths, "the document lists paths"
    checked = 0
    async with plain_client(app) as client:
        for template in sorted(paths):
            path = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", template)
            allowed = expected_allow(paths, path)
            refused = next((m for m in METHODS if m not in allowed), None)
            if refused is None:
                continue
            answer = await client.request(refused, path)
            assert answer.status_code == 405, (service, refused, path, answer.text)
            named = {m.strip() for m in answer.headers["allow"].split(",")}
            assert named == allowed, (service, refused, path)
            checked += 1
    assert checked >= 3, f"{service}: too few paths to say anything"


async def test_a_405_on_a_page_outside_the_document_names_its_methods_too(
    settings: Settings,
) -> None:
    async with plain_client(create_feedback(settings)) as client:
        answer = await client.put("/signin")
    assert (answer.status_code, answer.headers["allow"]) == (405, "GET, POST")


def schema_of(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A response schema with the document's components beside it, so `$ref`s resolve."""
    return {**schema, "components": document.get("components", {})}


def check_documented(document: dict[str, Any], path: str, answer: httpx.Response) -> None:
    responses = document["paths"][path]["get"]["responses"]
    status = str(answer.status_code)
    assert status in responses, f"GET {path} answered {status}; documented: {sorted(responses)}"
    content = responses[status].get("content", {})
    media_type = answer.headers["content-type"].split(";")[0].strip()
    assert media_type in content, f"GET {path} {status} sent {media_type}; documented {content}"
    if media_type == "application/json":
        jsonschema.validate(answer.json(), schema_of(document, content[media_type]["schema"]))


@pytest.mark.parametrize("service", list(APPS))
async def test_operations_endpoints_answer_as_documented_ready_or_not(
    settings: Settings, service: str
) -> None:
    """With the broker unreachable each service is not ready (503); then with it, ready (200).
    Every answer's status, media type and body are as the service's own OpenAPI says."""
    cut_off = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    answers: list[tuple[str, httpx.Response]] = []
    app = APPS[service](cut_off)
    async with running(app, wait_ready=False) as client:
        for path in OPERATIONS:
            answers.append((path, await client.get(path)))
    async with running(APPS[service](settings)) as client:
        for path in OPERATIONS:
            answers.append((path, await client.get(path)))
        document = (await client.get("/openapi.json")).json()

    statuses = {(path, answer.status_code) for path, answer in answers}
    assert {("/readyz", 503), ("/readyz", 200), ("/healthz", 200), ("/metrics", 200)} <= statuses
    for path, answer in answers:
        check_documented(document, path, answer)
    ready = document["paths"]["/readyz"]["get"]["responses"]
    assert "not ready" in ready["503"]["description"].lower()


async def test_an_undocumented_answer_is_caught(settings: Settings) -> None:
    """The check above can fail: a status or media type the document does not list."""
    async with running(create_scoring(settings)) as client:
        document = (await client.get("/openapi.json")).json()
        healthz = await client.get("/healthz")
    teapot = httpx.Response(418, json={"status": "ok"})
    with pytest.raises(AssertionError, match="answered 418"):
        check_documented(document, "/healthz", teapot)
    html = httpx.Response(200, html="<p>ok</p>")
    with pytest.raises(AssertionError, match="sent text/html"):
        check_documented(document, "/healthz", html)
    wrong = httpx.Response(200, json={"status": 1})
    with pytest.raises(jsonschema.ValidationError):
        check_documented(document, "/healthz", wrong)
    check_documented(document, "/healthz", healthz)

"""schemathesis over capture's whole API (issue 9, item 10): the real app, served by uvicorn on
the test database and broker, must answer every generated request — valid and invalid — with no
5xx and nothing its OpenAPI document does not describe (`--checks all`: status codes, media
types, headers and bodies against their schemas, plus the negative/positive data, auth and
method checks). Examples per operation are bounded and the seed fixed, so the run is the same
each time and stays within about a minute on two cores.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import uvicorn

from handoff.embedded import free_port
from services.capture.app import create_app
from tests.capture.forms_helpers import FORM, written
from tests.helpers import auth, running, wait_for

pytestmark = pytest.mark.asyncio

SCHEMATHESIS = Path(sys.executable).with_name("st")
CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 50
SEED = 20261128


async def test_capture_answers_only_what_its_openapi_document_describes(
    settings, api_keys, tmp_path
):
    # The admin key passes every role check; the rate limits stay as configured (schemathesis
    # posts more than a visitor would: their 429s are documented answers too).
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        await wait_for(lambda: server.started, timeout_s=30, message="uvicorn started")
        url = f"http://127.0.0.1:{server.config.port}"
        # A form that exists, so that submissions to it reach the form's own rules too.
        import httpx

        async with httpx.AsyncClient(base_url=url) as client:
            created = await client.put("/v1/forms/demo", json=FORM, headers=auth(api_keys["admin"]))
            assert created.status_code == 201, created.text
        run = await asyncio.to_thread(
            subprocess.run,
            [
                str(SCHEMATHESIS),
                "--config-file",
                str(CONFIG),
                "run",
                f"{url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                str(SEED),
                # One worker: two threads parsing source at once trip a CPython 3.11.7 defect
                # (the AST module's shared recursion counter, "AST constructor recursion depth
                # mismatch", gh-106905) inside hypothesis; 2 of 4 runs failed so.
                "--workers",
                "1",
                "--header",
                f"Authorization: Bearer {api_keys['admin']}",
                "--report",
                "junit",
                "--report-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=tmp_path,
            env=os.environ | {"NO_COLOR": "1", "COLUMNS": "120"},
        )
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 15)

    (tmp_path / "schemathesis.txt").write_text(run.stdout + run.stderr)
    leads, _ = await written(settings)
    assert run.returncode == 0, f"schemathesis found problems (all in {tmp_path}):\n" + (
        run.stdout[-8000:] + run.stderr[-2000:]
    )
    assert leads > 0, "generated submissions reached the demo form's rules and some were taken"


JSON_BODY_ROUTES = [
    ("put", "/v1/forms/{form_id}", "/v1/forms/demo"),
    ("post", "/v1/leads", "/v1/leads"),
    ("post", "/v1/leads/{lead_id}/erase", "/v1/leads/00000000-0000-4000-8000-000000000000/erase"),
    ("post", "/v1/activities", "/v1/activities"),
]


@pytest.mark.parametrize(
    "method, route, path", JSON_BODY_ROUTES, ids=[r[1] for r in JSON_BODY_ROUTES]
)
async def test_a_json_body_that_is_not_utf8_gets_the_documented_400(
    settings, api_keys, method, route, path
):
    """FastAPI answers 400 "There was an error parsing the body" for a JSON body it cannot
    decode; the document says so, with the project's error body."""
    app = create_app(settings)
    async with running(app) as client:
        answer = await client.request(
            method,
            path,
            content=b'{"name": "\xff"}',
            headers=auth(api_keys["admin"]) | {"Content-Type": "application/json"},
        )
    documented = app.openapi()["paths"][route][method]["responses"]

    assert answer.status_code == 400, answer.text
    assert set(answer.json()) == {"detail", "errors"}
    assert documented["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }


async def test_a_405_names_every_method_its_path_takes(settings):
    async with running(create_app(settings)) as client:
        answer = await client.request("OPTIONS", "/v1/forms/demo")
        patched = await client.patch("/v1/leads/00000000-0000-4000-8000-000000000000")

    assert answer.status_code == 405
    assert answer.headers["allow"] == "DELETE, GET, PUT"
    assert (patched.status_code, patched.headers["allow"]) == (405, "GET")

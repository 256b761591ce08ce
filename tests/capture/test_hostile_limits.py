"""Hostile input (issue 9): a form's rate nobody can spend or dodge; uvicorn's limits."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn

from handoff.embedded import free_port
from handoff.stack import uvicorn_limits
from services.capture.app import create_app
from tests.capture.forms_helpers import FILLED, FORM, SUBMIT, capture
from tests.helpers import auth, wait_for

pytestmark = pytest.mark.asyncio


# ---- 2: nobody locks a form for everyone ----------------------------------------------------


async def test_refused_posts_spend_nothing_of_the_forms_allowance(settings, api_keys):
    limited = settings.model_copy(
        update={"form_rate_per_form_per_minute": 3, "form_rate_per_ip_per_minute": 100}
    )
    async with capture(limited, api_keys) as client:
        garbage = [(await client.post(SUBMIT, json={})).status_code for _ in range(10)]
        answer = await client.post(SUBMIT, data=FILLED)

    assert garbage == [422] * 10
    assert answer.status_code == 202, answer.text


# ---- 3 and 12: forwarded headers trusted only where configured; uvicorn's limits ---------------


def uvicorn_options(env: dict[str, str]) -> dict[str, object]:
    """The options `handoff up` gives each service's uvicorn, as uvicorn's own CLI reads them."""
    context = uvicorn.main.make_context("uvicorn", ["app:app", *uvicorn_limits(env)])
    return {
        name: context.params[name]
        for name in (
            "proxy_headers",
            "forwarded_allow_ips",
            "timeout_keep_alive",
            "limit_concurrency",
        )
    }


async def test_the_stack_trusts_forwarded_headers_only_from_configured_addresses():
    assert uvicorn_options({})["proxy_headers"] is False
    configured = uvicorn_options({"FORWARDED_ALLOW_IPS": "10.1.0.0/16"})
    assert (configured["proxy_headers"], configured["forwarded_allow_ips"]) == (True, "10.1.0.0/16")
    assert (configured["timeout_keep_alive"], configured["limit_concurrency"]) == (5, 500)


DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"
FAKE_UVICORN = '#!/bin/sh\nfor arg in "$@"; do printf "%s\\n" "$arg"; done\n'


def image_uvicorn_arguments(env: dict[str, str], tmp_path: Path) -> list[str]:
    """The arguments the image's CMD gives uvicorn under `env` (plus the image's own ENV),
    seen by running the CMD with a stand-in `uvicorn` that prints them."""
    lines = DOCKERFILE.read_text().splitlines()
    [cmd] = [json.loads(line[len("CMD") :]) for line in lines if line.startswith("CMD ")]
    image_env = dict(
        pair.split("=", 1)
        for line in lines
        if line.startswith("ENV ")
        for pair in shlex.split(line[len("ENV ") :])
    )
    fake = tmp_path / "uvicorn"
    fake.write_text(FAKE_UVICORN)
    fake.chmod(0o755)
    path = f"{tmp_path}:{os.environ['PATH']}"
    shown = subprocess.run(
        cmd, env=image_env | env | {"PATH": path}, capture_output=True, text=True, check=True
    )
    return shown.stdout.splitlines()


@pytest.mark.parametrize(
    "env",
    [{}, {"FORWARDED_ALLOW_IPS": "10.1.0.0/16, 10.2.0.0/16", "HANDOFF_LIMIT_CONCURRENCY": "80"}],
    ids=["unset", "configured"],
)
async def test_the_image_gives_uvicorn_the_limits_handoff_up_gives(env, tmp_path):
    arguments = image_uvicorn_arguments(env, tmp_path)
    context = uvicorn.main.make_context("uvicorn", arguments)
    image = {name: context.params[name] for name in uvicorn_options(env)}

    assert image == uvicorn_options(env)
    assert context.params["app"] == "services.capture.app:create_app"


async def test_a_local_client_cannot_pick_its_address_with_x_forwarded_for(settings, api_keys):
    limited = settings.model_copy(update={"form_rate_per_ip_per_minute": 3})
    options = uvicorn_options({})
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(limited),
            host="127.0.0.1",
            port=free_port(),
            log_level="warning",
            proxy_headers=bool(options["proxy_headers"]),
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        await wait_for(lambda: server.started, timeout_s=30, message="uvicorn started")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}") as client:
            await client.put("/v1/forms/ebook", json=FORM, headers=auth(api_keys["admin"]))
            codes = [
                (
                    await client.post(SUBMIT, json={}, headers={"X-Forwarded-For": f"10.9.0.{n}"})
                ).status_code
                for n in range(5)
            ]
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 15)

    assert codes == [422, 422, 422, 429, 429]

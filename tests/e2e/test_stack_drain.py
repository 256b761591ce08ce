"""`handoff up`: a posted lead reaches lead.captured.v1; repeated signals stop it after draining."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import psutil

from handoff.embedded import EmbeddedPostgres
from shared.db import asyncpg_dsn
from shared.events import LeadCapturedEvent
from shared.settings import Settings
from tests.e2e.stack_helpers import CLI, SERVICES, alive, handoff_up, service_process, wait_until
from tests.helpers import reading

LEADS = 10
BURST = 20


def read_captured(bootstrap: str, topic: str, count: int) -> list[dict]:
    async def read() -> list[dict]:
        async with reading(bootstrap, topic) as records:
            found = await records.wait_for_count(count, timeout_s=30)
            await records.assert_no_more(count, quiet_s=0.3)
        return [json.loads(record.value) for record in found]

    return asyncio.run(read())


def consumers_of(event_type: type) -> dict[str, str]:
    """{service: its processed_events table} for each service with a handler for the event."""
    return {
        name: spec.tables.processed_events.fullname
        for name in SERVICES
        if event_type in (spec := importlib.import_module(f"services.{name}.app").SPEC).handlers
    }


def after_the_stop(
    pgdata: Path, tables: dict[str, str], topic: str
) -> tuple[dict[str, set[str]], int, set[str]]:
    """What each consumer recorded as processed, capture's unsent outbox rows, and the ids of
    the events capture wrote for `topic`, read from the stopped stack's database (started again
    on its data for the check)."""

    async def query(url: str) -> tuple[dict[str, set[str]], int, set[str]]:
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            handled = {
                name: {str(row[0]) for row in await connection.fetch(f"SELECT event_id FROM {t}")}
                for name, t in tables.items()
            }
            unsent = await connection.fetchval(
                "SELECT count(*) FROM capture.outbox WHERE sent_at IS NULL"
            )
            published = {
                json.loads(row[0])["event_id"]
                for row in await connection.fetch(
                    "SELECT value FROM capture.outbox WHERE topic = $1", topic
                )
            }
            return handled, unsent, published
        finally:
            await connection.close()

    server = EmbeddedPostgres(pgdata)
    try:
        return asyncio.run(query(server.start()))
    finally:
        server.stop()


def test_a_lead_goes_through_handoff_up_and_repeated_signals_stop_it_all_after_draining(
    tmp_path: Path,
):
    started = time.monotonic()
    with handoff_up(tmp_path) as stack:
        state, up = stack.state, stack.up
        assert set(state["services"]) == set(SERVICES)
        for name, url in state["services"].items():
            assert httpx.get(f"{url}/readyz").status_code == 200, name
            assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
            assert "handoff_" in httpx.get(f"{url}/metrics").text
            assert httpx.get(f"{url}/openapi.json").json()["info"]["title"] == f"Handoff {name}"
        assert state["kafka_bootstrap"].startswith("127.0.0.1:")
        assert state["broker"]["kind"] == "tansu"
        assert "pgdata" in state["database_url"]
        demo_page = httpx.get(state["demo_form"])
        assert demo_page.status_code == 200 and 'name="consent"' in demo_page.text
        print(f"ready in {time.monotonic() - started:.1f}s")

        created = subprocess.run(
            [str(CLI), "keys", "create", "--role", "marketing"],
            env={k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
            | {"HANDOFF_HOME": str(stack.home)},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        marketing_key = created.stdout.strip().splitlines()[-1]
        lead_ids = set()
        for n in range(LEADS):
            lead = httpx.post(
                f"{state['services']['capture']}/v1/leads",
                json={"email": f"stack{n}@example.com"},
                headers={"Authorization": f"Bearer {marketing_key}"},
            )
            assert lead.status_code == 202, lead.text
            lead_ids.add(lead.json()["lead_id"])
        topic = Settings.model_fields["topic_prefix"].default + LeadCapturedEvent.topic
        events = read_captured(state["kafka_bootstrap"], topic, LEADS)
        assert {event["lead_id"] for event in events} == lead_ids
        assert {event["payload"]["contact"]["email"] for event in events} == {
            f"stack{n}@example.com" for n in range(LEADS)
        }

        assert len(stack.children) >= 5, "four services and a broker"
        postmaster = stack.postmaster()
        assert postmaster is not None and alive([postmaster])
        every_process = [*stack.children, postmaster]
        capture = service_process(stack.children, "capture")

        # A backlog at the stop: the consumers are frozen while a burst of leads comes in, and
        # thawed only once capture has stopped. Their events are still unhandled when the stop
        # begins, so they are handled before the in-memory broker goes only if the stop drains.
        frozen = [service_process(stack.children, name) for name in SERVICES[1:]]
        for process in frozen:
            process.suspend()
        try:
            with (
                httpx.Client(headers={"Authorization": f"Bearer {marketing_key}"}) as http,
                ThreadPoolExecutor(4) as pool,
            ):
                answers = pool.map(
                    lambda n: http.post(
                        f"{state['services']['capture']}/v1/leads",
                        json={"email": f"stack{n}@example.com"},
                    ),
                    range(LEADS, LEADS + BURST),
                )
                assert [a.status_code for a in answers] == [202] * BURST
            stopping = time.monotonic()
            up.send_signal(signal.SIGINT)
            # Ctrl-C again, then SIGTERM, while stopping: capture is down, the rest not yet.
            wait_until(lambda: not alive([capture]), 10, "capture to stop first")
        finally:
            for process in alive(frozen):
                process.resume()
        up.send_signal(signal.SIGINT)
        up.send_signal(signal.SIGTERM)
        output, _ = up.communicate(timeout=20)
        stopped_in = time.monotonic() - stopping
        assert up.returncode == 0, output
        assert stopped_in < 10, f"stops within 10 s, took {stopped_in:.1f}s"
        _, left = psutil.wait_procs(every_process, timeout=2)
        assert not left, f"left behind: {[p.cmdline() for p in left]}"
        assert not stack.state_file.exists()
        assert not stack.postmaster_file.exists()

    # The broker kept its records in memory only: each consumer must have handled every event
    # before it was stopped (the drain to zero lag), or those events are lost.
    inboxes = consumers_of(LeadCapturedEvent)
    assert inboxes, "some service consumes lead.captured.v1"
    handled, unsent, event_ids = after_the_stop(stack.home / "pgdata", inboxes, topic)
    assert unsent == 0, "capture's outbox was not drained"
    assert len(event_ids) == LEADS + BURST
    for name, ids in handled.items():
        assert event_ids <= ids, f"{name} had not handled {len(event_ids - ids)} events at stop"

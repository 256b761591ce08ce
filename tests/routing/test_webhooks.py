"""Webhooks: the target rule (pure), and signed deliveries to a local receiver on 127.0.0.1
with retries, per-lead order, dead after N attempts and an admin retry."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.routing.app import create_app
from services.routing.webhooks import sender
from services.routing.webhooks.rules import backoff_s, check_target
from shared.events import LeadFeedback, LeadFeedbackEvent, ReasonCode, Verdict
from shared.problems import Invalid
from tests.helpers import auth, running, wait_for
from tests.routing.conftest import Routing, mql, rep, team

# ---- the target rule --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.5",
        "172.16.9.9",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "0.0.0.0",
    ],
)
def test_production_refuses_internal_addresses(address: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_target(
            "https://crm.example/h", production=True, allowed_hosts=[], addresses=[address]
        )
    assert refused.value.problems[0].field == "url"
    assert "internal" in refused.value.problems[0].reason


def test_production_allows_public_and_allow_listed_hosts_and_tests_allow_loopback() -> None:
    check_target("https://crm.example/h", production=True, allowed_hosts=[], addresses=["8.8.8.8"])
    check_target(
        "http://CRM.internal/h",
        production=True,
        allowed_hosts=["crm.internal"],
        addresses=["10.0.0.7"],
    )
    check_target("http://127.0.0.1:9/h", production=False, allowed_hosts=[], addresses=[])


@pytest.mark.parametrize(
    "url",
    ["ftp://crm.example/h", "file:///etc/passwd", "crm.example/h", "http://user:pw@crm.example/"],
)
def test_only_http_urls_without_credentials(url: str) -> None:
    with pytest.raises(Invalid):
        check_target(url, production=False, allowed_hosts=[], addresses=[])


def test_one_internal_address_among_public_ones_is_refused() -> None:
    with pytest.raises(Invalid):
        check_target(
            "https://x.example",
            production=True,
            allowed_hosts=[],
            addresses=["8.8.8.8", "10.0.0.1"],
        )


@given(st.integers(1, 40), st.integers(0, 2**32))
def test_backoff_grows_with_jitter_and_stays_capped(attempts: int, seed: int) -> None:
    rng = random.Random(seed)
    delay = backoff_s(attempts, base_s=2.0, cap_s=600.0, rng=rng)
    ceiling = min(600.0, 2.0 * 2 ** (attempts - 1))
    assert ceiling / 2 <= delay <= ceiling


# ---- deliveries -------------------------------------------------------------------------------


class Receiver:
    """A webhook receiver on 127.0.0.1: answers with `codes` in turn (the last one repeats)."""

    def __init__(self, codes: list[int]) -> None:
        self.codes, self.requests = list(codes), []  # type: ignore[var-annotated]
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                with outer.lock:
                    code = outer.codes.pop(0) if len(outer.codes) > 1 else outer.codes[0]
                    outer.requests.append((dict(self.headers), body, code))
                self.send_response(code)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    @contextmanager
    def serving(self) -> Iterator[Receiver]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sender.POLICY, "backoff_base_s", 0.2)
    monkeypatch.setattr(sender.POLICY, "max_attempts", 3)


@pytest.mark.asyncio
async def test_signed_delivery_retried_after_500_dead_after_n_and_admin_retry(
    routing: Routing, api_keys: dict[str, str], fast_retries: None
) -> None:
    await routing.load(teams=[team(fallback=True)], reps=[rep("ann", capacity=5)])
    admin = auth(api_keys["admin"])
    flaky, broken = Receiver([500, 200]), Receiver([503])
    with flaky.serving(), broken.serving():
        async with running(create_app(routing.settings), wait_ready=False) as client:
            hooks = {}
            for name, receiver in (("flaky", flaky), ("broken", broken)):
                made = await client.post(
                    "/v1/webhooks",
                    json={"url": receiver.url, "event_types": ["lead.assigned"]},
                    headers=admin,
                )
                assert made.status_code == 201, made.text
                hooks[name] = made.json()
                assert hooks[name]["secret"].startswith("whsec_")
            listed = (await client.get("/v1/webhooks", headers=admin)).json()
            assert all("secret" not in h for h in listed)
            lead = mql()
            await routing.send(lead)

            await wait_for(lambda: len(flaky.requests) >= 2, timeout_s=30, message="retry")
            assert [code for _, _, code in flaky.requests] == [500, 200]
            headers, body, _ = flaky.requests[1]
            verified = Webhook(hooks["flaky"]["secret"]).verify(body, headers)
            assert verified["type"] == "lead.assigned"
            assert verified["data"]["lead_id"] == str(lead.lead_id)
            assert verified["data"]["payload"]["rep_id"] == "ann"
            assert flaky.requests[0][0]["webhook-id"] == headers["webhook-id"]  # same message
            with pytest.raises(
                WebhookVerificationError
            ):  # another subscription's secret does not verify
                Webhook(hooks["broken"]["secret"]).verify(body, headers)

            async def deliveries(name: str) -> list[dict[str, Any]]:
                url = f"/v1/webhooks/{hooks[name]['id']}/deliveries"
                return list((await client.get(url, headers=admin)).json())

            async def settled(name: str, status: str) -> list[dict[str, Any]]:
                found = await deliveries(name)
                return found if found and found[0]["status"] == status else []

            [ok] = await wait_for(lambda: settled("flaky", "delivered"), message="delivered")
            assert [e["status_code"] for e in ok["log"]] == [500, 200]
            assert ok["log"][0]["next_attempt_at"] is not None
            assert all(e["latency_ms"] >= 0 for e in ok["log"])

            [dead] = await wait_for(lambda: settled("broken", "dead"), timeout_s=30, message="dead")
            assert dead["attempts"] == 3 and len(broken.requests) == 3
            assert len(flaky.requests) == 2  # delivered once, never again

            early = await client.post(f"/v1/deliveries/{ok['id']}/retry", headers=admin)
            assert early.status_code == 409
            broken.codes = [204]
            retried = await client.post(f"/v1/deliveries/{dead['id']}/retry", headers=admin)
            assert retried.status_code == 200 and retried.json()["status"] == "pending"
            await wait_for(lambda: settled("broken", "delivered"), message="retried delivery")
            assert len(broken.requests) == 4


@pytest.mark.asyncio
async def test_bad_subscriptions_are_refused_by_field(
    routing: Routing, api_keys: dict[str, str]
) -> None:
    async with running(create_app(routing.settings), wait_ready=False) as client:
        admin = auth(api_keys["admin"])
        bad_url = await client.post(
            "/v1/webhooks",
            json={"url": "ftp://x.example", "event_types": ["lead.assigned"]},
            headers=admin,
        )
        assert bad_url.status_code == 422
        assert bad_url.json()["errors"][0]["field"] == "url"
        bad_type = await client.post(
            "/v1/webhooks",
            json={"url": "https://x.example", "event_types": ["lead.sold"]},
            headers=admin,
        )
        assert bad_type.status_code == 422
        assert bad_type.json()["errors"][0]["field"] == "event_types[0]"
        marketing = await client.get("/v1/webhooks", headers=auth(api_keys["marketing"]))
        assert marketing.status_code == 403
        gone = await client.delete(
            "/v1/webhooks/00000000-0000-0000-0000-000000000000", headers=admin
        )
        assert gone.status_code == 404


@pytest.mark.asyncio
async def test_deliveries_for_one_lead_keep_their_order(
    routing: Routing, api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lead queued (no rep has room), then assigned when a slot frees: its queued delivery
    fails once and the assigned one waits behind it until the retry succeeds."""
    monkeypatch.setattr(sender.POLICY, "backoff_base_s", 3.0)  # retry after the assignment
    await routing.load(teams=[team(fallback=True)], reps=[rep("ann", capacity=1)])
    receiver = Receiver([200, 500, 200])
    with receiver.serving():
        async with running(create_app(routing.settings), wait_ready=False) as client:
            made = await client.post(
                "/v1/webhooks",
                json={"url": receiver.url, "event_types": ["lead.queued", "lead.assigned"]},
                headers=auth(api_keys["admin"]),
            )
            assert made.status_code == 201
            first, second = mql(), mql()
            await routing.send(first)
            await wait_for(lambda: len(receiver.requests) == 1, message="first assigned")
            await routing.send(second)  # queued: ann is full; its delivery gets the 500
            await wait_for(lambda: len(receiver.requests) == 2, message="queued delivery")
            await routing.send(
                LeadFeedbackEvent(  # ann rejects the first lead: the second is assigned to her
                    producer="feedback",
                    lead_id=first.lead_id,
                    payload=LeadFeedback(
                        verdict=Verdict.rejected, reason_code=ReasonCode.no_budget, rep_id=None
                    ),
                )
            )
            await wait_for(
                lambda: routing.rows(
                    "SELECT 1 FROM routing.assignments WHERE lead_id = :l", l=second.lead_id
                ),
                message="second assigned",
            )

            def of_second() -> list[tuple[str, int]]:
                return [
                    (json.loads(body)["type"], code)
                    for _, body, code in receiver.requests
                    if json.loads(body)["data"]["lead_id"] == str(second.lead_id)
                ]

            await wait_for(lambda: len(of_second()) == 3, timeout_s=30, message="both delivered")
            assert of_second() == [
                ("lead.queued", 500),
                ("lead.queued", 200),
                ("lead.assigned", 200),
            ]

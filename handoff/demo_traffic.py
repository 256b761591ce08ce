"""`handoff demo`: believable traffic through the real APIs, so the dashboard fills up.

Two halves:

- `generate(seed, count)` (pure, seeded, reproducible): leads as marketing gets them — sources and
  UTM campaigns of different quality, countries, company sizes, job titles, a share of free-mail
  addresses, some people who come back (duplicates, which capture merges) — each with behaviour:
  page views, pricing views, downloads, webinars, demo requests. Benchmarks and learning tests
  use the same generator.
- `run_demo(...)`: posts them through capture's API (`POST /v1/leads`, `POST /v1/activities`),
  then plays the sales side: every lead routing assigns is answered after a delay through
  feedback's API (`POST /v1/feedback`, a crm key acting for the assigned rep) — accepted or
  rejected with a reason, as a rep judging the profile would, and accepted ones later converted,
  won (with a value) or lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

# ---- who comes, from where ---------------------------------------------------------------------

# (source, utm_source, utm_medium, utm_campaign, weight, intent): intent moves behaviour and fit
CHANNELS: tuple[tuple[str, str | None, str | None, str | None, int, float], ...] = (
    ("ads", "google", "cpc", "spring-launch", 30, 0.55),
    ("ads", "linkedin", "paid-social", "cfo-roundtable", 15, 0.7),
    ("ads", "facebook", "paid-social", "free-ebook", 15, 0.2),
    ("organic", None, None, None, 15, 0.5),
    ("email", "newsletter", "email", "march-newsletter", 10, 0.45),
    ("partner", "partnerco", "referral", "partner-q2", 8, 0.75),
    ("events", "saastr", "event", "saastr-booth", 7, 0.6),
)
# (country, weight): mostly where the demo organisation sells
COUNTRIES = (
    ("US", 26),
    ("GB", 14),
    ("DE", 10),
    ("FR", 7),
    ("NL", 5),
    ("IE", 3),
    ("ES", 4),
    ("CA", 5),
    ("BR", 4),
    ("IN", 8),
    ("AU", 5),
    ("SG", 4),
    ("JP", 3),
    ("IR", 1),
)
SIZES: tuple[tuple[str, int], ...] = (
    ("1-10", 18),
    ("11-50", 22),
    ("51-200", 22),
    ("201-500", 14),
    ("501-1000", 9),
    ("1001-5000", 9),
    ("5001+", 6),
)
INDUSTRIES: tuple[tuple[str, int], ...] = (
    ("software", 25),
    ("saas", 15),
    ("fintech", 10),
    ("manufacturing", 12),
    ("retail", 12),
    ("healthcare", 10),
    ("education", 10),
    ("gambling", 2),
)
# (title, seniority 0..1)
TITLES = (
    ("CEO", 1.0),
    ("CTO", 1.0),
    ("Founder", 0.9),
    ("VP Sales", 0.9),
    ("VP Marketing", 0.85),
    ("Head of Engineering", 0.8),
    ("Director of Operations", 0.75),
    ("Head of Revenue Operations", 0.8),
    ("Marketing Manager", 0.5),
    ("Engineering Manager", 0.55),
    ("Sales Lead", 0.45),
    ("Software Engineer", 0.25),
    ("Analyst", 0.2),
    ("Consultant", 0.3),
    ("Student", 0.0),
    ("Intern", 0.05),
)
FIRST = "Ada Grace Alan Katherine Linus Margaret Dennis Barbara Ken Radia Tim Frances Edsger Hedy"
FIRST += " Guido Anita John Sophie Marta Kenji Priya Omar Lucia Wei Noor Sam Mia Luis Rosa Ines"
LAST = "Lovelace Hopper Turing Johnson Torvalds Hamilton Ritchie Liskov Thompson Perlman Berners"
LAST += " Allen Dijkstra Lamarr Rossum Borg Backus Wilson Silva Sato Nair Haddad Ortega Lim Aziz"
COMPANY_WORDS = "Orbit Quanta Northwind Fabrikam Contoso Globex Initech Umbrella Stark Wayne Acme"
COMPANY_WORDS += " Hooli Vandelay Soylent Tyrell Cyberdyne Aperture Massive Monarch Pied Piper"
SUFFIXES = ("Ltd", "GmbH", "Inc", "Labs", "Systems", "Group", "AG", "BV")
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "gmx.de")
PAGES = ("/", "/product", "/integrations", "/customers", "/blog/lead-scoring", "/about")
ASSETS = ("state-of-b2b-sales.pdf", "scoring-playbook.pdf", "roi-calculator.xlsx")
FREE_MAIL_SHARE = 0.22
DUPLICATE_SHARE = 0.06
CONSENT_SHARE = 0.93


@dataclass(frozen=True)
class Activity:
    activity_type: str
    minutes_ago: int
    properties: dict[str, str] = field(default_factory=dict)

    def body(self, email: str, now: datetime) -> dict[str, Any]:
        at = now - timedelta(minutes=self.minutes_ago)
        return {
            "email": email,
            "activity_type": self.activity_type,
            "happened_at": at.isoformat(),
            "properties": self.properties,
        }


@dataclass(frozen=True)
class DemoLead:
    lead: dict[str, Any]  # the body of POST /v1/leads
    activities: tuple[Activity, ...]
    duplicate: bool  # the same person again (capture merges it)

    @property
    def email(self) -> str:
        return str(self.lead["email"])


def _pick(rng: random.Random, weighted: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    return rng.choices(weighted, weights=[row[-1] for row in weighted])[0]


def _company(rng: random.Random) -> tuple[str, str]:
    word = rng.choice(COMPANY_WORDS.split())
    name = f"{word} {rng.choice(SUFFIXES)}"
    return name, f"{word.lower()}{rng.randint(1, 999)}.example"


def _behaviour(rng: random.Random, intent: float) -> tuple[Activity, ...]:
    """What a person of this intent does over the last two days, oldest first."""
    acts: list[Activity] = []

    def when() -> int:
        return rng.randint(1, 48 * 60)

    for _ in range(rng.randint(1, 3 + int(6 * intent))):
        acts.append(Activity("page_view", when(), {"url": rng.choice(PAGES)}))
    for _ in range(rng.choices([0, 1, 2], weights=[1 - intent, intent * 0.6, intent * 0.4])[0]):
        if rng.random() < 0.5:
            acts.append(Activity("pricing_page_view", when(), {"url": "/pricing"}))
        else:
            acts.append(Activity("page_view", when(), {"url": "/pricing"}))
    if rng.random() < 0.35:
        acts.append(Activity("content_download", when(), {"asset": rng.choice(ASSETS)}))
    if rng.random() < 0.15 + 0.2 * intent:
        acts.append(Activity("webinar_attended", when(), {"campaign": "monthly-webinar"}))
    if rng.random() < 0.1 + 0.2 * intent:
        acts.append(Activity("email_click", when(), {"campaign": "nurture"}))
    if rng.random() < 0.08 + 0.45 * intent:
        acts.append(Activity("demo_request", when()))
    elif rng.random() < 0.1 * intent:
        acts.append(Activity("trial_signup", when()))
    return tuple(sorted(acts, key=lambda a: -a.minutes_ago))


def generate(seed: int, count: int) -> list[DemoLead]:
    """`count` leads, the same ones for the same seed."""
    rng = random.Random(seed)
    leads: list[DemoLead] = []
    for index in range(count):
        if leads and rng.random() < DUPLICATE_SHARE:
            again = rng.choice(leads)
            channel = _pick(rng, CHANNELS)
            repeat = dict(again.lead) | {"attribution": _attribution(channel)}
            leads.append(DemoLead(repeat, _behaviour(rng, channel[5]), duplicate=True))
            continue
        channel = _pick(rng, CHANNELS)
        intent = channel[5]
        first, last = rng.choice(FIRST.split()), rng.choice(LAST.split())
        company, domain = _company(rng)
        title = rng.choices(TITLES, weights=[1 + 2 * intent * s for _, s in TITLES])[0][0]
        free = rng.random() < FREE_MAIL_SHARE
        local = f"{first}.{last}{index}".lower()
        email = f"{local}@{rng.choice(FREE_MAIL) if free else domain}"
        body: dict[str, Any] = {
            "email": email,
            "first_name": first,
            "last_name": last,
            "job_title": title,
            "company": company,
            "company_size": _pick(rng, SIZES)[0],
            "industry": _pick(rng, INDUSTRIES)[0],
            "country": _pick(rng, COUNTRIES)[0],
            "language": "en",
            "consent": {"given": rng.random() < CONSENT_SHARE, "text_version": "demo-2026-01"},
            "attribution": _attribution(channel),
        }
        leads.append(DemoLead(body, _behaviour(rng, intent), duplicate=False))
    return leads


def _attribution(channel: tuple[Any, ...]) -> dict[str, str]:
    names = ("source", "utm_source", "utm_medium", "utm_campaign")
    return {name: value for name, value in zip(names, channel[:4], strict=True) if value}


# ---- the sales side ----------------------------------------------------------------------------

REJECT_REASONS = (
    ("no_budget", 30),
    ("no_need", 20),
    ("no_authority", 20),
    ("bad_timing", 15),
    ("bad_contact_data", 8),
    ("other", 7),
)
SENIORITY = dict(TITLES)


def _roll(seed: int, lead_id: str, step: str) -> random.Random:
    """The same choice for the same lead, seed and step, whatever order leads arrive in."""
    digest = hashlib.sha256(f"{seed}|{lead_id}|{step}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def sales_answer(seed: int, lead: dict[str, Any]) -> dict[str, Any] | None:
    """What a rep says about a lead feedback lists (its `LeadOut`), or None to wait."""
    stage, lead_id = lead["stage"], str(lead["lead_id"])
    title = str(lead.get("job_title") or "")
    rng = _roll(seed, lead_id, stage)
    body: dict[str, Any] = {"lead_id": lead_id}
    if stage == "assigned":
        if title in {"Student", "Intern"}:
            return body | {"verdict": "rejected", "reason_code": "student", "quality_rating": 1}
        fit = SENIORITY.get(title, 0.4) * 0.6 + min((lead.get("score") or 0) / 100, 1) * 0.4
        if rng.random() < 0.25 + 0.6 * fit:
            return body | {"verdict": "accepted", "quality_rating": 3 + round(2 * fit)}
        if rng.random() < 0.15:
            return body | {"verdict": "recycled", "reason_code": "bad_timing"}
        reason = _pick(rng, REJECT_REASONS)[0]
        return body | {"verdict": "rejected", "reason_code": reason, "quality_rating": 2}
    if stage == "accepted":
        if rng.random() < 0.6:
            return body | {"verdict": "converted"}
        return body | {"verdict": "lost", "reason_code": _pick(rng, REJECT_REASONS[:4])[0]}
    if stage == "converted":
        if rng.random() < 0.55:
            value = rng.choice((4800, 9600, 12000, 24000, 36000, 60000))
            return body | {"verdict": "won", "deal_value": str(value), "currency": "EUR"}
        return body | {"verdict": "lost", "reason_code": "competitor"}
    return None


# ---- running it against a stack ----------------------------------------------------------------


@dataclass
class Tally:
    posted: int = 0
    activities: int = 0
    refused: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    verdicts_refused: dict[int, int] = field(default_factory=dict)  # by HTTP status


async def _post_leads(
    client: httpx.AsyncClient,
    capture_url: str,
    leads: Sequence[DemoLead],
    tally: Tally,
    progress: Progress,
    task: Any,
    concurrency: int,
) -> None:
    gate = asyncio.Semaphore(concurrency)
    now = datetime.now(UTC)

    async def one(lead: DemoLead) -> None:
        async with gate:
            answer = await _post(client, f"{capture_url}/v1/leads", lead.lead)
            if answer.status_code != 202:
                tally.refused += 1
            else:
                tally.posted += 1
                if lead.activities:
                    batch = {"activities": [a.body(lead.email, now) for a in lead.activities]}
                    done = await _post(client, f"{capture_url}/v1/activities", batch)
                    if done.status_code == 202:
                        tally.activities += len(lead.activities)
            progress.advance(task)

    await asyncio.gather(*(one(lead) for lead in leads))


RETRIES_AFTER_503 = 4


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> httpx.Response:
    """POST as a well-behaved client: a 503 means nothing was written (the database was away,
    or a concurrent change conflicted), so wait its Retry-After and send the same body again."""
    answer = await client.post(url, json=body)
    for _ in range(RETRIES_AFTER_503):
        if answer.status_code != 503:
            break
        await asyncio.sleep(min(float(answer.headers.get("retry-after", "1")), 5.0))
        answer = await client.post(url, json=body)
    return answer


async def _open_leads(client: httpx.AsyncClient, feedback_url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for state in ("assigned", "accepted", "converted"):
        cursor: str | None = None
        while True:
            params = {"state": state, "limit": "200"} | ({"cursor": cursor} if cursor else {})
            answer = await client.get(f"{feedback_url}/v1/leads", params=params)
            if answer.status_code != 200:
                break
            page = answer.json()
            found.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return found


async def _play_sales(
    client: httpx.AsyncClient,
    feedback_url: str,
    seed: int,
    answer_after_s: float,
    until: float,
    idle_s: float,
    posted: asyncio.Event,
    tally: Tally,
    progress: Progress,
    task: Any,
) -> None:
    """Answer each open lead once it has waited `answer_after_s`, until `until`, or until
    nothing has been open for `idle_s` after every lead was posted and some were answered."""
    first_seen: dict[tuple[str, str], float] = {}
    answered: set[tuple[str, str]] = set()  # each lead at each stage is answered once
    idle_since: float | None = None
    while time.monotonic() < until:
        now = time.monotonic()
        leads = [
            lead
            for lead in await _open_leads(client, feedback_url)
            if (str(lead["lead_id"]), lead["stage"]) not in answered
        ]
        for lead in leads:
            step = (str(lead["lead_id"]), lead["stage"])
            if now - first_seen.setdefault(step, now) < answer_after_s:
                continue
            answered.add(step)
            body = sales_answer(seed, lead)
            if body is None:
                continue
            answer = await _post(client, f"{feedback_url}/v1/feedback", body)
            if answer.status_code == 201:
                verdict = body["verdict"]
                tally.verdicts[verdict] = tally.verdicts.get(verdict, 0) + 1
                progress.advance(task)
            else:
                code = answer.status_code
                tally.verdicts_refused[code] = tally.verdicts_refused.get(code, 0) + 1
        if leads or not posted.is_set() or not tally.verdicts:
            idle_since = None  # a busy stack may take a while to assign the first lead
        elif idle_since is None:
            idle_since = now
        elif now - idle_since > max(idle_s, 2 * answer_after_s):
            return
        await asyncio.sleep(0.5)


async def run_demo(
    *,
    capture_url: str,
    feedback_url: str,
    marketing_key: str,
    crm_key: str,
    seed: int,
    count: int,
    answer_after_s: float,
    sales_for_s: float,
    idle_s: float = 10.0,
    concurrency: int = 8,
    console: Console | None = None,
) -> Tally:
    leads = generate(seed, count)
    tally = Tally()
    columns = (
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        posting = progress.add_task("leads posted", total=len(leads))
        judging = progress.add_task("verdicts given", total=None)
        async with (
            httpx.AsyncClient(
                headers={"Authorization": f"Bearer {marketing_key}"}, timeout=30
            ) as marketing,
            httpx.AsyncClient(headers={"Authorization": f"Bearer {crm_key}"}, timeout=30) as crm,
        ):
            until, posted = time.monotonic() + sales_for_s, asyncio.Event()
            sales = asyncio.create_task(
                _play_sales(
                    crm,
                    feedback_url,
                    seed,
                    answer_after_s,
                    until,
                    idle_s,
                    posted,
                    tally,
                    progress,
                    judging,
                )
            )
            try:
                await _post_leads(
                    marketing, capture_url, leads, tally, progress, posting, concurrency
                )
                posted.set()
                await sales
            finally:
                sales.cancel()
    return tally


# ---- the command -------------------------------------------------------------------------------


def _stack_urls(home: Path) -> dict[str, str]:
    state = home / "stack.json"
    if state.exists():
        import json

        services: dict[str, str] = json.loads(state.read_text()).get("services", {})
        return services
    return {}


def demo(
    leads: Annotated[int, typer.Option(min=1, max=100_000, help="How many leads to post.")] = 300,
    seed: Annotated[int, typer.Option(help="The same seed gives the same leads.")] = 7,
    answer_after: Annotated[
        float, typer.Option(min=0, help="Seconds a rep takes to answer an assignment.")
    ] = 3.0,
    sales_for: Annotated[
        float, typer.Option(min=1, help="Seconds the simulated sales side keeps answering.")
    ] = 50.0,
    capture_url: Annotated[str | None, typer.Option(help="Default: the running stack's.")] = None,
    feedback_url: Annotated[str | None, typer.Option(help="Default: the running stack's.")] = None,
    home: Annotated[Path, typer.Option(envvar="HANDOFF_HOME")] = Path(".handoff"),
) -> None:
    """Fill the running stack with believable, reproducible traffic: leads and their behaviour
    through capture's API, and a simulated sales side answering assignments through feedback's."""
    from handoff.keys import create_api_key
    from handoff.running import settings_for_running_stack
    from shared.auth import Role

    console = Console()
    urls = _stack_urls(home)
    capture = (capture_url or urls.get("capture") or "http://127.0.0.1:8001").rstrip("/")
    feedback = (feedback_url or urls.get("feedback") or "http://127.0.0.1:8004").rstrip("/")
    settings = settings_for_running_stack(home)

    async def main() -> Tally:
        keys = {}
        for role in (Role.marketing, Role.crm):
            _, keys[role] = await create_api_key(
                settings.database_url, settings.secret_key, role=role, name=f"demo {role.value}"
            )
        return await run_demo(
            capture_url=capture,
            feedback_url=feedback,
            marketing_key=keys[Role.marketing],
            crm_key=keys[Role.crm],
            seed=seed,
            count=leads,
            answer_after_s=answer_after,
            sales_for_s=sales_for,
            console=console,
        )

    try:
        tally = asyncio.run(main())
    except (httpx.HTTPError, OSError) as error:
        console.print(f"[red]the stack is not answering: {error}[/red] (is `make run` up?)")
        raise typer.Exit(1) from None
    verdicts = ", ".join(f"{n} {v}" for v, n in sorted(tally.verdicts.items())) or "none"
    if tally.verdicts_refused:
        verdicts += f" (refused: {tally.verdicts_refused})"
    console.print(
        f"posted {tally.posted} leads ({tally.refused} refused) and {tally.activities} "
        f"activities; verdicts: {verdicts}"
    )
    console.print(f"see {feedback}/dashboard")

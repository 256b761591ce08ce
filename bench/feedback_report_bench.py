"""How long feedback's reports take over a year of 1,000,000 leads.

    .venv/bin/python bench/feedback_report_bench.py [--leads 1000000] [--runs 15]

One run: starts an embedded PostgreSQL in a temporary directory, runs every migration, writes
`--leads` generated leads straight into `feedback.lead_facts` (one year, 40 campaigns, 5 forms,
60 reps in 6 teams, 3 scoring models, a plausible funnel), builds the report aggregates from
them exactly as the consumers' diffs would leave them (one row per day and grouping value), and
then times the report use cases (`services.feedback.reports`, the SQL and the arithmetic, not
HTTP) over the whole year: the median and p90 of `--runs` runs after two warm-ups.

Baseline, in the same run: the same funnel computed straight from the 1,000,000 lead facts
(GROUP BY over every lead), which is what a report without aggregate tables would do. The
script checks that both give the same numbers before it times anything.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.embedded import EmbeddedPostgres
from services.feedback import reports
from services.feedback.domain.aggregates import COUNTERS
from services.feedback.domain.facts import DIMENSIONS, Step
from services.feedback.domain.reports import funnel_row
from shared.db import create_engine, session_factory
from shared.migrations import upgrade_all

YEAR = (date(2025, 1, 1), date(2025, 12, 31))

# Stage by a uniform draw u: 2 % won, 2 % lost, 1 % converted, 5 % accepted, 5 % rejected,
# 2 % recycled, 1 % assigned, 2 % queued, 10 % returned, 5 % MQL waiting, 65 % never MQL.
LEADS_SQL = """
INSERT INTO feedback.lead_facts
SELECT
    gen_random_uuid(), day,
    (ARRAY['ads','web','events','partners','email'])[c % 5 + 1],
    'form-' || (i * 7 % 5),
    (ARRAY['google','linkedin','newsletter','partner'])[c % 4 + 1],
    (ARRAY['cpc','social','email'])[c % 3 + 1],
    'campaign-' || c,
    CASE WHEN u < 0.20 THEN 'team-' || (r / 10) ELSE '' END,
    CASE WHEN u < 0.18 THEN 'rep-' || r ELSE '' END,
    CASE WHEN u < 0.35 THEN 'm' || ((day - DATE '2025-01-01') / 122) ELSE '' END,
    CASE
        WHEN u < 0.02 THEN ARRAY['lead','mql','sql','accepted','opportunity','won']
        WHEN u < 0.04 THEN ARRAY['lead','mql','sql','accepted','lost']
        WHEN u < 0.05 THEN ARRAY['lead','mql','sql','accepted','opportunity']
        WHEN u < 0.10 THEN ARRAY['lead','mql','sql','accepted']
        WHEN u < 0.15 THEN ARRAY['lead','mql','sql','rejected']
        WHEN u < 0.17 THEN ARRAY['lead','mql','sql','recycled']
        WHEN u < 0.18 THEN ARRAY['lead','mql','sql']
        WHEN u < 0.20 THEN ARRAY['lead','mql','sql','queued']
        WHEN u < 0.30 THEN ARRAY['lead','mql','returned']
        WHEN u < 0.35 THEN ARRAY['lead','mql']
        ELSE ARRAY['lead']
    END,
    CASE
        WHEN u < 0.02 THEN 'won' WHEN u < 0.04 THEN 'lost' WHEN u < 0.05 THEN 'converted'
        WHEN u < 0.10 THEN 'accepted' WHEN u < 0.15 THEN 'rejected'
        WHEN u < 0.17 THEN 'recycled' WHEN u < 0.18 THEN 'assigned'
        WHEN u < 0.20 THEN 'queued' WHEN u < 0.30 THEN 'returned'
        WHEN u < 0.35 THEN 'mql' ELSE 'captured'
    END,
    captured + interval '4 days',
    captured,
    CASE WHEN u < 0.35 THEN mql END,
    CASE WHEN u < 0.18 THEN assigned END,
    CASE WHEN u < 0.18 THEN assigned END,
    CASE WHEN u < 0.17 THEN verdict END,
    CASE WHEN u < 0.18 THEN assigned + interval '1 day' END,
    CASE WHEN u < 0.17 THEN verdict <= assigned + interval '1 day' END,
    CASE WHEN u < 0.18 AND i % 11 = 0 THEN 1 ELSE 0 END,
    CASE WHEN u < 0.17 THEN 1 + i % 5 END,
    CASE WHEN u < 0.02 THEN NULL WHEN u < 0.04 THEN 'lost' WHEN u < 0.10 THEN NULL
         WHEN u < 0.15 THEN 'rejected' WHEN u < 0.17 THEN 'recycled' END,
    CASE WHEN u < 0.02 THEN NULL WHEN u < 0.04 THEN 'competitor' WHEN u < 0.10 THEN NULL
         WHEN u < 0.15 THEN (ARRAY['no_budget','no_need','spam'])[i % 3 + 1]
         WHEN u < 0.17 THEN 'bad_timing' END,
    CASE WHEN u < 0.02 THEN 'EUR' END,
    CASE WHEN u < 0.02 THEN round((1000 + random() * 50000)::numeric, 2) END
FROM (
    SELECT i, u, c, r, day,
        captured,
        captured + random() * interval '3 days' AS mql,
        captured + interval '3 days' + random() * interval '8 hours' AS assigned,
        captured + interval '3 days 8 hours' + random() * interval '2 days' AS verdict
    FROM (
        SELECT i, random() AS u, (hashint4(i) & 65535) % 40 AS c, i % 60 AS r,
            DATE '2025-01-01' + i % 365 AS day,
            (DATE '2025-01-01' + i % 365) + random() * interval '1 day' AS captured
        FROM generate_series(1, :leads) AS i
    ) drawn
) timed
"""


def counter_sql(name: str) -> str:
    if name in {step.value for step in Step}:
        return f"count(*) FILTER (WHERE '{name}' = ANY(steps))"
    return {
        "judged": "count(first_verdict_at)",
        "rating_sum": "coalesce(sum(rating), 0)",
        "rating_count": "count(rating)",
        "sla_met": "count(*) FILTER (WHERE sla_met)",
        "sla_missed": "count(*) FILTER (WHERE NOT sla_met)",
        "reassigned": "sum(reassigned)",
    }[name]


SPAN_SQL = {
    "capture_to_mql": "extract(epoch FROM mql_at - captured_at)",
    "mql_to_assignment": "extract(epoch FROM first_assigned_at - mql_at)",
    "assignment_to_verdict": "extract(epoch FROM first_verdict_at - assigned_at)",
}


def bucket_sql(seconds: str) -> str:
    """`domain.histogram.bucket_of`, in SQL."""
    return f"CASE WHEN {seconds} < 1 THEN 0 ELSE 1 + floor(8 * ln({seconds}) / ln(2)) END"


def rollup_sql(dimension: str) -> list[str]:
    """What the consumers' diffs add up to, for one grouping: one row per day and value."""
    value = "''" if dimension == "all" else dimension
    by = "day" if dimension == "all" else f"day, {dimension}"
    counters = ", ".join(counter_sql(name) for name in COUNTERS)
    return [
        f"""INSERT INTO feedback.segment_day (day, dimension, value, {", ".join(COUNTERS)})
            SELECT day, '{dimension}', {value}, {counters}
            FROM feedback.lead_facts GROUP BY {by}""",
        f"""INSERT INTO feedback.reason_day
            SELECT day, '{dimension}', {value}, reason_verdict, reason_code, count(*)
            FROM feedback.lead_facts WHERE reason_verdict IS NOT NULL
            GROUP BY {by}, reason_verdict, reason_code""",
        f"""INSERT INTO feedback.revenue_day
            SELECT day, '{dimension}', {value}, revenue_currency, count(*), sum(revenue_amount)
            FROM feedback.lead_facts WHERE revenue_currency IS NOT NULL
            GROUP BY {by}, revenue_currency""",
        *(
            f"""INSERT INTO feedback.speed_day
                SELECT day, '{dimension}', {value}, '{metric}', {bucket_sql(span)}, count(*)
                FROM feedback.lead_facts WHERE {span} IS NOT NULL
                GROUP BY {by}, {bucket_sql(span)}"""
            for metric, span in SPAN_SQL.items()
        ),
    ]


FLOW_SQL = [
    """INSERT INTO feedback.flow_day
       SELECT d::date, 800 + (random() * 200)::int, 55, 70, 60, d + interval '23 hours'
       FROM generate_series(DATE '2025-01-01', DATE '2025-12-31', interval '1 day') AS d""",
    """INSERT INTO feedback.capacity_day
       SELECT d::date, 'team-' || t, 10, 200, 150, 50, (random() * 30)::int, 40,
              d + interval '23 hours'
       FROM generate_series(DATE '2025-01-01', DATE '2025-12-31', interval '1 day') AS d,
            generate_series(0, 5) AS t""",
]


async def baseline_funnel(session: AsyncSession, group_by: str | None) -> list[dict[str, object]]:
    """The funnel straight from every lead's facts: no aggregate tables."""
    group = f"{group_by} AS grp, " if group_by else ""
    steps = ", ".join(f"{counter_sql(s.value)} AS {s.value}" for s in Step)
    sql = f"""SELECT {group}{steps} FROM feedback.lead_facts
              WHERE day BETWEEN :since AND :until
              {"GROUP BY grp ORDER BY grp" if group_by else ""}"""
    rows = (await session.execute(text(sql), {"since": YEAR[0], "until": YEAR[1]})).all()
    out = []
    for row in rows:
        body = funnel_row({s.value: int(getattr(row, s.value)) for s in Step})
        out.append({group_by: row.grp or None, **body} if group_by else body)
    return out


async def exact_speed(session: AsyncSession, group_by: str) -> dict[object, dict[str, float]]:
    """The exact p50/p90 of every span per group: percentile_cont over every lead's facts."""
    columns = ", ".join(
        f"percentile_cont({q / 100}) WITHIN GROUP (ORDER BY {span}) AS {metric}_p{q}"
        for metric, span in SPAN_SQL.items()
        for q in (50, 90)
    )
    sql = f"""SELECT {group_by} AS grp, {columns} FROM feedback.lead_facts
              WHERE day BETWEEN :since AND :until GROUP BY grp"""
    rows = (await session.execute(text(sql), {"since": YEAR[0], "until": YEAR[1]})).all()
    return {row.grp or None: dict(row._mapping) for row in rows}


def worst_deviation(
    ours: list[dict[str, object]], exact: dict[object, dict[str, float]], group_by: str
) -> float:
    worst = 0.0
    for row in ours:
        truth = exact[row[group_by]]
        for metric in SPAN_SQL:
            for q in (50, 90):
                value, expected = row[metric][f"p{q}_s"], truth[f"{metric}_p{q}"]  # type: ignore[index]
                if expected:
                    worst = max(worst, abs(value / expected - 1))
    return worst


async def timed(run: Callable[[], Awaitable[object]], runs: int) -> tuple[float, float]:
    for _ in range(2):
        await run()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        await run()
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    return statistics.median(seconds) * 1000, seconds[int(0.9 * (len(seconds) - 1))] * 1000


async def bench(url: str, leads: int, runs: int) -> None:
    engine = create_engine(url, pool_size=2)
    sessions = session_factory(engine)
    started = time.perf_counter()
    async with engine.begin() as connection:
        await connection.execute(text(LEADS_SQL), {"leads": leads})
        for dimension in ("all", *DIMENSIONS):
            for sql in rollup_sql(dimension):
                await connection.execute(text(sql))
        for sql in FLOW_SQL:
            await connection.execute(text(sql))
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE"))
        sizes = {
            table: (
                await connection.execute(text(f"SELECT count(*) FROM feedback.{table}"))
            ).scalar_one()
            for table in ("lead_facts", "segment_day", "reason_day", "revenue_day", "speed_day")
        }
    print(f"loaded in {time.perf_counter() - started:.1f} s; rows: {sizes}")

    async def report(name: str, group_by: str | None) -> list[dict[str, object]]:
        async with sessions() as session:
            return await reports.REPORTS[name](session, *YEAR, group_by)

    async def baseline(group_by: str | None) -> list[dict[str, object]]:
        async with sessions() as session:
            return await baseline_funnel(session, group_by)

    for group_by in (None, "utm_campaign", "rep"):
        assert await report("funnel", group_by) == await baseline(group_by), group_by
    print("funnel from the aggregates == funnel from every lead's facts (all, campaign, rep)")
    async with sessions() as session:
        exact = await exact_speed(session, "rep")
    deviation = worst_deviation(await report("speed", "rep"), exact, "rep")
    print(f"speed by rep: largest p50/p90 deviation from the exact percentiles {deviation:.2%}")

    async def exact_by_rep() -> object:
        async with sessions() as session:
            return await exact_speed(session, "rep")

    title = f"report (a year, {leads:,} leads)"
    print(f"\n{title:<46} {'median ms':>10} {'p90 ms':>8}")
    results = {}
    cases: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("funnel, no grouping", lambda: report("funnel", None)),
        ("funnel by utm_campaign", lambda: report("funnel", "utm_campaign")),
        ("funnel by rep", lambda: report("funnel", "rep")),
        ("BASELINE funnel from lead facts, no grouping", lambda: baseline(None)),
        ("BASELINE funnel from lead facts, by rep", lambda: baseline("rep")),
        ("quality by utm_campaign", lambda: report("quality", "utm_campaign")),
        ("speed by rep", lambda: report("speed", "rep")),
        ("BASELINE speed by rep, exact over lead facts", exact_by_rep),
        ("capacity, per day", lambda: report("capacity", None)),
    ]
    for name, run in cases:
        results[name] = await timed(run, runs)
        print(f"{name:<46} {results[name][0]:>10.1f} {results[name][1]:>8.1f}")
    for ours, theirs in (
        ("funnel, no grouping", "BASELINE funnel from lead facts, no grouping"),
        ("funnel by rep", "BASELINE funnel from lead facts, by rep"),
        ("speed by rep", "BASELINE speed by rep, exact over lead facts"),
    ):
        print(f"{ours}: baseline / aggregates = {results[theirs][0] / results[ours][0]:.1f}x")
    print(f"load average at the end: {os.getloadavg()}")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="feedback-bench-") as data:
        server = EmbeddedPostgres(Path(data) / "pgdata")
        url = server.start()
        try:
            upgrade_all(url)
            asyncio.run(bench(url, args.leads, args.runs))
        finally:
            server.stop()


if __name__ == "__main__":
    main()

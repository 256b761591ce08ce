"""Scoring learning: AUC before/after calibration on the synthetic set, the backtest's time for
100,000 stored leads, and the calibration's time over 100,000 outcomes.

    .venv/bin/python bench/scoring_learning.py [--train 5000] [--test 5000] [--leads 100000]

1. **AUC** (pure, `services/scoring/synthetic.py`): `--train` leads (seed 1) scored by the
   synthetic model, judged by their planted truth (good = accepted/won), are calibrated; the
   proposals are applied to a new version. Both versions are then scored on `--test` *other*
   leads (seed 2); the AUC of each against the truth labels, and the AUC of the truth's own
   probability (the ceiling any model could reach on those labels).
2. **backtest** (embedded PostgreSQL, every migration): `--leads` leads stored in
   `scoring.leads` with the synthetic profile, 30 % with a demo-request activity, every one with
   an outcome, and a capacity history. One backtest of the proposed version beside the active
   one is asked and run to the end by the job's own function (`run_backtests`, back to back, no
   sleeps between runs). Baseline in the same run: the pure scoring of the same leads by the
   two models in memory (what the backtest cannot avoid); the ratio is backtest / baseline.
3. **calibration** (same database): `GET /v1/models/{version}/calibration`'s work, the use case
   `calibration(session, version)` (read every outcome of the version, then calibrate), over the
   `--leads` outcomes stored above (each with the rules `synthetic-1` fired and its score); beside
   it the read alone and the pure `calibrate` alone on the outcomes read.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from handoff.embedded import EmbeddedPostgres
from services.scoring import synthetic
from services.scoring.domain.auc import auc
from services.scoring.domain.calibration import calibrate, points_per_logit
from services.scoring.domain.document import ScoringModel, parse_model
from services.scoring.domain.outcomes import Outcome
from services.scoring.domain.scoring import Activity, Profile, score_lead
from services.scoring.handlers.backtests import RequestBacktest, request_backtest, run_backtests
from services.scoring.handlers.calibration import apply, calibration
from services.scoring.models import activities, capacity_history, leads, outcomes, platform
from services.scoring.repository import add_model, install_active_model, outcomes_of
from shared.db import create_engine, session_factory
from shared.migrations import upgrade_all
from shared.outbox import Outbox
from shared.settings import Settings
from shared.uow import UnitOfWork

NOW = datetime.now(UTC)


def profile(lead: synthetic.SyntheticLead) -> Profile:
    return Profile(
        job_title=lead.job_title,
        company_size=lead.company_size,
        industry=lead.industry,
        country=lead.country,
        utm_campaign=lead.campaign,
        source=lead.source,
        consent_given=True,
    )


def acts(lead: synthetic.SyntheticLead) -> list[Activity]:
    return [Activity("demo_request", NOW - timedelta(hours=1))] if lead.demo else []


def proposed(model: ScoringModel, train: list[synthetic.SyntheticLead]) -> ScoringModel:
    judged = []
    for lead in train:
        s = score_lead(model, profile(lead), acts(lead), NOW)
        stage = "accepted" if lead.good else "rejected"
        judged.append(Outcome(frozenset(f.rule for f in s.fired), s.total, s.grade, stage, NOW))
    rules = {r.id: (r.points, -1000) for r in model.fit_rules}
    rules |= {r.id: (r.points, 1) for r in model.engagement_rules}
    scale = points_per_logit(model.threshold.floor, model.threshold.ceiling)
    found = calibrate(rules, judged, NOW, scale=scale)
    for r in found.rules:
        print(f"  {r.rule:16} {r.points:4} -> {r.proposed_points!s:>5}  {r.note}")
    points = {r.rule: r.proposed_points for r in found.rules if r.proposed_points is not None}
    return apply(model, points, "synthetic-2")


def bench_auc(train_n: int, test_n: int) -> tuple[ScoringModel, ScoringModel]:
    model = parse_model(synthetic.MODEL)
    print(f"calibration on {train_n} synthetic leads (seed 1):")
    better = proposed(model, synthetic.generate(train_n, seed=1))
    test = synthetic.generate(test_n, seed=2)

    def auc_of(m: ScoringModel) -> float:
        found = auc((score_lead(m, profile(x), acts(x), NOW).total, x.good) for x in test)
        assert found is not None
        return found

    before, after = auc_of(model), auc_of(better)
    ceiling = auc((x.truth, x.good) for x in test)
    print(
        f"AUC on {test_n} other leads (seed 2): active {before:.3f}, proposed {after:.3f} "
        f"({after / before:.2f}x); the truth itself {ceiling:.3f}"
    )
    return model, better


async def bench_backtest(count: int, model: ScoringModel, better: ScoringModel) -> None:
    population = synthetic.generate(count, seed=3)
    started, cpu = time.perf_counter(), time.process_time()
    for lead in population:
        for m in (model, better):
            score_lead(m, profile(lead), acts(lead), NOW)
    baseline, baseline_cpu = time.perf_counter() - started, time.process_time() - cpu
    with tempfile.TemporaryDirectory(prefix="scoring-learning-") as folder:
        postgres = EmbeddedPostgres(Path(folder) / "pg")
        url = postgres.start()
        engine = create_engine(url, pool_size=2)
        try:
            upgrade_all(url)
            await install_active_model(url, synthetic.MODEL, by="bench")
            settings = Settings(
                environment="development",
                secret_key="bench-secret-of-at-least-32-characters!",
                database_url=url,
                log_level="WARNING",
            )
            sessions = session_factory(engine)
            loaded = time.perf_counter()
            await store(sessions, population, better)
            print(f"stored {count} leads in {time.perf_counter() - loaded:.1f} s")
            outbox = Outbox(platform, settings, "scoring")
            async with sessions() as session, session.begin():
                await request_backtest(
                    RequestBacktest(
                        better.version, NOW - timedelta(days=1), NOW + timedelta(days=1), "bench"
                    ),
                    UnitOfWork(session, outbox, settings),
                )
            started, cpu, runs = time.perf_counter(), time.process_time(), 0
            while True:
                async with sessions() as session, session.begin():
                    await run_backtests(UnitOfWork(session, outbox, settings))
                    runs += 1
                    status = (await session.execute(_status())).scalar_one()
                if status == "done":
                    break
            took, took_cpu = time.perf_counter() - started, time.process_time() - cpu
            print(
                f"backtest of {count} leads, two models: {took:.1f} s in {runs} job runs "
                f"({count / took:.0f} leads/s); the pure scoring alone {baseline:.1f} s; "
                f"ratio {took / baseline:.2f}x. This process's CPU: backtest {took_cpu:.1f} s, "
                f"pure scoring {baseline_cpu:.1f} s, ratio {took_cpu / baseline_cpu:.2f}x"
            )
            await bench_calibration(sessions, model)
        finally:
            await engine.dispose()
            postgres.stop()


async def bench_calibration(sessions, model: ScoringModel) -> None:  # type: ignore[no-untyped-def]
    rules = {r.id: (r.points, -1000) for r in model.fit_rules}
    rules |= {r.id: (r.points, 1) for r in model.engagement_rules}
    for attempt in range(3):
        async with sessions() as session:
            started = time.perf_counter()
            found = await calibration(session, model.version)
            whole = time.perf_counter() - started
            started = time.perf_counter()
            judged = await outcomes_of(session, model.version)
            read = time.perf_counter() - started
        started = time.perf_counter()
        calibrate(rules, judged, datetime.now(UTC), scale=found.points_per_logit)
        pure = time.perf_counter() - started
        print(
            f"calibration over {found.outcomes} outcomes, run {attempt + 1}: {whole:.2f} s (the "
            f"use case behind GET /v1/models/{{v}}/calibration); the read alone {read:.2f} s, "
            f"the pure calibrate alone {pure:.3f} s"
        )


def _status():  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from services.scoring.models import backtests

    return select(backtests.c.status)


async def store(sessions, population, better) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(4)
    active = parse_model(synthetic.MODEL)
    scores = {x.lead_id: score_lead(active, profile(x), acts(x), NOW) for x in population}
    async with sessions() as session, session.begin():
        await add_model(
            session, better.version, better.model_dump(mode="json", exclude_none=True), "bench"
        )
        await session.execute(
            capacity_history.insert().values(
                event_id=uuid.uuid4(),
                team_id="team-a",
                total_capacity=len(population) // 10,
                free_slots=0,
                published_at=NOW - timedelta(days=1),
            )
        )
    for start in range(0, len(population), 5000):
        chunk = population[start : start + 5000]
        async with sessions() as session, session.begin():
            await session.execute(
                leads.insert(),
                [
                    {
                        "lead_id": x.lead_id,
                        "job_title": x.job_title,
                        "company_size": x.company_size,
                        "industry": x.industry,
                        "country": x.country,
                        "utm_campaign": x.campaign,
                        "source": x.source,
                        "consent_given": True,
                        "model_version": "synthetic-1",
                    }
                    for x in chunk
                ],
            )
            demos = [x for x in chunk if x.demo]
            if demos:
                await session.execute(
                    activities.insert(),
                    [
                        {
                            "lead_id": x.lead_id,
                            "activity_type": "demo_request",
                            "happened_at": NOW - timedelta(hours=2),
                            "properties": {},
                        }
                        for x in demos
                    ],
                )
            await session.execute(
                outcomes.insert(),
                [
                    {
                        "id": uuid.uuid4(),
                        "lead_id": x.lead_id,
                        "model_version": "synthetic-1",
                        "fired": sorted(f.rule for f in scores[x.lead_id].fired),
                        "total": scores[x.lead_id].total,
                        "grade": scores[x.lead_id].grade,
                        "mql": False,
                        "stage": "accepted" if x.good else "rejected",
                        "occurred_at": NOW - timedelta(minutes=rng.randrange(60)),
                    }
                    for x in chunk
                ],
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=5000)
    parser.add_argument("--test", type=int, default=5000)
    parser.add_argument("--leads", type=int, default=100_000)
    args = parser.parse_args()
    model, better = bench_auc(args.train, args.test)
    asyncio.run(bench_backtest(args.leads, model, better))


if __name__ == "__main__":
    main()

"""The demo scoring model, approved by both sides, and how `handoff up` loads it.

`load_scoring_demo(database_url, secret_key)` writes the model straight into scoring's tables as
active, with a marketing and a sales approval recorded as `demo`, unless a model is already active
(so running `handoff up` again changes nothing). It needs the migrated database; `secret_key` is
accepted for symmetry with the other demo loaders and not used.
"""

from __future__ import annotations

import asyncio

DEMO_MODEL = """\
version: demo-1
description: Demo model - B2B software; fit from title, size, industry and country.
fit_rules:
  - {id: senior_title, kind: job_title, points: 20,
     keywords: [head, vp, director, chief, cto, ceo, cio, founder]}
  - {id: manager_title, kind: job_title, points: 8, keywords: [manager, lead]}
  - {id: target_size, kind: company_size, points: 15, bands: ["51-200", "201-500", "501-1000"]}
  - {id: enterprise_size, kind: company_size, points: 10, bands: ["1001-5000", "5001+"]}
  - {id: target_industry, kind: industry, points: 10, industries: [software, saas, fintech]}
  - {id: served_country, kind: country, points: 5, countries: [GB, DE, FR, NL, US, IE]}
  - {id: free_mail, kind: free_mail, points: -10}
  - {id: disposable_email, kind: disposable_email, points: -40}
  - {id: competitor, kind: competitor_domain, points: -100, domains: [competitor.example]}
  - {id: no_consent, kind: consent, given: false, points: -5}
engagement_rules:
  - {id: demo_request, activity: demo_request, points: 40, cap: 40, half_life_days: 30}
  - {id: trial_signup, activity: trial_signup, points: 30, cap: 30, half_life_days: 30}
  - {id: pricing_view, activity: pricing_page_view, points: 10, cap: 20, half_life_days: 14}
  - id: pricing_url
    activity: page_view
    when: {property: url, match: contains, value: /pricing}
    points: 10
    cap: 20
    half_life_days: 14
  - {id: webinar, activity: webinar_attended, points: 15, cap: 30, half_life_days: 21}
  - {id: content, activity: content_download, points: 5, cap: 15, half_life_days: 21}
  - {id: email_click, activity: email_click, points: 2, cap: 10, half_life_days: 7}
  - {id: page_view, activity: page_view, points: 1, cap: 10, half_life_days: 7}
grades: {A: 40, B: 25, C: 10}
threshold: {floor: 30, base: 60, ceiling: 80}
recycle:
  cooldown_days: 30
  max_recycles: 2
  disqualifying_reasons: [spam, student, competitor]
"""


def load_scoring_demo(database_url: str, secret_key: str) -> None:
    """Make the demo model active unless some model already is; safe to run again."""
    del secret_key  # not needed: the model goes straight into scoring's tables
    asyncio.run(_load(database_url))


async def _load(database_url: str) -> None:
    from services.scoring.repository import install_active_model

    await install_active_model(database_url, DEMO_MODEL, by="demo")

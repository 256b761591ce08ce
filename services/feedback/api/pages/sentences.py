"""A scoring model and routing's criteria as sentences, for `/models`: pure functions, no I/O,
no framework."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.feedback.api.pages.present import rule_in_words

_LISTS = ("keywords", "bands", "industries", "countries", "domains")


def _rule_line(rule: Mapping[str, Any]) -> str:
    name = rule_in_words(str(rule.get("id", "")))
    what = str(rule.get("kind") or rule.get("activity") or "").replace("_", " ")
    details = [
        ", ".join(str(v) for v in rule[key]) for key in _LISTS if isinstance(rule.get(key), list)
    ]
    when = rule.get("when")
    if isinstance(when, Mapping):
        details.append(f"{when.get('property')} {when.get('match')} {when.get('value')}")
    if "given" in rule:
        details.append("given" if rule["given"] else "not given")
    line = f"{name} ({what}{': ' + '; '.join(details) if details else ''}): "
    line += f"{int(rule.get('points', 0)):+d}"
    if rule.get("cap") is not None:
        line += f", at most {rule['cap']}"
    if rule.get("half_life_days") is not None:
        line += f", halving every {float(rule['half_life_days']):g} days"
    if rule.get("description"):
        line += f" – {rule['description']}"
    return line


def model_lines(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """A scoring model document as sentences, by section."""
    grades = document.get("grades") or {}
    threshold = document.get("threshold") or {}
    recycle = document.get("recycle") or {}
    return {
        "Fit": [_rule_line(r) for r in document.get("fit_rules", []) if isinstance(r, Mapping)],
        "Engagement": [
            _rule_line(r) for r in document.get("engagement_rules", []) if isinstance(r, Mapping)
        ],
        "Grades": [f"{grade}: fit {points} or more" for grade, points in grades.items()],
        "Threshold": [
            f"MQL at a score of {threshold.get('base')} normally; it moves between "
            f"{threshold.get('floor')} and {threshold.get('ceiling')} with sales' free capacity"
        ]
        if threshold
        else [],
        "Recycling": [
            f"a recycled lead waits {float(recycle.get('cooldown_days') or 0):g} days, at most "
            f"{recycle.get('max_recycles')} times; never again after: "
            + ", ".join(str(r) for r in recycle.get("disqualifying_reasons", []))
        ]
        if recycle
        else [],
    }


def criteria_lines(rules: Mapping[str, Any]) -> list[str]:
    """Routing's SQL criteria as sentences."""
    lines = []
    if rules.get("consent_required"):
        lines.append("Consent to be contacted is required")
    if rules.get("min_grade"):
        lines.append(f"Grade {rules['min_grade']} or better")
    if rules.get("min_score") is not None:
        lines.append(f"Score {rules['min_score']} or more")
    if rules.get("required_fields"):
        lines.append("Must have: " + ", ".join(str(f) for f in rules["required_fields"]))
    for key, words in (
        ("excluded_countries", "Not from"),
        ("excluded_industries", "Not in the industries"),
        ("excluded_company_sizes", "Not of company size"),
    ):
        if rules.get(key):
            lines.append(f"{words}: " + ", ".join(str(v) for v in rules[key]))
    return lines or ["Every MQL is a sales lead"]

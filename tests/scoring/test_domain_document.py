"""Scoring's model document: parsed from YAML or JSON, every error named by its path."""

from __future__ import annotations

import pytest

from handoff.demo_scoring import DEMO_MODEL
from services.scoring.domain.document import parse_model
from shared.problems import Invalid
from tests.scoring.domain_helpers import MODEL


def test_the_demo_model_is_valid_yaml_and_json_alike() -> None:
    assert MODEL.version == "demo-1"
    again = parse_model(MODEL.model_dump_json(), fmt="json")
    assert again == MODEL


def test_every_error_names_its_path() -> None:
    doc = DEMO_MODEL.replace("points: 20,", "points: lots,").replace("A: 40", "A: 5")
    with pytest.raises(Invalid) as refused:
        parse_model(doc)
    fields = {p.field for p in refused.value.problems}
    assert "fit_rules.0.points" in fields  # the union's tag is not in the path
    assert "grades" in fields


def test_an_unknown_rule_kind_and_an_unordered_threshold_are_refused() -> None:
    doc = DEMO_MODEL.replace("kind: industry", "kind: horoscope").replace("floor: 30", "floor: 90")
    with pytest.raises(Invalid) as refused:
        parse_model(doc)
    fields = {p.field for p in refused.value.problems}
    assert fields == {"fit_rules.4", "threshold"}, refused.value.problems


def test_duplicate_rule_ids_and_bad_yaml_are_refused() -> None:
    with pytest.raises(Invalid, match="invalid"):
        parse_model(DEMO_MODEL.replace("id: webinar", "id: content"))
    with pytest.raises(Invalid) as refused:
        parse_model("version: [unclosed")
    assert refused.value.problems[0].field == "document"
    with pytest.raises(Invalid) as refused:
        parse_model("a: &x [1, 2]\nb: [*x, *x]\n")
    assert "aliases" in refused.value.problems[0].reason
    with pytest.raises(Invalid) as refused:
        parse_model("just words")
    assert refused.value.problems[0].field == "document"

"""Cleaning one contact in the cleaning tests: the problems it raises, or one field as cleaned."""

import pytest

from services.capture.cleaning import FieldProblem, InvalidLead, clean_contact


def problems_of(raw: dict, **options) -> list[FieldProblem]:
    with pytest.raises(InvalidLead) as caught:
        clean_contact(raw, **options)
    return caught.value.problems


def only_problem(field: str, value: object, **options) -> FieldProblem:
    problems = problems_of({"email": "ada@example.com", field: value}, **options)
    assert len(problems) == 1 and problems[0].field == field
    return problems[0]


def cleaned(field: str, value: object, **options) -> object:
    return getattr(clean_contact({"email": "ada@example.com", field: value}, **options), field)

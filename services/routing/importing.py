"""Reading an organisation file (CSV of reps, or YAML of teams, reps and rules) into `OrgIn`,
with every problem reported by line, before anything is written.

CSV columns are `RepIn`'s fields (`team` for the team id); list cells are separated by `|`, and
an out-of-office cell is `start/end|start/end` in ISO 8601.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import yaml
from pydantic import ValidationError

from services.routing.schemas.org import OrgIn
from services.routing.schemas.reps import RepIn
from services.routing.schemas.teams import RuleIn, TeamIn
from shared.errors import field_path
from shared.problems import Invalid, Problem

LIST_COLUMNS = ("territories", "languages", "company_sizes", "industries")
SECTIONS: dict[str, type[Any]] = {"teams": TeamIn, "reps": RepIn, "rules": RuleIn}
MAX_BYTES = 5_000_000


def parse_org(content: str, kind: str) -> OrgIn:
    """`kind` is `csv` or `yaml`; raises `Invalid` naming each line and field."""
    if len(content.encode()) > MAX_BYTES:
        raise Invalid.of("the file is too large", "file", f"at most {MAX_BYTES} bytes")
    if kind == "csv":
        return _parse_csv(content)
    if kind == "yaml":
        return _parse_yaml(content)
    raise Invalid.of("unknown file kind", "kind", "must be csv or yaml")


def _parse_csv(content: str) -> OrgIn:
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
    unknown = set(reader.fieldnames or ()) - set(RepIn.model_fields) - {""}
    if unknown:
        raise Invalid.of(
            "unknown columns", "line 1", f"unknown columns: {', '.join(sorted(unknown))}"
        )
    reps, problems = [], []
    for i, row in enumerate(reader):
        line = reader.line_num
        if None in row:  # DictReader keeps cells beyond the header under None
            problems.append(Problem(f"reps[{i}]", f"line {line}: more cells than columns"))
            continue
        values = _csv_values(row)
        try:
            reps.append(RepIn.model_validate(values))
        except ValidationError as error:
            problems += _problems(error, f"reps[{i}]", line)
    if problems:
        raise Invalid("the file has errors; nothing was imported", problems)
    return OrgIn(reps=reps)


def _csv_values(row: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: v.strip() for k, v in row.items() if k and isinstance(v, str) and v.strip()
    }
    for column in LIST_COLUMNS:
        if column in values:
            values[column] = [x.strip() for x in values[column].split("|") if x.strip()]
    if "out_of_office" in values:
        periods = [p.strip().split("/", 1) for p in values["out_of_office"].split("|")]
        values["out_of_office"] = [
            {"start": p[0], "end": p[1] if len(p) > 1 else ""} for p in periods if p[0]
        ]
    return values


class _LineLoader(yaml.SafeLoader):
    """Safe loading that remembers each mapping's line (1-based) under a private key."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def _parse_yaml(content: str) -> OrgIn:
    try:
        document = yaml.load(content, Loader=_LineLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        raise Invalid.of("the file is not valid YAML", where, str(error).splitlines()[0]) from None
    if not isinstance(document, dict):
        raise Invalid.of("the file is not an organisation", "file", "expected teams/reps/rules")
    problems = [
        Problem(str(key), "unknown section; expected teams, reps or rules")
        for key in document
        if key not in SECTIONS and key != "__line__"
    ]
    parsed: dict[str, list[Any]] = {}
    for section, model in SECTIONS.items():
        items = document.get(section)
        if items is None:
            continue
        if not isinstance(items, list):
            problems.append(Problem(section, "must be a list"))
            continue
        parsed[section] = []
        for i, item in enumerate(items):
            line = item.get("__line__") if isinstance(item, dict) else None
            try:
                parsed[section].append(model.model_validate(_without_lines(item)))
            except ValidationError as error:
                problems += _problems(error, f"{section}[{i}]", line)
    if problems:
        raise Invalid("the file has errors; nothing was imported", problems)
    return OrgIn(**parsed)


def _without_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_without_lines(v) for v in value]
    return value


def _problems(error: ValidationError, prefix: str, line: int | None) -> list[Problem]:
    where = f"line {line}: " if line is not None else ""
    return [
        Problem(
            ".".join(filter(None, (prefix, field_path(e["loc"]) if e["loc"] else ""))),
            where + e["msg"].removeprefix("Value error, "),
        )
        for e in error.errors()
    ]

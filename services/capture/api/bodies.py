"""Reading a posted form submission of any body type: URL-encoded, multipart or JSON.

Form data is decoded strictly in its declared charset; a body that cannot be read is refused
(`Unreadable`, 400) and text that is not valid in its charset 422 naming the field.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from shared.problems import Invalid, Problem, ServiceError, UnsupportedMediaType

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
ACCEPTED_TYPES = "application/x-www-form-urlencoded, multipart/form-data or application/json"


class Unreadable(ServiceError):
    """A body that says it is form data but cannot be parsed as such."""

    status = 400


async def submitted_fields(request: Request) -> dict[str, Any]:
    """The posted fields by name (the last value of a repeated field), whatever the body type."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type in FORM_TYPES:
        return await _form_fields(request)
    if media_type == "application/json":
        return await _json_fields(request)
    raise UnsupportedMediaType.of(
        f"send the submission as {ACCEPTED_TYPES}",
        "content-type",
        f"{media_type or 'a body without a type'} is not accepted",
    )


async def _form_fields(request: Request) -> dict[str, Any]:
    """Form data decoded strictly: bytes that are not text in the declared charset (UTF-8 unless
    the body names another) are refused naming the field, never replaced or read as Latin-1,
    so two different addresses cannot become one."""
    charset = _charset(request)
    try:
        if request.headers.get("content-type", "").lower().startswith("multipart/"):
            parser = _StrictMultiPartParser(request.headers, request.stream())
            fields: list[tuple[str, Any]] = list((await parser.parse()).multi_items())
            for _, value in fields:
                if isinstance(value, UploadFile):  # refused as "must be text"; its file closed
                    await value.close()
        else:
            body = (await request.body()).decode(charset, "surrogateescape")
            fields = parse_qsl(
                body,
                keep_blank_values=True,
                encoding=charset,
                errors="surrogateescape",
                max_num_fields=MAX_FIELDS,
            )
    except (MultiPartException, ValueError) as error:
        raise Unreadable.of("the form data cannot be read", "body", str(error)) from None
    undecodable = sorted(
        {_printable(name) for name, value in fields if _surrogate(name) or _surrogate(value)}
    )
    if undecodable:
        raise Invalid(
            "the form data is not valid text",
            [Problem(name, f"is not valid {charset} text") for name in undecodable],
        )
    return dict(fields)  # a file stays an object and is refused as "must be text"


MAX_FIELDS = 1000


def _charset(request: Request) -> str:
    declared = request.headers.get("content-type", "").lower().partition("charset=")[2]
    try:
        return codecs.lookup(declared.split(";")[0].strip(' "')).name if declared else "utf-8"
    except LookupError:
        raise UnsupportedMediaType.of(
            "the body's charset is not known", "content-type", f"charset {declared} is unknown"
        ) from None


def _surrogate(value: object) -> bool:
    return isinstance(value, str) and _SURROGATE.search(value) is not None


def _printable(name: str) -> str:
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


_SURROGATE = re.compile("[\ud800-\udfff]")


class _StrictMultiPartParser(MultiPartParser):
    """Starlette's parser, except a text part that is not valid in its charset keeps its bad
    bytes as surrogates (to be refused) instead of being read as Latin-1."""

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is not None:
            return super().on_part_end()
        value = bytes(part.data).decode(self._charset or "utf-8", "surrogateescape")
        self.items.append((part.field_name, value))
        return None


async def _json_fields(request: Request) -> dict[str, Any]:
    try:
        fields = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as error:
        raise Invalid.of("the body is not valid JSON", "body", str(error)) from None
    except RecursionError:
        raise Invalid.of(
            "the body is not a form's fields", "body", "is nested too deeply"
        ) from None
    if not isinstance(fields, dict):
        raise Invalid.of(
            "the body must be a JSON object",
            "body",
            "must be an object of field names and values",
        )
    return fields

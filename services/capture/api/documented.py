"""Refusals capture's routes document in OpenAPI beside their own answers, each sent in the
project's error body (`shared.errors.ErrorBody`)."""

from __future__ import annotations

from typing import Any

from shared.errors import ErrorBody

Responses = dict[int | str, dict[str, Any]]

REASONS = {
    400: 'The body cannot be parsed (FastAPI\'s "There was an error parsing the body": JSON '
    "that is not UTF-8, or form data that cannot be read).",
    401: "No API key, or one that is unknown or revoked.",
    403: "The key's role may not do this.",
    404: "Not found.",
    409: "Conflicts with an earlier request.",
    410: "Erased.",
    422: "Invalid: each problem names its field.",
    429: "This address tried too many unknown API keys lately (or, on a form, posted too "
    "often); `Retry-After` says when to try again.",
}


def refusals(*codes: int) -> Responses:
    return {code: {"model": ErrorBody, "description": REASONS[code]} for code in codes}


KEYED = refusals(401, 403, 422, 429)  # every route that takes an API key
JSON_BODY = refusals(400)  # every route that takes a JSON body

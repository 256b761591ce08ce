"""Attribution in domain.py: fields, the query string, the posting page and defaults; touches."""

import pytest

from services.capture.cleaning import FieldProblem, InvalidLead
from services.capture.domain import attribution_from, touches
from shared.events import Attribution


def attribution(fields=None, query=None, **options) -> Attribution:
    defaults = dict(
        form_id="demo", default_source="website", default_campaign=None, posted_from=None
    )
    return attribution_from(fields or {}, query or {}, **(defaults | options))


def test_submitted_fields_win_over_the_query_string_and_the_defaults():
    result = attribution(
        fields={
            "utm_source": "linkedin",
            "utm_campaign": "spring",
            "source": "partner",
            "referrer": "https://a.example/",
        },
        query={
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "winter",
            "landing_page": "https://handoff.example/demo?utm_source=google",
        },
        default_campaign="always-on",
        posted_from="https://header.example/",
    )

    assert result == Attribution(
        form_id="demo",
        source="partner",
        utm_source="linkedin",
        utm_medium="cpc",
        utm_campaign="spring",
        referrer="https://a.example/",
        landing_page="https://handoff.example/demo?utm_source=google",
    )


def test_the_posting_page_and_form_defaults_fill_what_was_not_submitted():
    result = attribution(
        fields={"utm_term": "  lead routing  ", "utm_campaign": " "},
        query={"utm_content": "hero"},
        default_campaign="always-on",
        posted_from="https://www.example.com/demo?utm_content=hero",
    )

    assert result == Attribution(
        form_id="demo",
        source="website",
        utm_term="lead routing",
        utm_content="hero",
        utm_campaign="always-on",
        landing_page="https://www.example.com/demo?utm_content=hero",
    )
    assert result.referrer is None, "the page holding the form is not where the visitor came from"


def test_urls_and_other_values_are_bounded_and_all_problems_reported():
    long_url = "https://handoff.example/" + "a" * 2030
    with pytest.raises(InvalidLead) as caught:
        attribution(
            fields={
                "utm_source": "s" * 301,
                "landing_page": long_url,
                "referrer": "https://r.example/" + "r" * 2031,
            },
            query={"utm_medium": "cpc\x00"},
        )

    assert caught.value.problems == [
        FieldProblem("utm_source", "is longer than 300 characters"),
        FieldProblem("utm_medium", "contains control characters"),
        FieldProblem("referrer", "is longer than 2048 characters"),
        FieldProblem("landing_page", "is longer than 2048 characters"),
    ]


def test_values_at_the_limits_are_accepted():
    url = "https://handoff.example/" + "a" * (2048 - 24)
    result = attribution(fields={"utm_source": "s" * 300, "landing_page": url})

    assert (len(result.utm_source), result.landing_page) == (300, url)


@pytest.mark.parametrize(
    "header",
    ["https://r.example/" + "r" * 2048, "https://r.example/\x85", "https://r.example/\udc80"],
    ids=["over-long", "control-character", "lone-surrogate"],
)
def test_a_referer_header_that_is_not_clean_text_is_dropped_not_refused(header):
    result = attribution(posted_from=header)

    assert result.landing_page is None


def test_first_touch_is_kept_and_last_touch_replaced():
    first = Attribution(form_id="ebook", utm_source="google")
    second = Attribution(form_id="demo", utm_source="linkedin")
    third = Attribution(form_id="pricing")

    assert touches(None, first) == (first, first)
    assert touches(first, second) == (first, second)
    assert touches(first, third) == (first, third)

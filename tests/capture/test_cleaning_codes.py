"""Countries, languages and company sizes in clean_contact: turned into codes or refused."""

import pytest

from tests.capture.cleaning_helpers import cleaned, only_problem


@pytest.mark.parametrize(
    "raw, code",
    [
        ("GB", "GB"),
        ("gb", "GB"),
        ("GBR", "GB"),
        ("gbr", "GB"),
        ("United Kingdom", "GB"),
        ("united kingdom", "GB"),
        ("UK", "GB"),
        ("Germany", "DE"),
        ("DEU", "DE"),
        ("de", "DE"),
        ("Côte d'Ivoire", "CI"),
        ("  france ", "FR"),
    ],
)
def test_countries_are_stored_as_alpha_2(raw, code):
    assert cleaned("country", raw) == code


@pytest.mark.parametrize("raw", ["Atlantis", "XX", "ZZZ", "Englandshire"])
def test_unknown_countries_are_refused(raw):
    assert only_problem("country", raw).reason.startswith("is not a known country")


@pytest.mark.parametrize(
    "raw, code",
    [
        ("en", "en"),
        ("EN", "en"),
        ("eng", "en"),
        ("English", "en"),
        ("french", "fr"),
        ("de", "de"),
        ("ger", "de"),
        ("pt-BR", "pt"),
        ("en_GB", "en"),
        ("zh-Hant-TW", "zh"),
    ],
)
def test_languages_are_stored_as_iso_639_1(raw, code):
    assert cleaned("language", raw) == code


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("xx", "is not a known language (use a name or an ISO 639-1 code)"),
        ("Elvish", "is not a known language (use a name or an ISO 639-1 code)"),
        ("Klingon", "Klingon has no two-letter ISO 639-1 code"),
        ("haw", "Hawaiian has no two-letter ISO 639-1 code"),
    ],
)
def test_unknown_languages_are_refused(raw, reason):
    assert only_problem("language", raw).reason == reason


# ---- company size -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, band",
    [
        ("1-10", "1-10"),
        ("11 - 50", "11-50"),
        ("51\u2013200", "51-200"),
        ("5001+", "5001+"),
        ("1", "1-10"),
        ("10", "1-10"),
        ("11", "11-50"),
        ("200", "51-200"),
        ("201", "201-500"),
        ("1000", "501-1000"),
        ("1001", "1001-5000"),
        ("5000", "1001-5000"),
        ("5001", "5001+"),
        ("1,200", "1001-5000"),
        ("250000", "5001+"),
        (42, "11-50"),
    ],
)
def test_company_size_is_normalised_to_a_band(raw, band):
    assert cleaned("company_size", raw) == band


@pytest.mark.parametrize("raw", ["0", "-5", "lots", "10-20", "5000+", "12.5", "1,20"])
def test_other_company_sizes_are_refused(raw):
    assert only_problem("company_size", raw).reason.startswith("must be a headcount or one of")

"""Form submission limits: per client IP, then per form, each a moving window of a minute."""

from services.capture.ratelimit import SubmissionLimits


def test_a_client_may_submit_its_limit_then_waits_for_the_window():
    limits = SubmissionLimits(per_ip_per_minute=3, per_form_per_minute=100)

    waits = [limits.wait("1.2.3.4", "demo") for _ in range(4)]

    assert waits[:3] == [0, 0, 0]
    assert 55 <= waits[3] <= 60, "the first submission leaves the window a minute after it came"


def test_clients_are_counted_apart():
    limits = SubmissionLimits(per_ip_per_minute=1, per_form_per_minute=100)

    assert [limits.wait(ip, "demo") for ip in ("a", "b", "a")][:2] == [0, 0]
    assert limits.wait("a", "demo") > 0


def test_a_submission_passes_the_client_limit_then_the_form_limit():
    limits = SubmissionLimits(per_ip_per_minute=2, per_form_per_minute=3)

    assert [limits.wait("ip-1", "demo") for _ in range(2)] == [0, 0]
    assert limits.wait("ip-1", "demo") > 0  # ip-1 is out
    assert limits.wait("ip-2", "demo") == 0  # the form's third submission
    assert limits.wait("ip-3", "demo") > 0  # the form is out, though ip-3 is not
    assert limits.wait("ip-3", "other") == 0


def test_a_client_over_its_limit_spends_none_of_the_forms_submissions():
    limits = SubmissionLimits(per_ip_per_minute=1, per_form_per_minute=2)
    limits.wait("ip-1", "demo")
    for _ in range(5):
        assert limits.wait("ip-1", "demo") > 0

    assert limits.wait("ip-2", "demo") == 0

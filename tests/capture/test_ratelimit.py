"""Form submission limits: per client, then per form, each a moving window."""

import time

from services.capture.ratelimit import SubmissionLimits, client_key


def test_a_client_may_submit_its_limit_then_waits_for_the_window():
    limits = SubmissionLimits(per_client=3, per_form=100)

    waits = [limits.wait("192.0.2.1", "demo") for _ in range(4)]

    assert waits[:3] == [0, 0, 0]
    assert 55 <= waits[3] <= 60, "the first submission leaves the window a minute after it came"


def test_the_window_frees_up_as_it_moves():
    limits = SubmissionLimits(per_client=1, per_form=100, window_s=1)
    assert limits.wait("192.0.2.1", "demo") == 0
    assert limits.wait("192.0.2.1", "demo") == 1

    deadline = time.monotonic() + 5
    while (wait := limits.wait("192.0.2.1", "demo")) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the window until it frees, with a deadline

    assert wait == 0


def test_clients_are_counted_apart():
    limits = SubmissionLimits(per_client=1, per_form=100)

    assert [limits.wait(ip, "demo") for ip in ("192.0.2.1", "192.0.2.2")] == [0, 0]
    assert limits.wait("192.0.2.1", "demo") > 0


def test_an_ipv6_client_is_counted_by_its_64_prefix():
    limits = SubmissionLimits(per_client=1, per_form=100)
    limits.wait("2001:db8:1:2::1", "demo")

    assert limits.wait("2001:db8:1:2:ffff::9", "demo") > 0, "another address in the same /64"
    assert limits.wait("2001:db8:1:3::1", "demo") == 0
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("testclient") == "testclient"


def test_a_submission_passes_the_client_limit_then_the_form_limit():
    limits = SubmissionLimits(per_client=2, per_form=3)

    assert [limits.wait("ip-1", "demo") for _ in range(2)] == [0, 0]
    assert limits.wait("ip-1", "demo") > 0  # ip-1 is out
    assert limits.wait("ip-2", "demo") == 0  # the form's third submission
    assert limits.wait("ip-3", "demo") > 0  # the form is out, though ip-3 is not
    assert limits.wait("ip-3", "other") == 0


def test_a_refused_submission_counts_against_neither_limit():
    limits = SubmissionLimits(per_client=1, per_form=2)
    limits.wait("ip-1", "demo")
    for _ in range(5):
        assert limits.wait("ip-1", "demo") > 0
    assert limits.wait("ip-2", "demo") == 0, "ip-1's refusals spent none of the form's allowance"

    assert limits.wait("ip-3", "demo") > 0  # the form is full now
    assert limits.wait("ip-3", "other") == 0, "the full form spent none of ip-3's allowance"

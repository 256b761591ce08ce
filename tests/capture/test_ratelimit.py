"""Form submission limits: one per client, and a form allowance no client spends for others."""

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


def submit(limits: SubmissionLimits, ip: str, form: str = "demo") -> int:
    """A submission the form accepts whenever the limits let it through."""
    wait = limits.wait(ip, form)
    if not wait:
        limits.accepted(ip, form)
    return wait


def test_a_spent_form_slows_only_the_clients_that_spent_it():
    limits = SubmissionLimits(per_client=2, per_form=3)

    assert [submit(limits, "ip-1") for _ in range(2)] == [0, 0]
    assert submit(limits, "ip-1") > 0  # ip-1 is out
    assert submit(limits, "ip-2") == 0  # the form's third lead: its allowance is spent
    assert submit(limits, "ip-2") > 0, "ip-2 spent part of it, so it waits"
    assert submit(limits, "ip-3") == 0, "a first-time visitor always gets through"
    assert submit(limits, "ip-2", "other") == 0


def test_refusals_spend_nothing_of_the_forms_allowance():
    """Issue 9 item 2: 620 garbage posts from 20 addresses locked the form for a new visitor."""
    limits = SubmissionLimits(per_client=30, per_form=600)
    for attempt in range(620):
        limits.wait(f"198.51.100.{attempt % 20}", "demo")  # each refused (422): never accepted

    assert limits.wait("203.0.113.9", "demo") == 0


def test_a_refused_submission_counts_against_no_limit():
    limits = SubmissionLimits(per_client=1, per_form=2)
    submit(limits, "ip-1")
    for _ in range(5):
        assert submit(limits, "ip-1") > 0
    assert submit(limits, "ip-2") == 0, "ip-1's refusals spent none of the form's allowance"
    assert submit(limits, "ip-3") == 0, "the full form spent none of ip-3's allowance"

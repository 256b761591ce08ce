"""Token buckets for form submissions, with a clock the test moves."""

import pytest

from services.capture.ratelimit import SubmissionLimits, TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_quiet_key_may_spend_its_whole_bucket_at_once(clock):
    buckets = TokenBuckets(3, clock=clock)

    assert [buckets.take("1.2.3.4") for _ in range(4)] == [0, 0, 0, 20]


def test_tokens_come_back_evenly_over_the_minute(clock):
    buckets = TokenBuckets(6, clock=clock)  # one token every 10 s
    for _ in range(6):
        buckets.take("ip")

    assert buckets.take("ip") == 10
    clock.now += 4
    assert buckets.take("ip") == 6
    clock.now += 6
    assert buckets.take("ip") == 0
    assert buckets.take("ip") == 10


def test_retry_after_is_in_whole_seconds_and_at_least_one(clock):
    buckets = TokenBuckets(600, clock=clock)  # one token every 0.1 s
    for _ in range(600):
        buckets.take("ip")

    assert buckets.take("ip") == 1
    clock.now += 0.05
    assert buckets.take("ip") == 1


def test_a_bucket_never_holds_more_than_a_minute_of_tokens(clock):
    buckets = TokenBuckets(2, clock=clock)
    clock.now += 3600

    assert [buckets.take("ip") for _ in range(3)] == [0, 0, 30]


def test_keys_have_their_own_buckets(clock):
    buckets = TokenBuckets(1, clock=clock)

    assert (buckets.take("a"), buckets.take("b"), buckets.take("a")) == (0, 0, 60)


def test_a_clock_going_backwards_adds_no_tokens(clock):
    buckets = TokenBuckets(1, clock=clock)
    buckets.take("ip")
    clock.now -= 120

    assert buckets.take("ip") == 60


def test_the_least_recently_used_bucket_is_forgotten_beyond_the_key_limit(clock):
    buckets = TokenBuckets(1, clock=clock, max_keys=2)
    buckets.take("a")
    buckets.take("b")
    buckets.take("a")  # a is now the most recently used
    buckets.take("c")  # forgets b

    assert [buckets.take(key) for key in ("a", "c", "b")] == [60, 60, 0]


def test_a_rate_below_one_per_minute_is_refused():
    with pytest.raises(ValueError):
        TokenBuckets(0)


def test_a_submission_passes_the_client_limit_then_the_form_limit(clock):
    limits = SubmissionLimits(per_ip_per_minute=2, per_form_per_minute=3, clock=clock)

    assert [limits.wait("ip-1", "demo") for _ in range(3)] == [0, 0, 30]
    assert limits.wait("ip-2", "demo") == 0  # the form's third token
    assert limits.wait("ip-3", "demo") == 20  # the form is out, though ip-3 is not
    assert limits.wait("ip-3", "other") == 0


def test_a_client_over_its_limit_spends_none_of_the_forms_tokens(clock):
    limits = SubmissionLimits(per_ip_per_minute=1, per_form_per_minute=2, clock=clock)
    limits.wait("ip-1", "demo")
    for _ in range(5):
        assert limits.wait("ip-1", "demo") > 0

    assert limits.wait("ip-2", "demo") == 0

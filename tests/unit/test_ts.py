from __future__ import annotations

import pytest

from audiences.domain import checked_ts

NOW = 1_748_851_070.0


@pytest.mark.parametrize("value", [0, 1, NOW, NOW + 300, 1_748_851_070.25])
def test_accepts_epoch_seconds_up_to_the_skew(value):
    assert checked_ts(value, NOW, 300) == float(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "ts must be epoch seconds as a number, got bool"),
        ("1748851070", "ts must be epoch seconds as a number, got str"),
        (None, "got NoneType"),
        (-1, "ts must not be negative"),
        (NOW * 1000, "looks like epoch milliseconds: send epoch seconds (divide by 1000)"),
        (NOW + 301, "ts is more than 300 s in the future, the most allowed"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
    ],
)
def test_rejects_with_a_message_that_says_why(value, message):
    with pytest.raises(ValueError, match=None) as raised:
        checked_ts(value, NOW, 300)
    assert message in str(raised.value)

"""The project's template filters."""

import pytest
from django.template import Context, Template

from alliance.templatetags.alliance import fen


@pytest.mark.parametrize("value, shown", [
    (0, "¥0.00"),
    (5, "¥0.05"),
    (100, "¥1.00"),
    (1234, "¥12.34"),
    (123456, "¥1,234.56"),  # thousands separated
    (100_000_000_00, "¥100,000,000.00"),
    (-5, "-¥0.05"),
    (-123456, "-¥1,234.56"),
    ("1234", "¥12.34"),  # a query value as text
    ("-7", "-¥0.07"),
])
def test_fen_shows_yuan_with_two_decimals(value, shown):
    assert fen(value) == shown


@pytest.mark.parametrize("value", [None, "", "12.5", "abc", 12.5, True, "١٢"])
def test_fen_refuses_what_is_not_whole_fen(value):
    """No floats near money: anything but an integer (or its digits) shows nothing."""
    assert fen(value) == ""


def test_fen_is_a_builtin_filter():
    assert Template("{{ amount|fen }}").render(Context({"amount": 99})) == "¥0.99"

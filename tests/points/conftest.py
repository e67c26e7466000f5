from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from points.selectors import ledger_check

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sh(*args) -> datetime:
    """A Shanghai wall-clock time."""
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def assert_ledger_ok():
    def check():
        report = ledger_check()
        assert report.ok, "\n".join(map(str, report.breaks))
        return report

    return check

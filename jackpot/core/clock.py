"""Time helpers: the engine's notion of now and the contract's time format.

Contract times are `YYYY-MM-DDTHH:MM:SS.ffffff` with no zone suffix: `created`/`updated`
in UTC, `operator_time_*` in the operator's IANA time zone.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

CONTRACT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def now() -> dt.datetime:
    return dt.datetime.now(tz=dt.UTC)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def format_utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(CONTRACT_TIME_FORMAT)


def format_in_zone(moment: dt.datetime, zone_name: str) -> str:
    return moment.astimezone(zone(zone_name)).strftime(CONTRACT_TIME_FORMAT)


def local_day(moment: dt.datetime, zone_name: str) -> tuple[dt.datetime, dt.datetime]:
    """The calendar day in `zone_name` that holds `moment`, as [start, end) in UTC (a DST
    day is 23 or 25 hours: the end is the next local midnight, not start + 24 h)."""
    start = moment.astimezone(zone(zone_name)).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + dt.timedelta(days=1)  # wall-clock arithmetic in the zone
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)

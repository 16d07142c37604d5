"""Business time: the hours an SLA clock runs.

A calendar is open on its working days, between ``day_start`` and ``day_end`` on the local wall
clock of ``time_zone``, except on ``closed_dates`` (public holidays and company closed days).
Everything here is pure (no database, no settings, no "now" except for the default holiday
years in :meth:`BusinessCalendar.build`) so services can call it freely and tests need no
fixtures.

Conventions
- Inputs are aware datetimes in any zone; naive ones raise ``ValueError``. Outputs are aware
  datetimes in UTC.
- Open windows are half-open: a calendar open 09:00-18:00 is open at 09:00:00 and closed at
  18:00:00. A deadline that uses up the last minute of a day is the closing instant (18:00),
  not the next opening.
- Arithmetic is exact to the microsecond (``datetime``/``timedelta`` all the way, no floats),
  so ``between(start, add(start, d)) == d`` holds exactly.
- ``add(start, timedelta(0))`` is ``next_open(start)``: start itself if open, else the next
  opening. A zero-hour SLA is therefore due the moment business time resumes.

Daylight saving time
- Each day's window is built from the local date and wall-clock times, then converted to UTC,
  so a 09:00-18:00 day lasts 9 hours of real time whether or not the clocks changed overnight.
- An opening or closing time is read as "the first instant of that local date whose wall clock
  shows this time or later". In a fold (clocks set back, 01:30 happens twice) that is the first
  occurrence. In a gap (clocks jump forward, 02:30 never happens) it is the instant of the jump,
  when the clock first shows 03:00. Unlike "shift forward by the gap" this keeps window
  boundaries in order: a window never ends before it starts and never overlaps the next day's.
  A window squeezed to nothing by a gap (or a local date skipped entirely, Samoa 2011-12-30)
  counts as closed.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from django.utils.translation import gettext as _

UTC = dt.UTC
ZERO = dt.timedelta(0)
ONE_DAY = dt.timedelta(days=1)

# How long a calendar may stay closed before a search for the next opening gives up. Longer
# than any real shutdown, short enough that a calendar closed "forever" fails fast (about
# 1,100 cheap iterations) instead of looping until date.max.
MAX_CLOSED_DAYS = 3 * 366

# Default span of years for public holidays when build() is not given any.
HOLIDAY_YEARS_BEFORE = 2
HOLIDAY_YEARS_AFTER = 3


class CalendarFieldError(ValueError):
    """A calendar field is invalid; ``field`` names it (for form and model validation)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def validate_calendar_fields(
    *,
    time_zone: str,
    working_days: Iterable[int],
    day_start: dt.time,
    day_end: dt.time,
) -> None:
    """Raise :class:`CalendarFieldError` (a ``ValueError``) naming the first invalid field."""
    if not isinstance(time_zone, str) or not time_zone:
        raise CalendarFieldError("time_zone", _("An IANA time zone name is required."))
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarFieldError(
            "time_zone", _("Unknown time zone %(zone)s.") % {"zone": repr(time_zone)}
        ) from exc

    try:
        days = list(working_days)
    except TypeError as exc:
        raise CalendarFieldError("working_days", _("Give a list of weekdays.")) from exc
    if not days:
        raise CalendarFieldError("working_days", _("At least one working day is required."))
    for day in days:
        # bool is an int subclass; True as "Tuesday" would be a bug upstream.
        if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
            raise CalendarFieldError(
                "working_days",
                _("%(day)s is not a weekday number (0 = Monday … 6 = Sunday).")
                % {"day": repr(day)},
            )

    for name, value in (("day_start", day_start), ("day_end", day_end)):
        if not isinstance(value, dt.time):
            raise CalendarFieldError(name, "must be a datetime.time")
        if value.tzinfo is not None:
            raise CalendarFieldError(name, "must be a wall-clock time without a time zone")
    if day_end <= day_start:
        raise CalendarFieldError("day_end", _("The closing time must be after the opening time."))


@dataclass(frozen=True)
class BusinessCalendar:
    time_zone: str
    working_days: frozenset[int]
    day_start: dt.time
    day_end: dt.time
    closed_dates: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        validate_calendar_fields(
            time_zone=self.time_zone,
            working_days=self.working_days,
            day_start=self.day_start,
            day_end=self.day_end,
        )
        # Accept lists and sets (JSONField, forms) but store frozensets: the calendar is
        # hashable and immutable.
        object.__setattr__(self, "working_days", frozenset(self.working_days))
        closed = frozenset(self.closed_dates)
        for day in closed:
            if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
                raise CalendarFieldError("closed_dates", f"{day!r} is not a date")
        object.__setattr__(self, "closed_dates", closed)

    @classmethod
    def build(
        cls,
        *,
        time_zone: str,
        working_days: Iterable[int],
        day_start: dt.time,
        day_end: dt.time,
        holiday_country: str = "",
        holiday_subdivision: str = "",
        closed_dates: Iterable[dt.date] = (),
        years: Iterable[int] | None = None,
    ) -> BusinessCalendar:
        """A calendar closed on ``closed_dates`` plus the country's public holidays.

        Holidays come from the ``holidays`` package for ``years``; by default this year
        (in ``time_zone``) minus 2 to plus 3. Dates outside those years see no public
        holidays, so pass ``years`` when computing far into the past or future.
        """
        validate_calendar_fields(
            time_zone=time_zone, working_days=working_days, day_start=day_start, day_end=day_end
        )
        closed = set(closed_dates)
        country = holiday_country.strip().upper()
        subdivision = holiday_subdivision.strip().upper()
        if subdivision and not country:
            raise CalendarFieldError(
                "holiday_subdivision", "a region needs a country for public holidays"
            )
        if country:
            if years is None:
                this_year = dt.datetime.now(ZoneInfo(time_zone)).year
                years = range(this_year - HOLIDAY_YEARS_BEFORE, this_year + HOLIDAY_YEARS_AFTER + 1)
            closed.update(public_holidays(country, subdivision, years))
        return cls(
            time_zone=time_zone,
            working_days=frozenset(working_days),
            day_start=day_start,
            day_end=day_end,
            closed_dates=frozenset(closed),
        )

    # Queries

    def is_open(self, at: dt.datetime) -> bool:
        at = _as_utc(at, "at")
        day = self._local_date(at)
        # A window belongs to its local date but may end just past midnight when a gap
        # swallows the closing time, so yesterday's window is checked too.
        for candidate in (day - ONE_DAY, day):
            window = self._window(candidate)
            if window and window[0] <= at < window[1]:
                return True
        return False

    def next_open(self, at: dt.datetime) -> dt.datetime:
        """``at`` (in UTC) if the calendar is open then, else the next opening instant."""
        at = _as_utc(at, "at")
        start, _end = next(self._open_windows(self._local_date(at) - ONE_DAY, after=at))
        return max(start, at)

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The instant (UTC) at which ``duration`` of business time has elapsed since ``start``.

        Zero gives ``next_open(start)``. Costs one step per calendar day crossed, whatever
        the duration's resolution.
        """
        start = _as_utc(start, "start")
        if not isinstance(duration, dt.timedelta):
            raise TypeError("duration must be a timedelta")
        if duration < ZERO:
            raise ValueError("duration must not be negative")
        remaining = duration
        for window_start, window_end in self._open_windows(
            self._local_date(start) - ONE_DAY, after=start
        ):
            cursor = max(window_start, start)
            available = window_end - cursor
            # <= so that a duration ending exactly at closing time is due at closing time.
            if remaining <= available:
                return cursor + remaining
            remaining -= available
        raise AssertionError("unreachable: _open_windows is infinite or raises")

    def between(self, a: dt.datetime, b: dt.datetime) -> dt.timedelta:
        """Business time elapsed from ``a`` to ``b``; zero if ``b`` is not after ``a``."""
        total = ZERO
        for window_start, window_end in self.windows(a, b):
            total += window_end - window_start
        return total

    def windows(self, a: dt.datetime, b: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Open intervals within ``[a, b)``, clipped to it, in order, as UTC pairs."""
        a = _as_utc(a, "a")
        b = _as_utc(b, "b")
        if b <= a:
            return
        for window_start, window_end in self._open_windows(
            self._local_date(a) - ONE_DAY, after=a, until=self._local_date(b)
        ):
            if window_start >= b:
                return
            yield max(window_start, a), min(window_end, b)

    # Internals

    def _local_date(self, at: dt.datetime) -> dt.date:
        return at.astimezone(ZoneInfo(self.time_zone)).date()

    def _window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """The open window of a local date in UTC, or None if closed that day."""
        if day.weekday() not in self.working_days or day in self.closed_dates:
            return None
        start, end = _day_window(self.time_zone, day, self.day_start, self.day_end)
        if end <= start:
            return None
        return start, end

    def _open_windows(
        self, first_day: dt.date, *, after: dt.datetime, until: dt.date | None = None
    ) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Open windows ending after ``after``, day by day from ``first_day``.

        Without ``until`` this never ends; it raises ``ValueError`` instead of looping for
        ever when the calendar stays closed for ``MAX_CLOSED_DAYS`` days in a row.
        """
        day = first_day
        closed_run = 0
        while until is None or day <= until:
            window = self._window(day)
            if window is not None and window[1] > after:
                closed_run = 0
                yield window
            else:
                closed_run += 1
                if until is None and closed_run > MAX_CLOSED_DAYS:
                    raise ValueError(
                        f"the calendar has no business hours for {MAX_CLOSED_DAYS} days "
                        f"after {first_day.isoformat()}: check working days and closed dates"
                    )
            day += ONE_DAY


def public_holidays(country: str, subdivision: str, years: Iterable[int]) -> set[dt.date]:
    """Public holiday dates of a country (and region) from the ``holidays`` package."""
    try:
        found = holidays.country_holidays(
            country.upper(), subdiv=subdivision.upper() or None, years=list(years)
        )
    except NotImplementedError as exc:
        # The package signals both an unknown country and an unknown region this way.
        field = "holiday_subdivision" if subdivision and _country_known(country) else None
        if field:
            message = _("Unknown region %(region)s for %(country)s.") % {
                "region": repr(subdivision),
                "country": country,
            }
        else:
            field = "holiday_country"
            message = _("No public holidays are known for %(country)s.") % {
                "country": repr(country)
            }
        raise CalendarFieldError(field, message) from exc
    return set(found.keys())


def _country_known(country: str) -> bool:
    return country.upper() in holidays.list_supported_countries()


def _as_utc(value: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)


@functools.lru_cache(maxsize=16384)
def _day_window(
    time_zone: str, day: dt.date, day_start: dt.time, day_end: dt.time
) -> tuple[dt.datetime, dt.datetime]:
    # Cached because add() and between() over long spans revisit the same days, and the
    # zoneinfo round trips are the cost of each step.
    zone = ZoneInfo(time_zone)
    return _first_instant_at(zone, day, day_start), _first_instant_at(zone, day, day_end)


def _first_instant_at(zone: ZoneInfo, day: dt.date, wall: dt.time) -> dt.datetime:
    """The first instant (UTC) at which the local clock on ``day`` shows ``wall`` or later."""
    local = dt.datetime.combine(day, wall, tzinfo=zone)  # fold=0: first occurrence in a fold
    utc = local.astimezone(UTC)
    naive = local.replace(tzinfo=None)
    if utc.astimezone(zone).replace(tzinfo=None) == naive:
        return utc
    # ``wall`` falls in a gap. The two readings of it (offset before and after the jump)
    # bracket the jump; find the first instant whose wall clock is past ``wall`` by bisecting
    # in whole microseconds, so the result is exact whatever the zone's transition times.
    other = local.replace(fold=1).astimezone(UTC)
    low, high = min(utc, other), max(utc, other)
    lo_us, hi_us = 0, (high - low) // dt.timedelta(microseconds=1)
    while lo_us < hi_us:
        mid = (lo_us + hi_us) // 2
        probe = low + dt.timedelta(microseconds=mid)
        if probe.astimezone(zone).replace(tzinfo=None) >= naive:
            hi_us = mid
        else:
            lo_us = mid + 1
    return low + dt.timedelta(microseconds=lo_us)

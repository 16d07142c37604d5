import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.calendar import BusinessCalendar, CalendarFieldError, validate_calendar_fields

UTC = dt.UTC
H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)
US = dt.timedelta(microseconds=1)
MON_FRI = frozenset(range(5))
EVERY_DAY = frozenset(range(7))

TOKYO = BusinessCalendar(
    time_zone="Asia/Tokyo", working_days=MON_FRI, day_start=dt.time(9), day_end=dt.time(18)
)
JAPAN = BusinessCalendar.build(
    time_zone="Asia/Tokyo",
    working_days=MON_FRI,
    day_start=dt.time(9),
    day_end=dt.time(18),
    holiday_country="JP",
    years=[2025, 2026, 2027],
)


def at(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone))


def jst(*args: int) -> dt.datetime:
    return at("Asia/Tokyo", *args)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def calendar(zone: str, start: dt.time, end: dt.time, days=EVERY_DAY) -> BusinessCalendar:
    return BusinessCalendar(time_zone=zone, working_days=days, day_start=start, day_end=end)


# Nights, weekends, boundaries


def test_friday_evening_plus_an_hour_is_due_monday_morning():
    assert TOKYO.add(jst(2026, 2, 6, 17, 30), H) == jst(2026, 2, 9, 9, 30)


def test_deadline_runs_overnight_to_the_next_morning():
    assert TOKYO.add(jst(2026, 2, 10, 17), 2 * H) == jst(2026, 2, 11, 10)


def test_duration_that_ends_at_closing_time_is_due_at_closing_time():
    assert TOKYO.add(jst(2026, 2, 6, 17), H) == jst(2026, 2, 6, 18)


def test_start_before_opening_counts_from_opening():
    assert TOKYO.add(jst(2026, 2, 10, 7), H) == jst(2026, 2, 10, 10)


def test_start_after_closing_counts_from_next_opening():
    assert TOKYO.add(jst(2026, 2, 10, 20), H) == jst(2026, 2, 11, 10)


def test_start_on_a_weekend_counts_from_monday():
    assert TOKYO.add(jst(2026, 2, 7, 12), H) == jst(2026, 2, 9, 10)


def test_zero_duration_is_start_when_open_and_next_opening_when_closed():
    assert TOKYO.add(jst(2026, 2, 9, 11), dt.timedelta(0)) == jst(2026, 2, 9, 11)
    assert TOKYO.add(jst(2026, 2, 6, 18), dt.timedelta(0)) == jst(2026, 2, 9, 9)


def test_open_interval_includes_opening_and_excludes_closing():
    assert not TOKYO.is_open(jst(2026, 2, 9, 9) - US)
    assert TOKYO.is_open(jst(2026, 2, 9, 9))
    assert TOKYO.is_open(jst(2026, 2, 9, 18) - US)
    assert not TOKYO.is_open(jst(2026, 2, 9, 18))
    assert not TOKYO.is_open(jst(2026, 2, 7, 12))


def test_next_open_is_the_instant_itself_when_open():
    assert TOKYO.next_open(jst(2026, 2, 9, 12)) == jst(2026, 2, 9, 12)
    assert TOKYO.next_open(jst(2026, 2, 6, 23)) == jst(2026, 2, 9, 9)


def test_results_are_in_utc_whatever_the_input_zone():
    result = TOKYO.add(at("America/New_York", 2026, 2, 8, 19), H)  # Mon 09:00 JST
    assert result.tzinfo is UTC
    assert result == utc(2026, 2, 9, 1)
    assert TOKYO.next_open(utc(2026, 2, 9, 3)).tzinfo is UTC


def test_long_durations_span_months_of_working_days():
    # 2,000 business hours = 222 nine-hour days and 2 hours; Mon-Fri, no holidays.
    start = jst(2026, 1, 5, 9)  # Monday
    deadline = TOKYO.add(start, 2000 * H)
    assert deadline == jst(2026, 11, 11, 11)
    assert TOKYO.between(start, deadline) == 2000 * H


# Public holidays and company closed days


def test_public_holiday_is_skipped():
    # 2026-02-11 (Wednesday) is National Foundation Day.
    assert JAPAN.add(jst(2026, 2, 10, 17), 2 * H) == jst(2026, 2, 12, 10)


def test_start_on_new_years_day_counts_from_the_next_working_day():
    assert not JAPAN.is_open(jst(2026, 1, 1, 11))
    assert JAPAN.add(jst(2026, 1, 1, 11), H) == jst(2026, 1, 2, 10)


def test_golden_week_is_closed():
    # 2026: Apr 29 Showa Day, May 3-5 and the substitute holiday May 6.
    assert JAPAN.add(jst(2026, 5, 1, 17), 2 * H) == jst(2026, 5, 7, 10)
    assert JAPAN.between(jst(2026, 4, 28, 9), jst(2026, 5, 8, 9)) == 36 * H


def test_company_closed_days_add_to_public_holidays():
    year_end = BusinessCalendar.build(
        time_zone="Asia/Tokyo",
        working_days=MON_FRI,
        day_start=dt.time(9),
        day_end=dt.time(18),
        holiday_country="JP",
        closed_dates=[dt.date(2025, 12, 29) + dt.timedelta(days=n) for n in range(6)],
        years=[2025, 2026],
    )
    assert year_end.add(jst(2025, 12, 26, 17), 2 * H) == jst(2026, 1, 5, 10)
    assert JAPAN.add(jst(2025, 12, 26, 17), 2 * H) == jst(2025, 12, 29, 10)


def test_regional_holidays_follow_the_subdivision():
    def germany(region: str) -> BusinessCalendar:
        return BusinessCalendar.build(
            time_zone="Europe/Berlin",
            working_days=MON_FRI,
            day_start=dt.time(9),
            day_end=dt.time(17),
            holiday_country="de",
            holiday_subdivision=region,
            years=[2026],
        )

    epiphany = at("Europe/Berlin", 2026, 1, 6, 12)
    assert not germany("BY").is_open(epiphany)
    assert germany("BE").is_open(epiphany)


def test_holidays_default_to_a_window_around_the_current_year():
    with time_machine.travel(dt.datetime(2026, 6, 1, tzinfo=UTC), tick=False):
        cal = BusinessCalendar.build(
            time_zone="Asia/Tokyo",
            working_days=MON_FRI,
            day_start=dt.time(9),
            day_end=dt.time(18),
            holiday_country="JP",
        )
    new_years = {d for d in cal.closed_dates if (d.month, d.day) == (1, 1)}
    assert new_years == {dt.date(year, 1, 1) for year in range(2024, 2030)}


# Daylight saving time and odd offsets


def test_new_york_deadline_across_spring_forward():
    cal = calendar("America/New_York", dt.time(9), dt.time(18), MON_FRI)
    # Friday 17:00 EST -> Monday 10:00 EDT.
    assert cal.add(utc(2026, 3, 6, 22), 2 * H) == utc(2026, 3, 9, 14)


def test_new_york_deadline_across_fall_back():
    cal = calendar("America/New_York", dt.time(9), dt.time(18), MON_FRI)
    # Friday 17:00 EDT -> Monday 10:00 EST.
    assert cal.add(utc(2026, 10, 30, 21), 2 * H) == utc(2026, 11, 2, 15)


def test_day_shift_keeps_its_length_on_dst_days():
    cal = calendar("America/New_York", dt.time(9), dt.time(18))
    march_8 = at("America/New_York", 2026, 3, 8)
    assert list(cal.windows(march_8, march_8 + 2 * H + 22 * H)) == [
        (utc(2026, 3, 8, 13), utc(2026, 3, 8, 22))
    ]
    assert cal.between(
        at("America/New_York", 2026, 11, 1), at("America/New_York", 2026, 11, 2)
    ) == (9 * H)


def test_night_shift_spanning_the_change_counts_real_elapsed_time():
    cal = calendar("America/New_York", dt.time(1), dt.time(4))
    # 01:00 EST to 04:00 EDT is two real hours; 01:00 EDT to 04:00 EST is four.
    assert list(cal.windows(utc(2026, 3, 8), utc(2026, 3, 9))) == [
        (utc(2026, 3, 8, 6), utc(2026, 3, 8, 8))
    ]
    assert cal.between(utc(2026, 11, 1), utc(2026, 11, 2)) == 4 * H


def test_opening_time_inside_the_spring_gap_opens_when_the_clocks_jump():
    cal = calendar("America/New_York", dt.time(2, 30), dt.time(4))
    assert not cal.is_open(utc(2026, 3, 8, 7) - US)
    assert cal.is_open(utc(2026, 3, 8, 7))  # 03:00 EDT
    assert cal.between(utc(2026, 3, 8), utc(2026, 3, 9)) == H


def test_window_wholly_inside_the_spring_gap_is_closed_that_day():
    cal = calendar("America/New_York", dt.time(2, 10), dt.time(2, 50))
    assert cal.between(utc(2026, 3, 8), utc(2026, 3, 9)) == dt.timedelta(0)
    assert cal.next_open(utc(2026, 3, 8, 5)) == at("America/New_York", 2026, 3, 9, 2, 10)


def test_times_in_the_autumn_fold_mean_their_first_occurrence():
    cal = calendar("America/New_York", dt.time(1, 30), dt.time(1, 45))
    assert list(cal.windows(utc(2026, 11, 1), utc(2026, 11, 2))) == [
        (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 5, 45))  # EDT, not the EST repeat
    ]
    assert not cal.is_open(utc(2026, 11, 1, 6, 30))


def test_berlin_deadline_across_spring_forward():
    cal = calendar("Europe/Berlin", dt.time(9), dt.time(18), MON_FRI)
    # Friday 17:00 CET -> Monday 10:00 CEST.
    assert cal.add(utc(2026, 3, 27, 16), 2 * H) == utc(2026, 3, 30, 8)


def test_berlin_weekend_of_fall_back_has_two_full_days():
    cal = calendar("Europe/Berlin", dt.time(9), dt.time(17))
    saturday = at("Europe/Berlin", 2026, 10, 24)
    monday = at("Europe/Berlin", 2026, 10, 26)
    assert cal.between(saturday, monday) == 16 * H
    assert cal.is_open(utc(2026, 10, 25, 8))  # Sunday 09:00 CET
    assert not cal.is_open(utc(2026, 10, 25, 7, 59))


def test_half_hour_offset_zone():
    cal = calendar("Asia/Kolkata", dt.time(9), dt.time(18), MON_FRI)
    # Monday 08:30 IST; opens 09:00 IST = 03:30 UTC.
    assert cal.add(utc(2026, 2, 9, 3), H) == utc(2026, 2, 9, 4, 30)
    # Friday 17:30 IST + 1 h -> Monday 09:30 IST.
    assert cal.add(utc(2026, 2, 13, 12), H) == utc(2026, 2, 16, 4)


def test_local_date_skipped_by_the_zone_is_closed():
    # Samoa moved across the date line: 2011-12-30 never happened in Apia.
    cal = calendar("Pacific/Apia", dt.time(9), dt.time(17))
    assert cal.between(at("Pacific/Apia", 2011, 12, 29), at("Pacific/Apia", 2012, 1, 1)) == 16 * H


# between() and windows() by hand


def test_between_within_one_day():
    assert TOKYO.between(jst(2026, 2, 9, 10, 15), jst(2026, 2, 9, 11, 45)) == 90 * MIN


def test_between_over_a_weekend_counts_only_open_hours():
    assert TOKYO.between(jst(2026, 2, 6, 17), jst(2026, 2, 9, 10)) == 2 * H


def test_between_over_a_week_skips_holidays():
    assert TOKYO.between(jst(2026, 2, 9, 8), jst(2026, 2, 16, 8)) == 45 * H
    assert JAPAN.between(jst(2026, 2, 9, 8), jst(2026, 2, 16, 8)) == 36 * H


def test_between_is_zero_when_the_end_is_not_after_the_start():
    a, b = jst(2026, 2, 9, 10), jst(2026, 2, 9, 12)
    assert TOKYO.between(b, a) == dt.timedelta(0)
    assert TOKYO.between(a, a) == dt.timedelta(0)


def test_windows_are_clipped_to_the_range_and_in_utc():
    assert list(TOKYO.windows(jst(2026, 2, 6, 17), jst(2026, 2, 10, 10))) == [
        (utc(2026, 2, 6, 8), utc(2026, 2, 6, 9)),
        (utc(2026, 2, 9, 0), utc(2026, 2, 9, 9)),
        (utc(2026, 2, 10, 0), utc(2026, 2, 10, 1)),
    ]


def test_add_and_between_round_trip():
    start = jst(2026, 4, 24, 16, 20)
    for duration in (US, 40 * MIN, 9 * H, 27 * H + 13 * MIN, 300 * H):
        assert JAPAN.between(start, JAPAN.add(start, duration)) == duration
    end = jst(2026, 5, 12, 14, 5)
    assert JAPAN.add(start, JAPAN.between(start, end)) == end


# Validation


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("time_zone", {"time_zone": "Mars/Olympus_Mons"}),
        ("time_zone", {"time_zone": ""}),
        ("working_days", {"working_days": frozenset()}),
        ("working_days", {"working_days": frozenset({0, 7})}),
        ("day_end", {"day_end": dt.time(9)}),
        ("day_end", {"day_end": dt.time(8)}),
        ("day_start", {"day_start": dt.time(9, tzinfo=UTC)}),
    ],
)
def test_invalid_fields_are_rejected_by_name(field, changes):
    fields = {
        "time_zone": "Asia/Tokyo",
        "working_days": MON_FRI,
        "day_start": dt.time(9),
        "day_end": dt.time(18),
    } | changes
    with pytest.raises(CalendarFieldError) as excinfo:
        validate_calendar_fields(**fields)
    assert excinfo.value.field == field
    with pytest.raises(ValueError, match=field):
        BusinessCalendar(**fields)


def test_working_days_from_a_list_are_stored_as_a_frozenset():
    cal = BusinessCalendar(
        time_zone="UTC", working_days=[0, 1, 1], day_start=dt.time(9), day_end=dt.time(17)
    )
    assert cal.working_days == frozenset({0, 1})
    assert hash(cal) == hash(calendar("UTC", dt.time(9), dt.time(17), frozenset({0, 1})))


def test_unknown_holiday_country_or_region_is_a_value_error():
    fields = {
        "time_zone": "Asia/Tokyo",
        "working_days": MON_FRI,
        "day_start": dt.time(9),
        "day_end": dt.time(18),
        "years": [2026],
    }
    with pytest.raises(ValueError, match="'XX'") as excinfo:
        BusinessCalendar.build(holiday_country="XX", **fields)
    assert excinfo.value.field == "holiday_country"
    with pytest.raises(ValueError, match="region") as excinfo:
        BusinessCalendar.build(holiday_country="JP", holiday_subdivision="ZZ", **fields)
    assert excinfo.value.field == "holiday_subdivision"


def test_naive_datetimes_are_rejected():
    naive = dt.datetime(2026, 2, 9, 10)
    with pytest.raises(ValueError, match="aware"):
        TOKYO.is_open(naive)
    with pytest.raises(ValueError, match="aware"):
        TOKYO.add(naive, H)
    with pytest.raises(ValueError, match="aware"):
        TOKYO.between(jst(2026, 2, 9, 10), naive)


def test_negative_duration_is_rejected():
    with pytest.raises(ValueError, match="negative"):
        TOKYO.add(jst(2026, 2, 9, 10), -H)


def test_calendar_closed_for_years_raises_instead_of_looping():
    mondays = frozenset(dt.date(2026, 1, 5) + dt.timedelta(weeks=n) for n in range(52 * 5))
    cal = BusinessCalendar(
        time_zone="UTC",
        working_days=frozenset({0}),
        day_start=dt.time(9),
        day_end=dt.time(17),
        closed_dates=mondays,
    )
    with pytest.raises(ValueError, match="no business hours"):
        cal.add(utc(2026, 1, 1), H)
    with pytest.raises(ValueError, match="no business hours"):
        cal.next_open(utc(2026, 1, 1))
    # A bounded question still has an answer.
    assert cal.between(utc(2026, 1, 1), utc(2030, 1, 1)) == dt.timedelta(0)


# Properties

ZONES = [
    "UTC",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "America/New_York",
    "Europe/Berlin",
    "Europe/Dublin",  # negative DST in tzdata
    "Australia/Lord_Howe",  # 30-minute DST
    "America/Havana",  # changes at midnight
    "America/Santiago",
]
INPUT_ZONES = [UTC, ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")]
MAX_DURATION = 500 * H


@st.composite
def wall_times(draw):
    # Quarter hours make DST gaps and folds (01:00-03:00) likely; sometimes odd seconds.
    hour = draw(st.integers(0, 23))
    minute = draw(st.sampled_from([0, 15, 30, 45]))
    second = draw(st.sampled_from([0, 0, 0, 1, 59]))
    return dt.time(hour, minute, second)


@st.composite
def calendars(draw):
    start, end = sorted(draw(st.lists(wall_times(), min_size=2, max_size=2, unique=True)))
    return BusinessCalendar(
        time_zone=draw(st.sampled_from(ZONES)),
        working_days=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        day_start=start,
        day_end=end,
        closed_dates=draw(
            st.frozensets(st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)), max_size=40)
        ),
    )


def instants():
    return st.datetimes(
        min_value=dt.datetime(2025, 1, 1),
        max_value=dt.datetime(2027, 12, 31),
        timezones=st.sampled_from(INPUT_ZONES),
    )


@st.composite
def starts(draw, cal):
    """Random instants, often exactly at an opening or closing, where off-by-ones hide."""
    raw = draw(instants())
    kind = draw(st.sampled_from(["raw", "opening", "closing"]))
    if kind == "raw":
        return raw
    opening = cal.next_open(raw)
    if kind == "opening":
        return opening
    return next(cal.windows(opening, opening + dt.timedelta(days=2)))[1]


@st.composite
def durations(draw, cal):
    # Capped so a calendar open 15 minutes one day a week does not need decades of days.
    weekly = (
        dt.datetime.combine(dt.date.min, cal.day_end)
        - dt.datetime.combine(dt.date.min, cal.day_start)
    ) * len(cal.working_days)
    cap = min(MAX_DURATION, weekly * 60)
    return dt.timedelta(microseconds=draw(st.integers(0, cap // US)))


@st.composite
def scenarios(draw):
    cal = draw(calendars())
    return cal, draw(starts(cal)), draw(durations(cal))


PROPERTY = settings(max_examples=60, deadline=None)


@PROPERTY
@given(scenarios())
def test_deadline_is_never_before_the_start(scenario):
    cal, start, duration = scenario
    deadline = cal.add(start, duration)
    assert deadline >= start
    assert deadline.tzinfo is UTC


@PROPERTY
@given(st.data())
def test_more_business_time_never_gives_an_earlier_deadline(data):
    cal, start, d1 = data.draw(scenarios())
    d2 = data.draw(durations(cal))
    d1, d2 = sorted([d1, d2])
    assert cal.add(start, d1) <= cal.add(start, d2)


@PROPERTY
@given(scenarios())
def test_business_time_until_the_deadline_is_the_duration_exactly(scenario):
    cal, start, duration = scenario
    assert cal.between(start, cal.add(start, duration)) == duration


@PROPERTY
@given(scenarios())
def test_deadline_falls_at_the_end_of_open_time(scenario):
    cal, start, duration = scenario
    if duration > dt.timedelta(0):
        assert cal.is_open(cal.add(start, duration) - US)
    else:
        assert cal.is_open(cal.add(start, duration))


@PROPERTY
@given(st.data())
def test_later_start_never_gives_an_earlier_deadline(data):
    cal, s1, duration = data.draw(scenarios())
    s2 = data.draw(starts(cal))
    s1, s2 = sorted([s1, s2])
    assert cal.add(s1, duration) <= cal.add(s2, duration)


@PROPERTY
@given(st.data())
def test_windows_are_ordered_disjoint_open_and_sum_to_between(data):
    cal = data.draw(calendars())
    a = data.draw(instants())
    b = a + data.draw(st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=20)))
    windows = list(cal.windows(a, b))
    for start, end in windows:
        assert a <= start < end <= b
        assert cal.is_open(start) and cal.is_open(end - US)
    for (_, end), (next_start, _) in zip(windows, windows[1:], strict=False):
        assert end <= next_start
    assert sum((end - start for start, end in windows), dt.timedelta(0)) == cal.between(a, b)


@PROPERTY
@given(st.data())
def test_next_open_is_open_and_nothing_opens_before_it(data):
    cal = data.draw(calendars())
    moment = data.draw(instants())
    opening = cal.next_open(moment)
    assert opening >= moment
    assert cal.is_open(opening)
    assert cal.between(moment, opening) == dt.timedelta(0)

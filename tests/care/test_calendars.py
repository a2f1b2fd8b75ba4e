"""Business calendars: nights, weekends, public holidays, DST, night shifts, and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clameur.care.calendars import ALWAYS_OPEN, Calendar, add_calendar, calendar_for
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.errors import AlreadyExistsError, InvalidInputError
from tests.conftest import Database, make_tenant

PARIS = ZoneInfo("Europe/Paris")
MONTREAL = ZoneInfo("America/Montreal")
WEEK = ("mon", "tue", "wed", "thu", "fri")
HOUR = 3600


def office(
    zone: str,
    start: str,
    end: str,
    *,
    country: str | None = None,
    subdivision: str | None = None,
    closed_dates: tuple[str, ...] = (),
) -> Calendar:
    """Open Monday to Friday from ``start`` to ``end``."""
    return Calendar.build(
        zone,
        {day: [[start, end]] for day in WEEK},
        country=country,
        subdivision=subdivision,
        closed_dates=closed_dates,
    )


PARIS_OFFICE = office("Europe/Paris", "09:00", "18:00", country="FR")
MONTREAL_OFFICE = office("America/Montreal", "08:30", "17:00", country="CA", subdivision="QC")


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def montreal(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MONTREAL)


# -- nights, weekends, public holidays ---------------------------------------------------


def test_night_and_weekend_are_skipped() -> None:
    # Thursday 17:00 + 2 h: one hour on Thursday, one on Friday morning
    assert PARIS_OFFICE.add_business(paris(2030, 11, 14, 17), 2 * HOUR) == paris(2030, 11, 15, 10)
    # Friday 17:30 + 1 h: the weekend does not count
    assert PARIS_OFFICE.add_business(paris(2030, 11, 15, 17, 30), HOUR) == paris(
        2030, 11, 18, 9, 30
    )
    # a start at night counts from the opening
    assert PARIS_OFFICE.add_business(paris(2030, 11, 14, 3), HOUR) == paris(2030, 11, 14, 10)
    assert (
        PARIS_OFFICE.business_seconds(paris(2030, 11, 15, 12), paris(2030, 11, 18, 12)) == 9 * HOUR
    )


def test_armistice_and_christmas_in_paris() -> None:
    # Monday 11 November 2030 is a public holiday in France
    assert not PARIS_OFFICE.is_open(paris(2030, 11, 11, 10))
    assert PARIS_OFFICE.is_open(paris(2030, 11, 12, 10))
    assert PARIS_OFFICE.add_business(paris(2030, 11, 8, 17), 2 * HOUR) == paris(2030, 11, 12, 10)
    # Wednesday 25 December 2030
    assert PARIS_OFFICE.add_business(paris(2030, 12, 24, 17, 30), HOUR) == paris(
        2030, 12, 26, 9, 30
    )
    assert (
        PARIS_OFFICE.business_seconds(paris(2030, 12, 24, 9), paris(2030, 12, 27, 9)) == 18 * HOUR
    )


def test_saint_jean_baptiste_in_quebec_not_in_paris() -> None:
    # Monday 24 June 2030: a holiday in Québec, a working day in Paris
    assert not MONTREAL_OFFICE.is_open(montreal(2030, 6, 24, 10))
    assert PARIS_OFFICE.is_open(paris(2030, 6, 24, 10))
    start = montreal(2030, 6, 21, 16)  # Friday 16:00 EDT
    assert MONTREAL_OFFICE.add_business(start, 2 * HOUR) == montreal(2030, 6, 25, 9, 30)
    # the same instant is Friday 22:00 in Paris: due Monday 24 June 11:00 there
    assert PARIS_OFFICE.add_business(start, 2 * HOUR) == paris(2030, 6, 24, 11)


def test_time_zones_see_the_same_instant_differently() -> None:
    instant = datetime(2030, 11, 13, 15, 0, tzinfo=UTC)  # 16:00 Paris, 10:00 Montréal
    assert PARIS_OFFICE.is_open(instant)
    assert MONTREAL_OFFICE.is_open(instant)
    evening = datetime(2030, 11, 13, 19, 0, tzinfo=UTC)  # 20:00 Paris, 14:00 Montréal
    assert not PARIS_OFFICE.is_open(evening)
    assert MONTREAL_OFFICE.is_open(evening)
    # results come back in UTC whatever the zone of the input
    due = MONTREAL_OFFICE.add_business(evening, HOUR)
    assert due.utcoffset() == timedelta(0)
    assert due == montreal(2030, 11, 13, 15)


def test_closed_dates_close_whole_days() -> None:
    calendar = office("Europe/Paris", "09:00", "18:00", closed_dates=("2030-11-13",))
    assert not calendar.is_open(paris(2030, 11, 13, 10))
    assert calendar.add_business(paris(2030, 11, 12, 17), 2 * HOUR) == paris(2030, 11, 14, 10)


def test_holiday_observed_on_new_years_eve_of_previous_year() -> None:
    # 1 January 2028 is a Saturday; the United States observe it on Friday 31 December 2027
    calendar = office("America/New_York", "09:00", "17:00", country="US")
    assert not calendar.is_open(datetime(2027, 12, 31, 10, tzinfo=ZoneInfo("America/New_York")))


# -- daylight saving time ----------------------------------------------------------------


def test_dst_weekend_keeps_local_office_hours() -> None:
    # Montréal springs forward on Sunday 10 March 2030: Friday 16:00 EST + 2 h business time
    due = MONTREAL_OFFICE.add_business(montreal(2030, 3, 8, 16), 2 * HOUR)
    assert due == montreal(2030, 3, 11, 9, 30)
    assert due == datetime(2030, 3, 11, 13, 30, tzinfo=UTC)  # UTC-4 now, UTC-5 on Friday
    # Paris falls back on Sunday 27 October 2030
    due = PARIS_OFFICE.add_business(paris(2030, 10, 25, 17), 2 * HOUR)
    assert due == paris(2030, 10, 28, 10) == datetime(2030, 10, 28, 9, tzinfo=UTC)


def test_dst_day_lasts_23_or_25_real_hours() -> None:
    all_day = Calendar.build("Europe/Paris", {"sun": [["00:00", "24:00"]]})
    spring = all_day.business_seconds(paris(2030, 3, 31, 0), paris(2030, 4, 1, 0))
    autumn = all_day.business_seconds(paris(2030, 10, 27, 0), paris(2030, 10, 28, 0))
    assert (spring, autumn) == (23 * HOUR, 25 * HOUR)
    assert all_day.add_business(paris(2030, 3, 31, 0), 23 * HOUR) == paris(2030, 4, 1, 0)


# -- spans crossing midnight ---------------------------------------------------------------


def test_night_shift_belongs_to_the_day_it_starts_on() -> None:
    nights = Calendar.build(
        "Europe/Paris", {"sun": [["22:00", "06:00"]], "mon": [["22:00", "06:00"]]}, country="FR"
    )
    # Sunday 10 November 22:00 → Monday 06:00 runs although Monday is the Armistice
    assert nights.is_open(paris(2030, 11, 11, 3))
    # Monday's own shift (22:00 → Tuesday 06:00) is closed by the holiday
    assert not nights.is_open(paris(2030, 11, 11, 23))
    assert not nights.is_open(paris(2030, 11, 12, 3))
    assert nights.business_seconds(paris(2030, 11, 10, 0), paris(2030, 11, 13, 0)) == 8 * HOUR
    # the next opening after Monday 06:00 is Sunday 17 November 22:00
    assert nights.add_business(paris(2030, 11, 11, 5), 2 * HOUR) == paris(2030, 11, 17, 23)


def test_night_shift_across_the_clock_change() -> None:
    nights = Calendar.build("Europe/Paris", {"sat": [["22:00", "06:00"]]})
    # Saturday 30 March 2030 22:00 → Sunday 06:00 lasts 7 real hours
    assert nights.business_seconds(paris(2030, 3, 30, 12), paris(2030, 3, 31, 12)) == 7 * HOUR
    assert nights.add_business(paris(2030, 3, 30, 21), 7 * HOUR) == paris(2030, 3, 31, 6)


def test_overlapping_and_adjacent_spans_merge() -> None:
    calendar = Calendar.build(
        "UTC", {"mon": [["09:00", "12:00"], ["11:00", "14:00"], ["14:00", "15:00"]]}
    )
    monday = datetime(2030, 11, 11, tzinfo=UTC)
    assert next(calendar.intervals(monday)) == (
        monday + timedelta(hours=9),
        monday + timedelta(hours=15),
    )
    assert calendar.business_seconds(monday, monday + timedelta(days=1)) == 6 * HOUR


def test_always_open_counts_every_second() -> None:
    start = datetime(2030, 3, 31, 0, 30, tzinfo=PARIS)
    assert ALWAYS_OPEN.add_business(start, 90) == start + timedelta(seconds=90)
    assert ALWAYS_OPEN.business_seconds(start, start + timedelta(days=2)) == 2 * 86400
    assert ALWAYS_OPEN.is_open(start)


def test_zero_seconds_is_the_start_itself() -> None:
    sunday = paris(2030, 11, 17, 12)
    assert PARIS_OFFICE.add_business(sunday, 0) == sunday
    assert PARIS_OFFICE.next_open(sunday) == paris(2030, 11, 18, 9)
    assert PARIS_OFFICE.business_seconds(sunday, sunday - timedelta(hours=1)) == 0


# -- validation and storage ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"timezone": "Europe/Nowhere"}, "timezone"),
        ({"hours": {"mon": [["25:00", "26:00"]]}}, "hours.mon[0]"),
        ({"hours": {"mon": [["9:00", "18:00"]]}}, "hours.mon[0]"),
        ({"hours": {"mon": [["24:00", "02:00"]]}}, "hours.mon[0]"),
        ({"hours": {"mon": [["09:00", "09:00"]]}}, "hours.mon[0]"),
        ({"hours": {"mon": [["09:00"]]}}, "hours.mon[0]"),
        ({"hours": {"funday": [["09:00", "18:00"]]}}, "hours"),
        ({"hours": {}}, "hours"),
        ({"hours": {"mon": [["09:00", "18:00"]]}, "country": "XX"}, "country"),
        ({"hours": {"mon": [["09:00", "18:00"]]}, "country": "CA", "subdivision": "ZZ"}, "country"),
        (
            {"hours": {"mon": [["09:00", "18:00"]]}, "closed_dates": ["11/11/2030"]},
            "closed_dates[0]",
        ),
    ],
)
def test_invalid_calendars_are_refused_with_the_field(
    kwargs: dict[str, object], where: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        Calendar.build(**kwargs)  # type: ignore[arg-type]
    assert caught.value.where == where


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        PARIS_OFFICE.add_business(datetime(2030, 1, 1, 9), HOUR)  # noqa: DTZ001


def test_stored_calendar_round_trip(db: Database, clock: FrozenClock) -> None:
    tenant = make_tenant(db, clock, "acme", {})
    other = make_tenant(db, clock, "globex", {})
    with session_scope(db.factory) as session:
        row = add_calendar(
            session,
            tenant.id,
            "Montréal",
            timezone="America/Montreal",
            hours={"Monday": [["08:30", "17:00"]], "fri": [["08:30", "17:00"]]},
            country="ca",
            subdivision="qc",
            closed_dates=["2030-06-21"],
        )
        calendar_id = row.id
        with pytest.raises(AlreadyExistsError):
            add_calendar(session, tenant.id, "Montréal", timezone="UTC", always_open=True)
    with session_scope(db.factory) as session:
        calendar = calendar_for(session, tenant.id, calendar_id)
        assert (calendar.country, calendar.subdivision) == ("CA", "QC")
        assert calendar.closed_dates == frozenset({date(2030, 6, 21)})
        # Friday 21 June is closed, Monday 24 June is Saint-Jean: Friday 28 June
        assert calendar.next_open(montreal(2030, 6, 20, 18)) == montreal(2030, 6, 28, 8, 30)
        # another tenant's calendar is not visible: always open instead
        assert calendar_for(session, other.id, calendar_id) is ALWAYS_OPEN
        assert calendar_for(session, tenant.id, None) is ALWAYS_OPEN


# -- properties ----------------------------------------------------------------------------

CALENDARS = [
    PARIS_OFFICE,
    MONTREAL_OFFICE,
    Calendar.build(
        "America/Montreal",
        {
            "fri": [["22:00", "06:00"]],
            "sat": [["10:00", "14:00"], ["13:00", "02:30"]],
            "sun": [["00:00", "24:00"]],
            "wed": [["02:00", "03:30"]],
        },
        country="CA",
        subdivision="QC",
        closed_dates=["2030-03-09"],
    ),
    Calendar.build("Europe/Paris", {"sun": [["01:30", "03:30"]], "thu": [["12:00", "12:01"]]}),
    ALWAYS_OPEN,
]
BASE = datetime(2030, 1, 1, tzinfo=UTC)
SPAN = 400 * 86400  # microsecond instants over 2030 and early 2031: every DST change
instants = st.integers(0, SPAN * 10**6).map(lambda us: BASE + timedelta(microseconds=us))
durations = st.integers(0, 30 * 86400 * 10**6).map(lambda us: timedelta(microseconds=us))
calendars = st.sampled_from(CALENDARS)


@settings(max_examples=300, deadline=None)
@given(calendars, instants, durations)
def test_add_back_lands_at_or_before_the_end(
    calendar: Calendar, start: datetime, length: timedelta
) -> None:
    end = start + length
    worked = calendar.business_time(start, end)
    due = calendar.add_business(start, worked)
    assert due <= end
    assert calendar.business_time(start, due) == worked
    if due < end:  # only closed time in between: ``end`` is not after the next opening
        assert calendar.business_time(due, end) == timedelta(0)
        assert calendar.next_open(due) >= end


@settings(max_examples=300, deadline=None)
@given(calendars, instants, durations)
def test_business_time_of_the_due_time_is_the_amount(
    calendar: Calendar, start: datetime, amount: timedelta
) -> None:
    due = calendar.add_business(start, amount)
    assert due >= start
    assert calendar.business_time(start, due) == amount
    assert calendar.add_business(start, amount.total_seconds()) == due


@settings(max_examples=200, deadline=None)
@given(calendars, instants, durations, durations)
def test_monotonic(calendar: Calendar, start: datetime, a: timedelta, b: timedelta) -> None:
    short, long = sorted((a, b))
    assert calendar.add_business(start, short) <= calendar.add_business(start, long)
    assert calendar.business_time(start, start + short) <= calendar.business_time(
        start, start + long
    )


@settings(max_examples=200, deadline=None)
@given(calendars, instants, durations, durations)
def test_additive(calendar: Calendar, start: datetime, a: timedelta, b: timedelta) -> None:
    middle, end = start + a, start + a + b
    assert calendar.business_time(start, end) == calendar.business_time(
        start, middle
    ) + calendar.business_time(middle, end)


@settings(max_examples=200, deadline=None)
@given(calendars, instants)
def test_is_open_agrees_with_next_open(calendar: Calendar, at: datetime) -> None:
    opening = calendar.next_open(at)
    assert (opening == at) == calendar.is_open(at)
    assert calendar.is_open(opening)

"""Business hours: when a team is at work, in its own time zone, minus public holidays.

A :class:`Calendar` is an immutable value built from a :class:`BusinessCalendar` row
(:meth:`Calendar.of`) or directly (:meth:`Calendar.build`). It answers three questions over
timezone-aware datetimes, whatever zone they are given in:

* :meth:`Calendar.is_open` — is the team at work at this instant?
* :meth:`Calendar.business_seconds` — how much working time lies between two instants?
* :meth:`Calendar.add_business` — when will this much working time have passed (a due time)?

Rules (docs/care.md, "SLAs and business hours"):

* Opening hours are spans of local wall time per weekday (``{"mon": [["09:00", "18:00"]]}``;
  an absent weekday is closed). ``"24:00"`` ends a span at midnight. A span whose end is not
  after its start **crosses midnight** (``["22:00", "06:00"]``: a night shift) and belongs
  to the day it starts on: a public holiday on that day closes the whole shift, a holiday
  on the next day does not shorten it.
* A local date is closed when it is a public holiday of ``country`` (and ``subdivision``)
  according to the ``holidays`` package (observed days included), or is listed in
  ``closed_dates``.
* Business time is real elapsed time while open: on the night clocks go forward, a
  00:00–24:00 span lasts 23 hours. Wall times that do not exist (skipped by a DST change)
  or exist twice are read as Python does (PEP 495, ``fold=0``): a span starting at 02:30 on
  the spring-forward night starts at 03:30 summer time; an ambiguous time is its first
  occurrence.
* ``always_open`` calendars count every second (the default when a policy names none).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care.models import BusinessCalendar
from clameur.errors import AlreadyExistsError, InvalidInputError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Keys of ``BusinessCalendar.hours``, in ``date.weekday()`` order."""

_MAX_CLOSED_DAYS = 3700
"""add_business gives up (the calendar is never open) after this many days without work."""
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_DAY = timedelta(days=1)

Span = tuple[int, int]
"""Minutes after local midnight: start in [0, 1440), end in (start, start + 1440]."""


def _minutes(text: object, where: str) -> int:
    match = _TIME.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInputError(f"expected a time HH:MM, got {text!r}", where=where)
    value = int(match[1]) * 60 + int(match[2])
    if value > 1440:
        raise InvalidInputError(f"no such time {text!r} (the latest is 24:00)", where=where)
    return value


def parse_hours(hours: Mapping[str, Any] | None) -> tuple[tuple[Span, ...], ...]:
    """``{"mon": [["09:00", "18:00"]], …}`` → seven tuples of spans (Monday first).

    Raises :class:`InvalidInputError` naming the weekday and span at fault.
    """
    week: list[list[Span]] = [[] for _ in WEEKDAYS]
    for key, spans in (hours or {}).items():
        day = str(key).strip().lower()[:3]
        if day not in WEEKDAYS:
            raise InvalidInputError(
                f"unknown weekday {key!r} (expected one of {', '.join(WEEKDAYS)})",
                where="hours",
            )
        if not isinstance(spans, Sequence) or isinstance(spans, str):
            raise InvalidInputError("expected a list of [start, end] spans", where=f"hours.{key}")
        for index, span in enumerate(spans):
            where = f"hours.{key}[{index}]"
            if not isinstance(span, Sequence) or isinstance(span, str) or len(span) != 2:
                raise InvalidInputError(f"expected [start, end], got {span!r}", where=where)
            start, end = _minutes(span[0], where), _minutes(span[1], where)
            if start == 1440:
                raise InvalidInputError("a span cannot start at 24:00", where=where)
            if end <= start:
                if end == start:
                    raise InvalidInputError(f"empty span {span[0]}–{span[1]}", where=where)
                end += 1440  # crosses midnight: ends the next day
            week[WEEKDAYS.index(day)].append((start, end))
    return tuple(tuple(sorted(spans)) for spans in week)


def _parse_dates(values: Iterable[object]) -> frozenset[date]:
    out = set()
    for index, value in enumerate(values):
        try:
            out.add(value if isinstance(value, date) else date.fromisoformat(str(value)))
        except ValueError:
            raise InvalidInputError(
                f"expected a date YYYY-MM-DD, got {value!r}", where=f"closed_dates[{index}]"
            ) from None
    return frozenset(out)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(f"unknown time zone {name!r}", where="timezone") from None


def check_country(country: str | None, subdivision: str | None) -> None:
    """Refuse a country or subdivision the ``holidays`` package does not know."""
    if country is None:
        if subdivision is not None:
            raise InvalidInputError("a subdivision needs a country", where="subdivision")
        return
    try:
        import holidays  # late: its calendars take a quarter of a second to import

        holidays.country_holidays(country, subdiv=subdivision)
    except (NotImplementedError, KeyError, ValueError) as exc:
        what = f"{country}-{subdivision}" if subdivision else country
        raise InvalidInputError(
            f"no public holidays known for {what!r}: {exc}", where="country"
        ) from None


@lru_cache(maxsize=512)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    import holidays  # late: its calendars take a quarter of a second to import

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())


@dataclass(frozen=True, slots=True)
class Calendar:
    """Opening hours in a time zone with public holidays; see the module's rules."""

    timezone: str = "UTC"
    week: tuple[tuple[Span, ...], ...] = ((),) * 7
    """Spans per weekday, Monday first (see :func:`parse_hours`)."""
    country: str | None = None
    subdivision: str | None = None
    closed_dates: frozenset[date] = frozenset()
    always_open: bool = False
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", _zone(self.timezone))
        if len(self.week) != 7:
            raise InvalidInputError("expected spans for seven weekdays", where="hours")
        if not self.always_open and not any(self.week):
            raise InvalidInputError(
                "the calendar is never open: give opening hours or make it always open",
                where="hours",
            )

    @classmethod
    def build(
        cls,
        timezone: str = "UTC",
        hours: Mapping[str, Any] | None = None,
        *,
        country: str | None = None,
        subdivision: str | None = None,
        closed_dates: Iterable[object] = (),
        always_open: bool = False,
    ) -> Calendar:
        """Validate and build; errors name the field (``hours.mon[0]``, ``timezone``…)."""
        country = country.strip().upper() if country else None
        subdivision = subdivision.strip().upper() if subdivision else None
        check_country(country, subdivision)
        return cls(
            timezone=timezone,
            week=parse_hours(hours),
            country=country,
            subdivision=subdivision,
            closed_dates=_parse_dates(closed_dates),
            always_open=always_open,
        )

    @classmethod
    def of(cls, row: BusinessCalendar) -> Calendar:
        try:
            return cls.build(
                row.timezone,
                row.hours,
                country=row.country,
                subdivision=row.subdivision,
                closed_dates=row.closed_dates or (),
                always_open=bool(row.always_open),
            )
        except InvalidInputError as exc:
            raise InvalidInputError(
                exc.reason, where=f"calendar {row.name!r}: {exc.where}"
            ) from None

    # -- days ----------------------------------------------------------------------------
    def is_closed_day(self, day: date) -> bool:
        """A public holiday or a listed closed date (local date)."""
        if day in self.closed_dates:
            return True
        if self.country is None:
            return False
        # a holiday of next year may be observed on 31 December
        years = (day.year, day.year + 1) if day.month == 12 else (day.year,)
        return any(day in _public_holidays(self.country, self.subdivision, y) for y in years)

    def _day_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's spans as UTC instants (spans belong to the day they start on)."""
        spans = self.week[day.weekday()]
        if not spans or self.is_closed_day(day):
            return []
        midnight = datetime.combine(day, time.min, tzinfo=self.zone)
        out = []
        for start, end in spans:
            # wall-clock arithmetic: the offset is that of the resulting local time
            a = (midnight + timedelta(minutes=start)).astimezone(UTC)
            b = (midnight + timedelta(minutes=end)).astimezone(UTC)
            if b > a:
                out.append((a, b))
        out.sort()
        return out

    def intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals (UTC, merged, in order) that end after ``start``, without end.

        Stops after :data:`_MAX_CLOSED_DAYS` days without any opening.
        """
        start = _aware(start, "start")
        day = start.astimezone(self.zone).date() - _DAY  # a night shift may run into today
        pending: tuple[datetime, datetime] | None = None
        idle = 0
        while idle < _MAX_CLOSED_DAYS:
            todays = self._day_intervals(day)
            idle = 0 if todays else idle + 1
            for a, b in todays:
                if pending is not None and a <= pending[1]:
                    pending = (min(pending[0], a), max(pending[1], b))
                    continue
                if pending is not None and pending[1] > start:
                    yield pending
                pending = (a, b)
            day += _DAY
        if pending is not None and pending[1] > start:
            yield pending

    def _window(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals clipped to [start, end)."""
        for a, b in self.intervals(start):
            if a >= end:
                return
            yield max(a, start), min(b, end)

    # -- the three questions -------------------------------------------------------------
    def is_open(self, at: datetime) -> bool:
        at = _aware(at, "at")
        if self.always_open:
            return True
        for a, b in self.intervals(at):
            return a <= at < b
        return False

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself when open, else the next instant the calendar opens."""
        at = _aware(at, "at")
        if self.always_open:
            return at
        for a, _ in self.intervals(at):
            return max(a, at)
        raise InvalidInputError(f"the calendar never opens after {at.isoformat()}")

    def business_time(self, start: datetime, end: datetime) -> timedelta:
        """Open time between two instants (zero when ``end`` is not after ``start``)."""
        start, end = _aware(start, "start"), _aware(end, "end")
        if end <= start:
            return timedelta(0)
        if self.always_open:
            return end - start
        return sum((b - a for a, b in self._window(start, end)), timedelta(0))

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Open seconds between two instants (microsecond precision)."""
        return self.business_time(start, end).total_seconds()

    def add_business(self, start: datetime, seconds: float | timedelta) -> datetime:
        """The earliest instant at which ``seconds`` of open time have passed since ``start``.

        Zero (or less) gives ``start`` itself. The result is in UTC. It lies within an open
        interval or at its end, never in closed time after it: for any ``end``,
        ``add_business(s, business_seconds(s, end)) <= end``.
        """
        start = _aware(start, "start")
        left = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        if left <= timedelta(0):
            return start.astimezone(UTC)
        if self.always_open:
            return (start + left).astimezone(UTC)
        for a, b in self.intervals(start):
            a = max(a, start)
            if left <= b - a:
                return a + left
            left -= b - a
        raise InvalidInputError(
            f"the calendar is not open for {_MAX_CLOSED_DAYS} days after {start.isoformat()}"
        )


ALWAYS_OPEN = Calendar(always_open=True)
"""Every second counts: the calendar of policies that name none."""


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value


# -- storage -----------------------------------------------------------------------------


def add_calendar(
    session: Session,
    tenant_id: int,
    name: str,
    *,
    timezone: str,
    hours: Mapping[str, Any] | None = None,
    country: str | None = None,
    subdivision: str | None = None,
    closed_dates: Sequence[str] = (),
    always_open: bool = False,
) -> BusinessCalendar:
    """A tenant's calendar, validated (:meth:`Calendar.build`); names are unique per tenant."""
    name = name.strip()
    if not name:
        raise InvalidInputError("a calendar needs a name", where="name")
    calendar = Calendar.build(
        timezone,
        hours,
        country=country,
        subdivision=subdivision,
        closed_dates=closed_dates,
        always_open=always_open,
    )
    exists = select(BusinessCalendar.id).where(
        BusinessCalendar.tenant_id == tenant_id, BusinessCalendar.name == name
    )
    if session.scalar(exists) is not None:
        raise AlreadyExistsError(f"calendar {name!r} exists already in this tenant")
    row = BusinessCalendar(
        tenant_id=tenant_id,
        name=name,
        timezone=timezone,
        country=calendar.country,
        subdivision=calendar.subdivision,
        hours={k.strip().lower()[:3]: [list(s) for s in v] for k, v in (hours or {}).items()},
        closed_dates=sorted(d.isoformat() for d in calendar.closed_dates),
        always_open=always_open,
    )
    session.add(row)
    session.flush()
    return row


def load_calendars(
    session: Session, tenant_id: int, ids: Iterable[int | None]
) -> dict[int, Calendar]:
    """The tenant's calendars by id, in one query (ids of other tenants are ignored)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.scalars(
        select(BusinessCalendar).where(
            BusinessCalendar.tenant_id == tenant_id, BusinessCalendar.id.in_(wanted)
        )
    )
    return {row.id: Calendar.of(row) for row in rows}


def calendar_for(session: Session, tenant_id: int, calendar_id: int | None) -> Calendar:
    """The calendar of a policy: :data:`ALWAYS_OPEN` when it names none (or it is gone)."""
    return load_calendars(session, tenant_id, [calendar_id]).get(calendar_id or 0, ALWAYS_OPEN)

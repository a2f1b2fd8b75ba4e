"""Deterministic generator of realistic synthetic mentions (demo data and benchmarks).

Everything is produced from the templates of the sibling modules (assembled by
:mod:`clameur.demo.fragments`) combined with a seeded :class:`random.Random`; no text comes from
any data set. The generator streams: memory is bounded by the author pool
(:mod:`clameur.demo.people`) and a small window of recent posts, whatever ``count`` is, and
records come out in non-decreasing ``created_at`` order.

Two ways to place the window: from a fixed ``start`` (the default, 16 November 2026: tests,
benchmarks and replays that need the same records every day), or ending at ``end`` (the
living demo: ``end`` is the clock's now). Ending at ``end``, the scenarios happen in the
last hours — the influencer's outage post 5 h 40 before ``end``, its wave running up to
``end``, the review burst three hours before — and a few mentions arrive in the last ten
minutes, so the newest is minutes old.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from clameur.demo import fragments as frag
from clameur.demo import posts, reviews_news, scenarios, words
from clameur.demo.people import ZONES, People, Person
from clameur.demo.sampling import Weighted, allocate, sorted_uniforms
from clameur.mentions.schemas import SOURCE_ORDER


@dataclass(frozen=True)
class DemoBrand:
    slug: str
    name: str
    queries: tuple[str, ...]
    sector: str  # "telecom" | "energy" | "retail" | "delivery"


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    name: str
    brands: tuple[DemoBrand, ...]


def _brand(slug: str, name: str, tag: str, sector: str) -> DemoBrand:
    return DemoBrand(slug, name, (name, f"@{tag}", f"#{tag}"), sector)


DEMO_TENANTS: Final[tuple[DemoTenant, ...]] = (
    DemoTenant(
        "volta",
        "Groupe Volta",
        (
            _brand("volta-mobile", "Volta Mobile", "VoltaMobile", "telecom"),
            _brand("volta-energie", "Volta Énergie", "VoltaEnergie", "energy"),
        ),
    ),
    DemoTenant(
        "maisonlune",
        "Maison Lune",
        (
            _brand("maison-lune", "Maison Lune", "MaisonLune", "retail"),
            _brand("lune-express", "Lune Express", "LuneExpress", "delivery"),
        ),
    ),
)

SOURCES: Final[tuple[str, ...]] = SOURCE_ORDER
SECTORS: Final[tuple[str, ...]] = ("telecom", "energy", "retail", "delivery")
DEFAULT_START: Final = datetime(2026, 11, 16, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _BrandInfo:
    brand: DemoBrand
    formal: tuple[str, ...]
    social: tuple[str, ...]
    tags: tuple[str, ...]
    ref_prefix: str

    @classmethod
    def of(cls, brand: DemoBrand) -> _BrandInfo:
        formal = tuple(q for q in brand.queries if q[:1] not in "@#") or brand.queries
        tags = tuple(q for q in brand.queries if q.startswith("#"))
        prefix = "".join(part[:1] for part in brand.slug.split("-")).upper() or "CL"
        return cls(brand, formal, brand.queries, tags, prefix)


@dataclass(frozen=True, slots=True)
class _Post:
    external_id: str
    person: Person
    brand: _BrandInfo
    tone: str


def _background_times(
    rng: random.Random, n: int, zone: ZoneInfo, start_ts: int, days: int
) -> Iterator[int]:
    weights = []
    for hour in range(days * 24):
        local = datetime.fromtimestamp(start_ts + hour * 3600 + 1800, tz=zone)
        rhythm = frag.WEEKEND_RHYTHM if local.weekday() >= 5 else frag.WEEKDAY_RHYTHM
        weights.append(rhythm[local.hour] * rng.uniform(0.8, 1.25))
    for hour, k in enumerate(allocate(n, weights)):
        base = start_ts + hour * 3600
        for u in sorted_uniforms(rng, k):
            yield base + int(u * 3600)


def _tag(kind: int, times: Iterable[int]) -> Iterator[tuple[int, int, int]]:
    return ((ts, kind, seq) for seq, ts in enumerate(times))


_BG_KINDS: Final = {3: "fr", 4: "en-gb", 5: "en-us"}
_INFLUENCER, _WAVE, _BURST = 0, 1, 2
_TAIL: Final = 3
"""Mentions of a window placed by its ``end`` that arrive in its last minutes."""
_TAIL_SPAN: Final = (60, 600)
"""The tail arrives between 1 and 10 minutes before ``end`` (seconds)."""
_LIVE_INFLUENCER: Final = 5 * 3600 + 40 * 60
"""Seconds before ``end`` of the influencer's post when the window is placed by ``end``."""
_LIVE_BURST: Final = 3 * 3600
"""Seconds before ``end`` of the review burst's start when the window is placed by ``end``."""
_BURST_MIN: Final = 12
"""Reviews of the burst, at least (up to a tenth of ``count``): enough accounts for the
campaign detector (``campaign_min_authors``) at the small sizes tests use."""


class _Generator:
    def __init__(
        self,
        count: int,
        seed: int,
        start_ts: int,
        days: int,
        tenants: Sequence[DemoTenant],
        *,
        live: bool = False,
    ) -> None:
        master = random.Random(seed)  # noqa: S311 - demo data, not cryptography
        self.rng = random.Random(master.getrandbits(64))  # noqa: S311
        self.time_seeds = [master.getrandbits(64) for _ in range(6)]
        self.count, self.days, self.live = count, days, live
        self.start_ts = start_ts
        self.end_ts = self.start_ts + days * 86400
        brands = [_BrandInfo.of(b) for t in tenants for b in t.brands]
        for info in brands:
            if info.brand.sector not in SECTORS:
                raise ValueError(f"unsupported sector {info.brand.sector!r}")
        if count and not brands:
            raise ValueError("no brand to mention")
        self.brands = Weighted((b, frag.SECTOR_WEIGHT[b.brand.sector]) for b in brands)
        self.telecom = next((b for b in brands if b.brand.sector == "telecom"), None)
        self.retail = next((b for b in brands if b.brand.sector == "retail"), None)
        self.complaints = {s: Weighted(pairs) for s, pairs in frag.COMPLAINTS.items()}
        self.intents = {k: Weighted(pairs) for k, pairs in frag.INTENTS.items()}
        self.sources = Weighted(frag.SOURCE_WEIGHTS.items())
        self.wave_sources = Weighted(frag.WAVE_SOURCES)
        self.counters = dict.fromkeys(SOURCES, 0)
        self.windows: dict[tuple[str, str], deque[_Post]] = {}
        self.wave_recent: deque[str] = deque(maxlen=40)
        self.infl_id = ""
        self._plan()
        self.people = People(self.rng, count, self.start_ts)

    # ------------------------------------------------------------------ planning
    def _plan(self) -> None:
        count = self.count
        big = count >= 60
        self.n_infl = 1 if big and self.telecom else 0
        self.n_wave = count * 8 // 100 if self.n_infl else 0
        burst = max(count * 4 // 300, min(_BURST_MIN, count // 10))
        self.n_burst = burst if big and self.retail else 0
        n_bg = count - self.n_infl - self.n_wave - self.n_burst
        fr = round(0.65 * count - 0.9 * self.n_wave - self.n_burst - self.n_infl)
        fr = max(0, min(n_bg, fr))
        gb = round((n_bg - fr) * 0.7)
        self.n_bg = {"fr": fr, "en-gb": gb, "en-us": n_bg - fr - gb}
        self.n_tail = min(_TAIL, fr) if self.live else 0
        if self.live:
            self.t_infl = self.end_ts - _LIVE_INFLUENCER
            self.t_burst = self.end_ts - _LIVE_BURST
        else:
            d3, d5 = min(2, self.days - 1), min(4, self.days - 1)
            self.t_infl = min(self.start_ts + d3 * 86400 + 7 * 3600 + 40 * 60, self.end_ts - 2)
            self.t_burst = min(self.start_ts + d5 * 86400 + 19 * 3600 + 25 * 60, self.end_ts - 3001)
        self.t_burst = max(self.t_burst, self.start_ts)

    def _scenario_times(self) -> list[Iterator[tuple[int, int, int]]]:
        last = self.end_ts - 1
        wave_rng = random.Random(self.time_seeds[3])  # noqa: S311
        burst_rng = random.Random(self.time_seeds[4])  # noqa: S311
        span = max(1, min(10 * 3600, last - self.t_infl - 90))
        mean = 2.5 * 3600
        norm = 1.0 - math.exp(-span / mean)
        wave = (
            min(last, self.t_infl + 90 + int(-mean * math.log(1.0 - u * norm)))
            for u in sorted_uniforms(wave_rng, self.n_wave)
        )
        burst = (
            min(last, self.t_burst + int(u * 3000))
            for u in sorted_uniforms(burst_rng, self.n_burst)
        )
        return [
            _tag(_INFLUENCER, [self.t_infl] * self.n_infl),
            _tag(_WAVE, wave),
            _tag(_BURST, burst),
        ]

    def _ctx(
        self, lang: str, info: _BrandInfo, when: datetime, *, formal: bool
    ) -> frag.Placeholders:
        return frag.Placeholders(
            self.rng,
            lang,
            when,
            info.brand.sector,
            info.ref_prefix,
            info.formal,
            info.social,
            info.tags,
            formal=formal,
        )

    # ------------------------------------------------------------------ records
    def _emit(
        self,
        source: str,
        person: Person,
        lang: str,
        text: str,
        when: datetime,
        info: _BrandInfo,
        tone: str,
        *,
        parent: str | None = None,
        rating: int | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        prefix, base = frag.ID_PREFIX[source]
        n = self.counters[source]
        self.counters[source] = n + 1
        num = base + n * 11 + rng.randrange(11)
        external_id = f"{prefix}-{num}"
        record: dict[str, Any] = {
            "source": source,
            "external_id": external_id,
            "text": text,
            "created_at": when.isoformat(),
        }
        record["author"], url = self._author(person, source, num, info, lang, when)
        if url:
            record["url"] = url
        if parent:
            record["in_reply_to"] = parent
        if rating is not None:
            record["rating"] = rating
        record["lang"] = lang
        if source != "email":
            record["metrics"] = self._metrics(person, source, tone)
        if source in frag.REPLY_RATE:
            window = self.windows.setdefault((source, lang), deque(maxlen=60))
            window.append(_Post(external_id, person, info, tone))
        return record

    def _author(
        self, p: Person, source: str, num: int, info: _BrandInfo, lang: str, when: datetime
    ) -> tuple[dict[str, Any], str | None]:
        """The author object and the post URL (None for e-mails)."""
        if source == "email":
            return {"handle": p.mail, "name": p.full}, None
        handle = p.handle
        if source == "mastodon":
            handle = f"{p.handle}@{p.host}"
        elif source == "bluesky":
            handle = f"{p.handle.replace('_', '-')}.bsky.example"
        if not p.iso:
            p.iso = datetime.fromtimestamp(p.created_ts, tz=p.zone).isoformat()
        subs = words.REDDIT_SUBS[lang]
        keys = {
            "h": p.handle if source == "mastodon" else handle,
            "host": p.host,
            "num": num,
            "code": format(num * 7919, "x"),
            "page": info.brand.slug.replace("-", ""),
            "sub": subs[num % len(subs)],
            "slug": info.brand.slug,
            "sector": info.brand.sector,
        }
        if source == "blog":
            keys["blog"], keys["ym"] = frag.slug(p.handle), f"{when:%Y/%m}"
        author = {
            "handle": handle,
            "name": p.name,
            "followers": p.followers,
            "created_at": p.iso,
            "verified": p.verified,
            "url": frag.AUTHOR_URLS.get(source, "").format_map(keys),
        }
        post_url = frag.POST_URLS.get(source)
        return author, post_url.format_map(keys) if post_url else None

    def _metrics(self, p: Person, source: str, tone: str) -> dict[str, int]:
        rng = self.rng
        reach = 0.3 + p.followers**0.62 / 12.0
        reach *= 1.5 if tone == "neg" else 0.2 if tone == "spam" else 1.0
        if source in ("review", "forum", "blog", "news"):
            reach = 0.5 + reach * 0.2
        likes = int(rng.expovariate(1.0) * reach)
        shares = int(likes * rng.random() * (0.05 if source in ("review", "forum") else 0.3))
        replies = int(rng.expovariate(1.0) * (0.4 + reach * 0.12))
        return {"likes": likes, "shares": shares, "replies": replies}

    # ------------------------------------------------------------------ record kinds
    def _background(self, ts: int, zkey: str) -> dict[str, Any]:
        rng = self.rng
        lang = zkey[:2]
        source = self.sources.pick(rng)
        window = self.windows.get((source, lang))
        if window and rng.random() < frag.REPLY_RATE[source]:
            return self._reply(ts, source, lang, window)
        info = self.brands.pick(rng)
        sector = info.brand.sector
        if source == "news":
            person = rng.choice(self.people.outlets[lang])
            when = datetime.fromtimestamp(ts, tz=person.zone)
            ctx = self._ctx(lang, info, when, formal=True)
            head = rng.choice(reviews_news.NEWS_HEADLINES[lang][sector])
            leads = rng.sample(reviews_news.NEWS_LEADS[lang], k=2)
            text = f"{head}\n\n{leads[0]} {leads[1]}".format_map(ctx)
            return self._emit(source, person, lang, text, when, info, "neu")
        table = source if source in ("review", "email", "blog") else "social"
        intent = self.intents[table].pick(rng)
        if intent == "complaint":
            intent = self.complaints[sector].pick(rng)
        tone = frag.TONE.get(intent, "neg")
        if intent == "spam":
            person = rng.choice(self.people.bots[lang])
        elif rng.random() < 0.006 and source not in ("email", "review"):
            person = rng.choice(self.people.influencers[lang])
        else:
            person = self.people.customer(lang)
        when = datetime.fromtimestamp(ts, tz=person.zone)
        formal = source in ("email", "review", "blog")
        ctx = self._ctx(lang, info, when, formal=formal)
        rating = None
        if source == "email":
            text = frag.email(ctx, "complaint" if tone == "neg" else intent, person.full)
        elif source == "review":
            tone = "pos" if tone == "spam" else tone
            text = frag.compose(ctx, intent, tone, review=True)
            if tone == "neg":
                rating = 1 if intent == "toxic" or rng.random() < 0.6 else 2
            elif tone == "pos":
                rating = 5 if rng.random() < 0.7 or intent == "spam" else 4
            else:
                rating = rng.choice((3, 3, 3, 2, 4))
            text = frag.decorate(text, ctx, tone, source, tags=False)
        elif source == "blog":
            lines = reviews_news.BLOG_LINES[lang]
            other = rng.choice(("praise", "neutral", "question"))
            paragraphs = (
                rng.choice(reviews_news.BLOG_TITLES[lang]).format_map(ctx),
                f"{rng.choice(lines['intro'])} {frag.compose(ctx, intent, tone)}",
                frag.compose(ctx, other, frag.TONE[other]),
                rng.choice(lines["outro"]),
            )
            text = "\n\n".join(paragraphs)
        else:
            text = frag.decorate(frag.compose(ctx, intent, tone), ctx, tone, source)
        return self._emit(source, person, lang, text, when, info, tone, rating=rating)

    def _reply(self, ts: int, source: str, lang: str, window: deque[_Post]) -> dict[str, Any]:
        rng = self.rng
        size = len(window)
        parent = window[size - 1 - int(size * rng.random() ** 2)]
        follow_up = source == "email" or rng.random() < 0.25
        person = parent.person if follow_up else self.people.customer(lang)
        if person is parent.person and not follow_up:
            person = self.people.customer(lang)
        when = datetime.fromtimestamp(ts, tz=person.zone)
        ctx = self._ctx(lang, parent.brand, when, formal=source == "email")
        if source == "email":
            text = frag.email_followup(ctx, person.full)
        else:
            table = posts.FOLLOWUPS if follow_up else posts.REPLIES
            text = rng.choice(table[lang][parent.tone]).format_map(ctx)
            text = frag.decorate(text, ctx, parent.tone, source, tags=False)
        return self._emit(
            source, person, lang, text, when, parent.brand, parent.tone, parent=parent.external_id
        )

    def _influencer_post(self, ts: int) -> dict[str, Any]:
        assert self.telecom is not None
        person = self.people.influencers["fr"][0]
        when = datetime.fromtimestamp(ts, tz=person.zone)
        ctx = self._ctx("fr", self.telecom, when, formal=False)
        ctx["hours"] = "3"
        text = self.rng.choice(scenarios.INFLUENCER_POSTS).format_map(ctx) + " 😡"
        record = self._emit("twitter", person, "fr", text, when, self.telecom, "neg")
        record["metrics"] = {
            "likes": self.rng.randint(3000, 9000),
            "shares": self.rng.randint(800, 2500),
            "replies": max(1, self.n_wave * 55 // 100),
        }
        self.infl_id = str(record["external_id"])
        return record

    def _wave_post(self, ts: int) -> dict[str, Any]:
        assert self.telecom is not None
        rng = self.rng
        lang = "fr" if rng.random() < 0.9 else "en"
        person = next(self.people.wave_people[lang], None)
        if person is None:
            person = self.people.person(lang, "fr" if lang == "fr" else "en-gb", fresh_at=ts)
        when = datetime.fromtimestamp(ts, tz=person.zone)
        ctx = self._ctx(lang, self.telecom, when, formal=False)
        ctx["influencer"] = "@" + self.people.influencers["fr"][0].handle
        ctx["hours"] = str(rng.randint(2, 6))
        roll, parent = rng.random(), None
        if roll < 0.55:
            source, parent = "twitter", self.infl_id
        elif roll < 0.68 and self.wave_recent:
            source, parent = "twitter", rng.choice(self.wave_recent)
        else:
            source = self.wave_sources.pick(rng)
        parts = [rng.choice(scenarios.WAVE_BODIES[lang])]
        if rng.random() < 0.25:
            parts.insert(0, rng.choice(posts.OPENERS[lang]["neg"]))
        if rng.random() < 0.25:
            parts.append(rng.choice(posts.CLOSERS[lang]["neg"]))
        text = frag.decorate(" ".join(parts).format_map(ctx), ctx, "neg", source)
        record = self._emit(source, person, lang, text, when, self.telecom, "neg", parent=parent)
        if source == "twitter":
            self.wave_recent.append(str(record["external_id"]))
        return record

    def _burst_review(self, ts: int) -> dict[str, Any]:
        assert self.retail is not None
        rng = self.rng
        person = self.people.person("fr", "fr", fresh_at=ts)
        person.followers = rng.randint(0, 6)
        when = datetime.fromtimestamp(ts, tz=person.zone)
        ctx = self._ctx("fr", self.retail, when, formal=True)
        parts = [rng.choice(slot) for slot in scenarios.BURST_SLOTS]
        text = " ".join(p for p in parts if p).format_map(ctx)
        if rng.random() < 0.2:
            text += " 😡"
        return self._emit("review", person, "fr", text, when, self.retail, "neg", rating=1)

    def _tail_times(self) -> list[int]:
        """The last minutes' mentions (a window placed by its end): 1–10 minutes before it."""
        rng = random.Random(self.time_seeds[5])  # noqa: S311
        low, high = _TAIL_SPAN
        return sorted(self.end_ts - rng.randint(low, high) for _ in range(self.n_tail))

    def run(self) -> Iterator[dict[str, Any]]:
        streams = self._scenario_times()
        for kind, zkey in _BG_KINDS.items():
            rng = random.Random(self.time_seeds[kind - 3])  # noqa: S311
            n = self.n_bg[zkey]
            if kind == 3 and self.n_tail:
                n -= self.n_tail
            times: Iterable[int] = _background_times(rng, n, ZONES[zkey], self.start_ts, self.days)
            if kind == 3 and self.n_tail:
                times = heapq.merge(times, self._tail_times())
            streams.append(_tag(kind, times))
        for ts, kind, _seq in heapq.merge(*streams):
            if kind == _INFLUENCER:
                yield self._influencer_post(ts)
            elif kind == _WAVE:
                yield self._wave_post(ts)
            elif kind == _BURST:
                yield self._burst_review(ts)
            else:
                yield self._background(ts, _BG_KINDS[kind])


def generate_mentions(
    *,
    count: int = 3000,
    seed: int = 7,
    start: datetime | None = None,
    days: int = 7,
    tenants: Sequence[DemoTenant] = DEMO_TENANTS,
    end: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` synthetic mention records (import-contract dicts) in created_at order.

    The window of ``days`` starts at ``start`` (default :data:`DEFAULT_START`), or ends at
    ``end`` (the living demo: scenarios in the last hours, the newest mention 1–10 minutes
    before ``end``; see the module's docstring); not both. Deterministic: the same arguments
    give the same records. ``start`` and ``end`` must be timezone-aware.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    if days < 1:
        raise ValueError("days must be >= 1")
    if start is not None and end is not None:
        raise ValueError("give start or end, not both")
    for name, value in (("start", start), ("end", end)):
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(f"{name} must be a timezone-aware datetime")
    if end is not None:
        start_ts = math.floor(end.timestamp()) - days * 86400
    else:
        start_ts = math.floor((start or DEFAULT_START).timestamp())
    return _Generator(count, seed, start_ts, days, tenants, live=end is not None).run()


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Stream records to ``path`` as UTF-8 JSON lines; return the number of lines written."""
    written = 0
    with Path(path).open("w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False))
            out.write("\n")
            written += 1
    return written

"""Mix tables, text utilities and text assembly for the synthetic demo mentions.

Written for Clameur, not copied from any data set or website.

Every template is a ``str.format`` pattern. Placeholders are filled lazily by the generator:
``{brand}`` (the brand as the author writes it), ``{city}``, ``{order}``, ``{amount}``,
``{days}``, ``{hours}``, ``{minutes}``, ``{agent}``, ``{product}``, ``{tracking}``, ``{ref}``,
``{day}``, ``{date}``, ``{time}``, ``{n}``, ``{years}``, ``{link}``, ``{influencer}``.
Body templates (the only required part of a post) always contain ``{brand}``;
openers, details and closers never do.

The templates live in :mod:`~clameur.demo.words`, :mod:`~clameur.demo.posts`,
:mod:`~clameur.demo.bodies`, :mod:`~clameur.demo.reviews_news`, :mod:`~clameur.demo.mail` and
:mod:`~clameur.demo.scenarios`; ``SECTOR_BODIES``, ``GENERIC_BODIES`` and ``WAVE_BODIES`` are
re-exported here next to ``BODIES``.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from clameur.demo.bodies import GENERIC_BODIES as GENERIC_BODIES
from clameur.demo.bodies import SECTOR_BODIES as SECTOR_BODIES
from clameur.demo.mail import EMAIL, EMAIL_CASES
from clameur.demo.posts import CLOSERS, DETAILS, OPENERS
from clameur.demo.reviews_news import REVIEW_CLOSERS, REVIEW_NEUTRAL, REVIEW_OPENERS
from clameur.demo.scenarios import WAVE_BODIES as WAVE_BODIES
from clameur.demo.words import (
    AGENTS,
    CITIES,
    EMOJI,
    HASHTAGS,
    MONTHS,
    PRODUCTS,
    SPAM_HOSTS,
    WEEKDAYS,
    Pool,
)

# --------------------------------------------------------------------------- mix tables

SOURCE_WEIGHTS: Final = {
    "twitter": 30.0,
    "facebook": 16.0,
    "review": 12.0,
    "forum": 9.0,
    "instagram": 8.0,
    "reddit": 6.0,
    "mastodon": 5.0,
    "bluesky": 4.5,
    "email": 4.0,
    "blog": 3.0,
    "news": 2.5,
}
# Sources where posts get replies (e-mails get follow-ups from the same author), and how often.
REPLY_RATE: Final = {
    "twitter": 0.2,
    "facebook": 0.25,
    "instagram": 0.15,
    "mastodon": 0.2,
    "bluesky": 0.2,
    "reddit": 0.35,
    "forum": 0.35,
    "blog": 0.15,
    "email": 0.12,
}
WAVE_SOURCES: Final = (
    ("twitter", 30.0),
    ("facebook", 25.0),
    ("forum", 10.0),
    ("reddit", 8.0),
    ("mastodon", 8.0),
    ("bluesky", 8.0),
    ("instagram", 6.0),
)
SECTOR_WEIGHT: Final = {"telecom": 35.0, "energy": 20.0, "retail": 27.0, "delivery": 18.0}
COMPLAINTS: Final = {
    "telecom": (("outage", 3.0), ("billing", 3.0), ("churn", 2.0), ("rude", 1.0), ("refund", 1.0)),
    "energy": (("outage", 2.0), ("billing", 4.0), ("churn", 2.0), ("rude", 1.0), ("refund", 1.0)),
    "retail": (
        ("late", 3.0),
        ("damaged", 2.0),
        ("lost", 1.0),
        ("refund", 2.0),
        ("churn", 1.0),
        ("rude", 1.0),
    ),
    "delivery": (
        ("late", 3.0),
        ("lost", 2.0),
        ("damaged", 2.0),
        ("rude", 2.0),
        ("refund", 1.0),
        ("churn", 1.0),
    ),
}
INTENTS: Final = {
    "social": (
        ("complaint", 36.0),
        ("question", 15.0),
        ("request", 8.0),
        ("praise", 16.0),
        ("neutral", 15.0),
        ("spam", 6.0),
        ("toxic", 4.0),
    ),
    "review": (
        ("complaint", 45.0),
        ("praise", 36.0),
        ("neutral", 15.0),
        ("spam", 2.0),
        ("toxic", 2.0),
    ),
    "email": (("complaint", 62.0), ("question", 18.0), ("request", 14.0), ("praise", 6.0)),
    "blog": (("complaint", 45.0), ("praise", 30.0), ("neutral", 25.0)),
}
# Tone of an intent; every complaint sub-type and "toxic" are "neg".
TONE: Final = {
    "question": "ask",
    "request": "ask",
    "praise": "pos",
    "neutral": "neu",
    "spam": "spam",
}
# Relative volume per local hour (0-23), weekdays and weekends.
WEEKDAY_RHYTHM: Final = (
    0.6,
    0.35,
    0.2,
    0.15,
    0.15,
    0.25,
    0.6,
    1.5,
    3.0,
    4.4,
    5.4,
    5.9,
    5.0,
    4.6,
    4.8,
    4.6,
    4.4,
    4.7,
    5.3,
    5.9,
    6.3,
    6.0,
    4.3,
    2.2,
)
WEEKEND_RHYTHM: Final = (
    1.0,
    0.7,
    0.4,
    0.25,
    0.2,
    0.2,
    0.3,
    0.6,
    1.3,
    2.4,
    3.4,
    4.0,
    4.1,
    3.9,
    3.7,
    3.6,
    3.6,
    3.8,
    4.1,
    4.5,
    4.9,
    4.8,
    3.8,
    2.3,
)
# external_id prefix and first number per source.
ID_PREFIX: Final = {
    "twitter": ("tw", 1843520001),
    "facebook": ("fb", 5120004417),
    "instagram": ("ig", 3310000123),
    "mastodon": ("md", 1133000441),
    "bluesky": ("bs", 3100008821),
    "reddit": ("rd", 9100000077),
    "forum": ("fo", 410023),
    "blog": ("bl", 80311),
    "news": ("nw", 700141),
    "review": ("rv", 2200417),
    "email": ("em", 610000),
    "web": ("wb", 1000),
    "other": ("ot", 1000),
}
TEXT_LIMIT: Final = {"twitter": 280, "bluesky": 300, "mastodon": 500, "instagram": 900}
# URL patterns on fictional hosts. Keys: h (handle), host, num, code, page, sub, slug, sector, ym.
AUTHOR_URLS: Final = {
    "twitter": "https://x.example/{h}",
    "facebook": "https://facebook.example/{h}",
    "instagram": "https://instagram.example/{h}",
    "mastodon": "https://{host}/@{h}",
    "bluesky": "https://bsky.example/profile/{h}",
    "reddit": "https://reddit.example/user/{h}",
    "forum": "https://forum-conso.example/u/{h}",
    "blog": "https://{blog}.blog.example/",
    "news": "https://{host}/",
    "review": "https://etoiles-avis.example/membre/{h}",
}
POST_URLS: Final = {
    "twitter": "https://x.example/{h}/status/{num}",
    "facebook": "https://facebook.example/{page}/posts/{num}",
    "instagram": "https://instagram.example/p/{code}",
    "mastodon": "https://{host}/@{h}/{num}",
    "bluesky": "https://bsky.example/profile/{h}/post/{code}",
    "reddit": "https://reddit.example/r/{sub}/comments/{code}/",
    "forum": "https://forum-conso.example/t/{slug}/{num}",
    "blog": "https://{blog}.blog.example/{ym}/{code}",
    "news": "https://{host}/{sector}/{code}-{num}",
    "review": "https://etoiles-avis.example/avis/{slug}/{num}",
}

# --------------------------------------------------------------------------- text utilities

B36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
_WORD_RE: Final = re.compile(r"[^\W\d_]{4,}")


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", strip_accents(text).lower())


def typo(rng: random.Random, text: str, protect: str) -> str:
    """Introduce one plausible typo, never inside ``protect``, a handle, a tag or a link."""
    words = list(_WORD_RE.finditer(text))
    if not words:
        return text
    match = words[int(rng.random() * len(words))]
    a, b = match.span()
    if a and text[a - 1] in "@#/._-":
        return text
    pos = text.find(protect) if protect else -1
    while pos >= 0:
        if pos < b and a < pos + len(protect):
            return text
        pos = text.find(protect, pos + 1)
    word, op = match.group(), rng.random()
    i = rng.randrange(1, len(word) - 1)
    if op < 0.35:
        new = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    elif op < 0.6:
        new = word[:i] + word[i + 1 :]
    elif op < 0.85 and strip_accents(word) != word:
        new = strip_accents(word)
    else:
        new = word[:i] + word[i] + word[i:]
    return text[:a] + new + text[b:]


class Placeholders(dict[str, str]):
    """Placeholder values for one record, drawn lazily (and once each) from the caller's RNG."""

    def __init__(
        self,
        rng: random.Random,
        lang: str,
        when: datetime,
        sector: str,
        ref_prefix: str,
        formal_terms: Pool,
        social_terms: Pool,
        tags: Pool,
        *,
        formal: bool,
    ) -> None:
        super().__init__()
        self.rng, self.lang, self.when, self.sector, self.ref_prefix = (
            rng,
            lang,
            when,
            sector,
            ref_prefix,
        )
        self.formal_terms, self.social_terms, self.tags = formal_terms, social_terms, tags
        self.formal = formal

    def __missing__(self, key: str) -> str:
        value = _FILLERS[key](self)
        self[key] = value
        return value

    def brand(self) -> str:
        """The brand as this author writes it: name, @handle or #tag, case and accents vary."""
        rng = self.rng
        social = not self.formal and rng.random() > 0.62
        term = rng.choice(self.social_terms if social else self.formal_terms)
        roll = rng.random()
        if roll < 0.1 and not self.formal:
            return term.lower()
        return strip_accents(term) if roll < 0.18 else term

    def amount(self) -> str:
        euros = int(self.rng.lognormvariate(3.8, 0.8)) + 1
        cents = self.rng.choice((0, 90, 99, 49, 50, self.rng.randrange(100)))
        return f"{euros},{cents:02d} €" if self.lang == "fr" else f"€{euros}.{cents:02d}"

    def day(self) -> str:
        return WEEKDAYS[self.lang][(self.when.weekday() - self.rng.randint(1, 3)) % 7]

    def date(self) -> str:
        past = self.when - timedelta(days=self.rng.randint(2, 20))
        day = "1er" if past.day == 1 and self.lang == "fr" else str(past.day)
        return f"{day} {MONTHS[self.lang][past.month - 1]}"

    def time(self) -> str:
        past = self.when - timedelta(minutes=self.rng.randint(20, 300))
        if self.lang == "fr":
            return f"{past.hour}h{past.minute:02d}"
        return f"{(past.hour - 1) % 12 + 1}:{past.minute:02d}{'am' if past.hour < 12 else 'pm'}"

    def link(self) -> str:
        token = "".join(self.rng.choice(B36) for _ in range(6))
        return f"https://{self.rng.choice(SPAM_HOSTS)}/{token}"


_FILLERS: Final[dict[str, Callable[[Placeholders], str]]] = {
    "brand": Placeholders.brand,
    "amount": Placeholders.amount,
    "day": Placeholders.day,
    "date": Placeholders.date,
    "time": Placeholders.time,
    "link": Placeholders.link,
    "city": lambda c: c.rng.choice(CITIES[c.lang]),
    "agent": lambda c: c.rng.choice(AGENTS[c.lang]),
    "product": lambda c: c.rng.choice(PRODUCTS[c.sector][c.lang]),
    "order": lambda c: str(c.rng.randrange(10000, 99999)),
    "tracking": lambda c: f"LU{c.rng.randrange(10**8, 10**9)}",
    "ref": lambda c: f"{c.ref_prefix}-{c.rng.randrange(10**6, 10**7)}",
    "days": lambda c: str(c.rng.randint(2, 21)),
    "hours": lambda c: str(c.rng.randint(2, 36)),
    "minutes": lambda c: str(c.rng.randint(15, 95)),
    "n": lambda c: str(c.rng.randint(2, 6)),
    "years": lambda c: str(c.rng.randint(2, 12)),
}

# All bodies for (lang, sector, intent): the sector's own plus the generic ones.
BODIES: Final = {
    (lang, sector, intent): SECTOR_BODIES[lang][sector].get(intent, ())
    + GENERIC_BODIES[lang].get(intent, ())
    for lang in ("fr", "en")
    for sector in SECTOR_BODIES[lang]
    for intent in {*GENERIC_BODIES[lang], *SECTOR_BODIES[lang][sector]}
}


# --------------------------------------------------------------------------- assembling texts


def decorate(text: str, ctx: Placeholders, tone: str, source: str, *, tags: bool = True) -> str:
    """Social-media touches: the odd typo, case, emoji and hashtags; respect length limits."""
    rng, lang, plain = ctx.rng, ctx.lang, text
    if tone != "spam" and rng.random() < (0.12 if lang == "fr" else 0.07):
        text = typo(rng, text, ctx.get("brand", ""))
    roll = rng.random()
    if tone == "neg" and roll < 0.02:
        text = text.upper()
    elif roll < 0.1 and text[:1].isupper() and lang == "fr":
        text = text[0].lower() + text[1:]
    if tone in EMOJI and rng.random() < 0.33:
        text += " " + rng.choice(EMOJI[tone]) * rng.choice((1, 1, 1, 2, 3))
    rate = 0.55 if source == "instagram" else 0.22
    if tags and source in ("twitter", "instagram", "mastodon", "bluesky") and rng.random() < rate:
        pool = HASHTAGS[lang][ctx.sector] + HASHTAGS[lang].get(tone, ())
        chosen = rng.sample(pool, k=min(len(pool), rng.randint(1, 2)))
        if ctx.tags and rng.random() < 0.3:
            chosen.append(rng.choice(ctx.tags))
        text += " " + " ".join(chosen)
    limit = TEXT_LIMIT.get(source, 0)
    if limit and len(text) > limit:  # drop the decorations, then cut the tail if need be
        text = plain if len(plain) <= limit else plain[: limit - 1].rstrip() + "…"
    return text


def compose(ctx: Placeholders, intent: str, tone: str, *, review: bool = False) -> str:
    """A post or review: optional opener, a body for the intent, detail and closer."""
    rng, lang = ctx.rng, ctx.lang
    sector = ctx.sector
    parts = []
    openers = REVIEW_OPENERS if review else OPENERS
    closers = REVIEW_CLOSERS if review else CLOSERS
    if tone in openers[lang] and rng.random() < (0.45 if review else 0.28):
        parts.append(rng.choice(openers[lang][tone]))
    neutral_review = review and intent == "neutral"
    bodies = REVIEW_NEUTRAL[lang] if neutral_review else BODIES[(lang, sector, intent)]
    parts.append(rng.choice(bodies))
    if tone in ("neg", "ask") and intent not in ("toxic", "question") and rng.random() < 0.4:
        parts.append(rng.choice(DETAILS[lang][sector]))
    if tone in closers[lang] and rng.random() < (0.5 if review else 0.3):
        parts.append(rng.choice(closers[lang][tone]))
    return " ".join(parts).format_map(ctx)


def email(ctx: Placeholders, intent: str, signature: str) -> str:
    """A formal e-mail: subject, greeting, context, the problem or question, request, closing."""
    rng, lang = ctx.rng, ctx.lang
    e = EMAIL[lang]
    if intent == "complaint":
        subject, problem = rng.choice(EMAIL_CASES[lang][ctx.sector])
        if rng.random() < 0.6:
            problem += " " + rng.choice(e["insist"])
        ask = rng.choice(e["ask_complaint"])
    else:
        subject = rng.choice(e[f"{intent}_subject"])
        problem = rng.choice(e[intent])
        ask = rng.choice(e["ask_praise" if intent == "praise" else "ask_other"])
    intro, closing = rng.choice(e["intro"]), rng.choice(e["closing"])
    lines = (
        f"{e['subject_word'][0]} {subject}",
        "",
        rng.choice(e["greeting"]),
        "",
        f"{intro} {problem}",
        "",
        ask,
        "",
        closing,
        signature,
    )
    return "\n".join(lines).format_map(ctx)


def email_followup(ctx: Placeholders, signature: str) -> str:
    """A reminder about an earlier e-mail that got no answer."""
    rng, e = ctx.rng, EMAIL[ctx.lang]
    lines = (
        f"{e['subject_word'][0]} {rng.choice(e['followup_subject'])}",
        "",
        rng.choice(e["greeting"]),
        "",
        f"{rng.choice(e['followup'])} {rng.choice(e['insist'])}",
        "",
        rng.choice(e["ask_complaint"]),
        "",
        rng.choice(e["closing"]),
        signature,
    )
    return "\n".join(lines).format_map(ctx)

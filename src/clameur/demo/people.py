"""The author pool of the demo generator: customers, influencers, deal bots and news outlets.

Every account is drawn from the word lists in :mod:`clameur.demo.words` with the generator's
seeded RNG, so the pool is deterministic and its draws interleave with the generator's own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from clameur.demo import words
from clameur.demo.fragments import slug
from clameur.demo.sampling import Weighted

ZONES: Final = {
    "fr": ZoneInfo("Europe/Paris"),
    "en-gb": ZoneInfo("Europe/London"),
    "en-us": ZoneInfo("America/New_York"),
}


@dataclass(slots=True)
class Person:
    handle: str
    name: str  # as displayed: full name, initial, first name or a nickname
    full: str  # for e-mail signatures
    lang: str
    zone: ZoneInfo
    followers: int
    created_ts: int
    kind: str = "customer"  # customer | influencer | bot | outlet | fresh
    verified: bool = False
    host: str = "piaille.example"  # Mastodon instance, or the outlet's site for news
    mail: str = ""
    iso: str = ""  # created_at, formatted on first use


class People:
    """Everyone who writes: built once from ``rng``, plus new accounts created on demand."""

    def __init__(self, rng: random.Random, count: int, start_ts: int) -> None:
        self.rng, self.start_ts = rng, start_ts
        self.fresh_seq = 1000
        self.used: set[str] = set()
        size = min(4000, max(300, count // 8))
        shares = {"fr": 0.62, "en-gb": 0.26, "en-us": 0.12}
        self.pools: dict[str, Weighted[Person]] = {}
        wave_order: dict[str, list[Person]] = {"fr": [], "en": []}
        for zkey, share in shares.items():
            lang = zkey[:2]
            people = [self.person(lang, zkey) for _ in range(max(20, int(size * share)))]
            self.pools[zkey] = Weighted((p, 1.0 / (i + 3) ** 0.9) for i, p in enumerate(people))
            wave_order[lang].extend(people)
        for order in wave_order.values():
            rng.shuffle(order)
        self.wave_people = {lang: iter(order) for lang, order in wave_order.items()}
        self.influencers: dict[str, list[Person]] = {"fr": [], "en": []}
        for i, lang in enumerate(("fr", "fr", "fr", "fr", "fr", "en", "en", "en")):
            handle = "{}_officiel" if lang == "fr" else "real_{}"
            followers = rng.randint(440_000, 465_000) if i == 0 else rng.randint(100_000, 900_000)
            p = self._special(lang, handle, "influencer", followers, rng.randint(1800, 5000))
            p.verified = True
            self.influencers[lang].append(p)
        self.bots: dict[str, list[Person]] = {"fr": [], "en": []}
        for lang, bots in self.bots.items():
            for _ in range(15):
                handle = f"{slug(rng.choice(words.HANDLE_WORDS[lang]))}deals{rng.randint(10, 999)}"
                name = rng.choice(("Bons Plans", "Promo Flash", "Deals 24/7"))
                bots.append(self._special(lang, handle, "bot", rng.randint(0, 40), 90, name))
        self.outlets: dict[str, list[Person]] = {}
        for lang, outlets in words.NEWS_OUTLETS.items():
            self.outlets[lang] = []
            for name, handle, host in outlets:
                followers, age = rng.randint(20_000, 300_000), rng.randint(3000, 7000)
                p = self._special(lang, handle, "outlet", followers, age, name)
                p.verified, p.host, p.mail = True, host, f"redaction@{host}"
                self.outlets[lang].append(p)

    def person(self, lang: str, zkey: str, *, fresh_at: int | None = None) -> Person:
        """A new customer account; with ``fresh_at``, one created shortly before that time."""
        rng = self.rng
        first, last = rng.choice(words.FIRST_NAMES[lang]), rng.choice(words.LAST_NAMES[lang])
        f, surname = slug(first), slug(last)
        word = rng.choice(words.HANDLE_WORDS[lang])
        zone = ZONES[zkey]
        if fresh_at is not None:  # new, throw-away or first-time account
            self.fresh_seq += rng.randint(1, 9)
            handle, kind = f"{f}{surname[0]}_{self.fresh_seq}", "fresh"
            followers = int(rng.expovariate(0.25))
            created = fresh_at - rng.randint(3600, 20 * 86400)
        else:
            handle = rng.choice(
                (
                    f"{f}{surname}",
                    f"{f}_{surname}",
                    f"{f}.{surname}",
                    f"{f}_{surname[0]}",
                    f"{f}{rng.randint(10, 99)}",
                    f"{word}_{f}",
                    f"{word}{rng.randint(10, 99)}",
                    f"{f}{surname[:3]}",
                    f"{word}.{f}" if lang == "fr" else f"the_{word}",
                )
            )
            while handle in self.used:
                handle += rng.choice("xyzkq")
            self.used.add(handle)
            kind, followers = "customer", min(60000, int(rng.lognormvariate(4.6, 1.5)))
            created = self.start_ts - int(rng.uniform(150, 15 * 365) * 86400)
        roll = rng.random()
        name = (
            f"{first} {last}"
            if roll < 0.6
            else f"{first} {last[0]}."
            if roll < 0.82
            else first
            if roll < 0.92
            else word.capitalize()
        )
        mail = f"{handle}@{rng.choice(words.MAIL_DOMAINS)}"
        host = rng.choice(words.MASTODON_INSTANCES)
        full = f"{first} {last}"
        return Person(handle, name, full, lang, zone, followers, created, kind, False, host, mail)

    def _special(
        self, lang: str, handle: str, kind: str, followers: int, age_days: int, name: str = ""
    ) -> Person:
        """A non-customer account; ``handle`` may use ``{}`` for a generated one."""
        p = self.person(lang, "fr" if lang == "fr" else "en-gb")
        p.handle, p.kind, p.followers = handle.format(p.handle), kind, followers
        p.name = name or p.full
        p.created_ts = self.start_ts - age_days * 86400
        p.mail = f"{p.handle}@{self.rng.choice(words.MAIL_DOMAINS)}"
        return p

    def customer(self, lang: str) -> Person:
        """A known customer, the most active ones more often."""
        if lang == "fr":
            return self.pools["fr"].pick(self.rng)
        return self.pools["en-gb" if self.rng.random() < 0.7 else "en-us"].pick(self.rng)

"""Synthetic replays for detection: ordinary weeks, complaint waves, influencers, campaigns.

Each function returns records in the import format (``clameur import``), seeded, with
event times, so that tests, benchmarks and rehearsals (``clameur replay``) can build a
situation and know exactly what is in it. Texts are assembled from small pools written for
Clameur (French first, some English), varied enough that genuine customers never write the
same sentence twice.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

SOURCES: tuple[tuple[str, float], ...] = (
    ("twitter", 0.45),
    ("facebook", 0.2),
    ("instagram", 0.1),
    ("forum", 0.1),
    ("review", 0.1),
    ("reddit", 0.05),
)

# Share of the day's peak rate by hour (local = UTC here): quiet nights, a lunch and an
# evening peak.
DAY_PROFILE: tuple[float, ...] = (
    0.12,
    0.08,
    0.05,
    0.04,
    0.05,
    0.1,
    0.25,
    0.5,
    0.75,
    0.85,
    0.9,
    0.95,
    1.0,
    0.95,
    0.85,
    0.8,
    0.8,
    0.85,
    0.9,
    1.0,
    0.95,
    0.75,
    0.5,
    0.25,
)
WEEKEND = 0.7

_OPENERS = (
    "",
    "Bonjour {brand}, ",
    "Hello {brand} ",
    "{brand} : ",
    "Petite question {brand}, ",
    "Dites {brand}, ",
    "Salut, ",
    "",
    "Franchement, ",
    "Bon, ",
)
_NEUTRAL = (
    "est-ce que l'offre {product} est dispo en {region} ?",
    "quelqu'un sait si la boutique de {city} est ouverte le dimanche ?",
    "je viens de recevoir ma facture de {month}, tout est clair.",
    "vous avez des infos sur la nouvelle box ?",
    "je compare {product} avec la concurrence avant de me décider.",
    "comment on change l'adresse de facturation dans l'appli ?",
    "vu la pub {brand} hier soir à la télé, pas mal.",
    "rdv pris en boutique à {city} pour changer de forfait.",
    "c'est possible de garder mon numéro en passant chez vous ?",
    "est-ce que le forfait {product} marche à l'étranger ?",
)
_PRAISE = (
    "merci au conseiller de {city}, problème réglé en dix minutes.",
    "super accueil en boutique à {city}, merci !",
    "la fibre {brand} tient la route depuis {months} mois, rien à dire.",
    "service client rapide et efficace aujourd'hui, bravo.",
    "très content du forfait {product}, bon rapport qualité prix.",
)
_GRUMBLE = (
    "toujours pas de réponse à mon mail de {month}, c'est long.",
    "la facture de {month} est plus chère que prévu, je ne comprends pas pourquoi.",
    "l'appli plante encore quand je veux payer, agaçant.",
    "trois jours pour un remboursement annoncé en 24h, bof.",
    "le débit baisse tous les soirs vers {hour}h chez moi.",
)

_CITIES = (
    "Lyon",
    "Lille",
    "Nantes",
    "Rennes",
    "Bordeaux",
    "Toulouse",
    "Marseille",
    "Nice",
    "Grenoble",
    "Dijon",
    "Metz",
    "Brest",
    "Tours",
    "Reims",
    "Caen",
    "Amiens",
)
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "septembre", "octobre")
_PRODUCTS = ("Zen 100", "Fibre Max", "Mobile 5G", "Duo", "Pro 200")
_REGIONS = ("Bretagne", "Occitanie", "Alsace", "Normandie", "Auvergne")

# Complaint waves: every customer describes the problem in their own words.
_WAVE_START = (
    "",
    "Encore ",
    "Sérieusement {brand}, ",
    "Bon ",
    "@{brand} ",
    "Allô {brand} ? ",
    "Je confirme : ",
    "Idem ici, ",
    "Chez moi aussi, ",
    "Incroyable, ",
)
_WAVE_CORE = (
    "plus de réseau depuis {time}",
    "aucune connexion internet à {city} depuis ce matin",
    "la box clignote rouge et rien ne marche",
    "impossible d'appeler qui que ce soit",
    "panne totale, ni fixe ni mobile",
    "le service client ne répond pas au téléphone",
    "ma fibre est coupée et je télétravaille",
    "pas d'internet, pas de télé, rien",
    "les appels coupent au bout de dix secondes",
    "réseau mort dans tout le quartier à {city}",
    "ça fait {hours} heures que je n'ai plus rien",
    "je ne peux même pas joindre mon médecin",
)
_WAVE_END = (
    ".",
    " !",
    " !!",
    ", c'est inadmissible.",
    ", vous comptez faire quoi ?",
    ", je vais résilier.",
    ", remboursez-nous.",
    "... on paie pour ça ?",
    " #panne",
    ", quel scandale.",
    ", aucune info nulle part.",
    ". Ras le bol.",
)

_FIRST = (
    "camille",
    "lucas",
    "emma",
    "hugo",
    "chloe",
    "louis",
    "lea",
    "jules",
    "manon",
    "adam",
    "ines",
    "nathan",
    "sarah",
    "tom",
    "julie",
    "theo",
    "clara",
    "noah",
    "alice",
    "enzo",
)


def _pick_source(rng: random.Random) -> str:
    return rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])[0]


def _fill(rng: random.Random, template: str, brand: str) -> str:
    return template.format(
        brand=brand,
        city=rng.choice(_CITIES),
        month=rng.choice(_MONTHS),
        product=rng.choice(_PRODUCTS),
        region=rng.choice(_REGIONS),
        months=rng.randint(2, 30),
        hour=rng.randint(18, 23),
        hours=rng.randint(2, 9),
        time=f"{rng.randint(6, 11)}h{rng.choice(['', '15', '30', '45'])}",
    )


class People:
    """A pool of ordinary customers with realistic audiences and account ages."""

    def __init__(self, rng: random.Random, size: int = 3000, prefix: str = "") -> None:
        self.rng = rng
        self.people = []
        for n in range(size):
            followers = int(math.exp(rng.gauss(5.0, 1.3)))  # median ~150
            years = rng.uniform(0.5, 12)
            handle = f"{prefix}{rng.choice(_FIRST)}_{n:04d}"
            self.people.append((handle, followers, years))

    def author(self, at: datetime) -> dict[str, Any]:
        handle, followers, years = self.rng.choice(self.people)
        created = at - timedelta(days=int(years * 365))
        return {"handle": handle, "followers": followers, "created_at": created.isoformat()}


def _record(
    source: str, external_id: str, text: str, at: datetime, author: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "source": source,
        "external_id": external_id,
        "text": text,
        "created_at": at.isoformat(),
        "author": author,
        "lang": "fr",
    }
    record.update({k: v for k, v in extra.items() if v is not None})
    if source == "review" and "rating" not in record:
        record["rating"] = 3
    return record


def ordinary_traffic(
    start: datetime,
    *,
    days: int = 7,
    peak_per_hour: float = 20.0,
    brand: str = "Volta",
    seed: int = 0,
    dispersion: float = 8.0,
    prefix: str = "o",
) -> list[dict[str, Any]]:
    """Days of everyday mentions with a daily rhythm, quieter weekends, and the extra
    hour-to-hour variation of real traffic (a gamma-distributed rate, shape ``dispersion``)."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not cryptography
    people = People(rng, prefix=f"{prefix}{seed}_")
    out: list[dict[str, Any]] = []
    hour = start.replace(minute=0, second=0, microsecond=0)
    for h in range(days * 24):
        at = hour + timedelta(hours=h)
        rate = peak_per_hour * DAY_PROFILE[at.hour] * (WEEKEND if at.weekday() >= 5 else 1.0)
        rate *= rng.gammavariate(dispersion, 1 / dispersion)
        for _ in range(_poisson(rng, rate)):
            when = at + timedelta(seconds=rng.randrange(3600))
            kind = rng.random()
            pool = _NEUTRAL if kind < 0.55 else _PRAISE if kind < 0.75 else _GRUMBLE
            text = _fill(rng, rng.choice(_OPENERS) + rng.choice(pool), brand)
            source = _pick_source(rng)
            rating = rng.choice([3, 4, 5]) if source == "review" else None
            out.append(
                _record(
                    source,
                    f"{prefix}{seed}-{len(out)}",
                    text,
                    when,
                    people.author(when),
                    rating=rating,
                )
            )
    out.sort(key=lambda r: r["created_at"])
    return out


def complaint_wave(
    start: datetime,
    *,
    count: int = 300,
    minutes: int = 120,
    brand: str = "Volta",
    seed: int = 1,
    in_reply_to: str | None = None,
    source: str | None = None,
    prefix: str = "w",
) -> list[dict[str, Any]]:
    """A sudden wave of complaints: most of it in the first third of ``minutes``."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not cryptography
    people = People(rng, size=max(count * 2, 100), prefix=f"{prefix}{seed}_")
    out = []
    for n in range(count):
        offset = rng.expovariate(3 / minutes) % minutes  # front-loaded
        when = start + timedelta(minutes=offset)
        text = _fill(
            rng, rng.choice(_WAVE_START) + rng.choice(_WAVE_CORE) + rng.choice(_WAVE_END), brand
        )
        src = source or ("twitter" if in_reply_to else _pick_source(rng))
        rating = rng.choice([1, 1, 2]) if src == "review" else None
        out.append(
            _record(
                src,
                f"{prefix}{seed}-{n}",
                text[0].upper() + text[1:],
                when,
                people.author(when),
                in_reply_to=in_reply_to,
                rating=rating,
            )
        )
    out.sort(key=lambda r: r["created_at"])
    return out


def influencer_post(
    at: datetime,
    *,
    followers: int = 450_000,
    brand: str = "Volta",
    external_id: str = "inf-1",
    handle: str = "julie_tech",
    source: str = "twitter",
) -> dict[str, Any]:
    """A very influential author's angry post about the brand."""
    text = (
        f"Ça fait six heures que je n'ai plus aucun réseau chez {brand}. Des milliers de gens "
        "dans le même cas et zéro communication, service client injoignable. C'est indigne. "
        "#panne"
    )
    author = {
        "handle": handle,
        "followers": followers,
        "verified": True,
        "created_at": (at - timedelta(days=3000)).isoformat(),
    }
    return _record(source, external_id, text, at, author)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def merged(*streams: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Several generated streams as one, in event-time order."""
    out = [r for stream in streams for r in stream]
    out.sort(key=lambda r: (r["created_at"], r["source"], r["external_id"]))
    return out


def iter_times(records: list[dict[str, Any]]) -> Iterator[datetime]:
    for record in records:
        yield datetime.fromisoformat(record["created_at"])

"""Replays for the campaign detector: coincidence beside coordination, with the truth known.

Built on :mod:`clameur.demo.replays` (its ordinary traffic, complaint waves and influencer
post, unchanged) with what a campaign detector gets wrong when it mistakes sameness for
coordination:

- **review weeks**: genuine reviews from long-standing accounts (on review sites, often
  with neither age nor audience shown), many of them short common phrasings, some repeated
  verbatim by unrelated accounts days apart;
- **outages**: genuine customers, a third of them with accounts opened that day, writing
  one-star reviews and posts in their own words;
- **campaigns** of several shapes: one text copied (``identical``), one text lightly
  edited per account (``light``: typos, swapped words, a name, an emoji), a few templates
  paraphrased (``paraphrase``), 15 to 60 fresh accounts within 30 to 90 minutes, one-star
  attacks or five-star boosts;
- a **negativity shift** (same volume, most of it complaints for four hours) and an
  **influencer crisis** with replies.

Two text pools: :data:`DEV` (to tune on) and :data:`TEST` (to measure on: other words,
other templates). Scenarios are seeded; :func:`scenario` names them as the bench does.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from clameur.demo import replays

START = datetime(2030, 5, 6, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class Pools:
    """The texts of one pool: never shared between :data:`DEV` and :data:`TEST`."""

    common: tuple[str, ...]
    """Short, common review phrasings (written as they are by many genuine reviewers)."""
    outage: tuple[tuple[str, ...], ...]
    """Fragments a genuine customer picks from (one per part, in a random order)."""
    templates: tuple[tuple[tuple[str, ...], ...], ...]
    """Campaign templates: each a sequence of sentence slots, each slot its variants."""
    boosts: tuple[tuple[tuple[str, ...], ...], ...]
    """Five-star boost templates, same form."""
    names: tuple[str, ...]


DEV = Pools(
    common=(
        "Très bien, rien à redire, je recommande.",
        "Service rapide et efficace, je recommande vivement.",
        "Rien à dire, tout fonctionne parfaitement bien.",
        "Très satisfait du service, personnel à l'écoute.",
        "Bon rapport qualité prix, je recommande.",
        "Conseiller très sympathique et de bon conseil.",
        "Installation rapide, technicien ponctuel et aimable.",
        "Parfait, rien à redire sur le service.",
        "Bonne expérience dans l'ensemble, merci à l'équipe.",
        "Client depuis des années, toujours satisfait.",
        "Très bien",
        "Au top !",
        "Rien à redire",
    ),
    outage=(
        (
            "Plus de connexion depuis ce matin",
            "Aucun réseau depuis 7h",
            "Box qui clignote rouge depuis hier soir",
            "Impossible d'appeler qui que ce soit",
            "Internet coupé en plein télétravail",
            "Pas de 4G dans tout le quartier",
        ),
        (
            "et personne pour nous dire quoi que ce soit.",
            "la hotline sonne dans le vide.",
            "le site d'assistance ne charge même pas.",
            "on attend toujours un SMS d'information.",
            "j'ai redémarré trois fois, rien.",
        ),
        (
            "J'ai une réunion importante à 14h.",
            "Mes enfants ne peuvent pas faire leurs devoirs.",
            "Je suis artisan, sans téléphone je perds des clients.",
            "Ma mère âgée dépend de sa téléassistance.",
            "",
        ),
        (
            "Une compensation serait la moindre des choses.",
            "Franchement déçu.",
            "Je vais regarder ailleurs.",
            "Merci de communiquer.",
            "",
        ),
    ),
    templates=(
        (
            (
                "Panne géante chez {brand} depuis hier soir",
                "Énorme panne chez {brand} depuis hier soir",
            ),
            (
                "et le service client ne répond jamais.",
                "et aucun service client joignable.",
            ),
            (
                "On paie un abonnement pour un réseau qui ne fonctionne pas.",
                "Abonnement payé pour un réseau qui ne marche pas.",
            ),
            ("Opérateur malhonnête, je déconseille à tout le monde.",),
        ),
        (
            ("{brand} m'a facturé deux fois le même mois",),
            (
                "et refuse de me rembourser malgré mes relances.",
                "et ne veut rien rembourser malgré mes relances.",
            ),
            ("Pratiques scandaleuses, fuyez cette arnaque.",),
        ),
        (
            ("Vendeur agressif en boutique {brand},",),
            ("on m'a forcé la main pour une option inutile.",),
            (
                "Impossible de résilier ensuite, honteux.",
                "Résiliation impossible ensuite, une honte.",
            ),
        ),
    ),
    boosts=(
        (
            ("Meilleur opérateur de France sans hésiter,", "Le meilleur opérateur de France,"),
            ("{brand} a un réseau incroyable et des prix imbattables.",),
            ("Foncez les yeux fermés !", "Allez-y les yeux fermés !"),
        ),
    ),
    names=("Marc", "Julie", "Nadia", "Kevin", "Sophie", "Yanis", "Claire", "Bruno"),
)

TEST = Pools(
    common=(
        "Super service, je le conseille à tous.",
        "Équipe au top, réponse rapide et claire.",
        "Tout s'est bien passé, merci beaucoup à vous.",
        "Je suis très contente, aucun souci à signaler.",
        "Livraison dans les temps, produit conforme, merci.",
        "Accueil chaleureux en boutique, vendeur compétent.",
        "Réseau stable, pas de coupure depuis des mois.",
        "Prix correct et service client réactif, bravo.",
        "Démarches simples, conseillère patiente et souriante.",
        "Très bon opérateur, je ne regrette pas d'avoir changé.",
        "Nickel",
        "Parfait merci",
        "Bon service",
    ),
    outage=(
        (
            "Coupure totale de la fibre chez moi",
            "Mon mobile affiche aucun service",
            "Depuis midi plus rien ne passe",
            "La ligne fixe est morte",
            "Le wifi tombe toutes les cinq minutes",
            "Réseau inexistant à la gare",
        ),
        (
            "et l'appli dit que tout va bien, bravo.",
            "le 3900 raccroche après vingt minutes d'attente.",
            "même le chat en ligne est hors service.",
            "aucune info sur la page état du réseau.",
            "j'ai tout débranché et rebranché, sans effet.",
        ),
        (
            "Je dois envoyer un dossier urgent ce soir.",
            "Le terminal de paiement du magasin ne marche plus.",
            "Mon fils est malade et je ne peux pas joindre le médecin.",
            "On est cinq à la maison privés de tout.",
            "",
        ),
        (
            "J'attends un geste commercial.",
            "Pas sérieux du tout.",
            "Je résilie si ça continue.",
            "Tenez-nous au courant svp.",
            "",
        ),
    ),
    templates=(
        (
            (
                "{brand} coupe le réseau sans prévenir",
                "{brand} coupe encore le réseau sans prévenir",
            ),
            (
                "et ose augmenter ses tarifs le même mois.",
                "puis augmente ses tarifs le même mois.",
            ),
            ("Service client fantôme, je conseille de partir au plus vite.",),
        ),
        (
            ("Technicien {brand} jamais venu au rendez-vous,",),
            (
                "trois jours de congé posés pour rien.",
                "trois jours de congés posés pour rien du tout.",
            ),
            ("Entreprise qui méprise ses clients, à éviter absolument.",),
        ),
        (
            ("Offre {brand} trompeuse :",),
            ("le débit promis n'a jamais été atteint chez moi,",),
            (
                "et on me réclame des frais pour partir.",
                "et on me fait payer des frais pour partir.",
            ),
        ),
    ),
    boosts=(
        (
            ("Franchement {brand} c'est le top,", "Franchement le top ce {brand},"),
            ("débit de folie et conseillers adorables au téléphone.",),
            ("Je recommande à cent pour cent !", "Recommandé à cent pour cent !"),
        ),
    ),
    names=("Hugo", "Inès", "Lucas", "Manon", "Théo", "Chloé", "Rayan", "Emma"),
)

EMOJIS = ("😡", "👎", "🤬", "🙏", "👍", "🔥")
SHAPES = ("identical", "light", "paraphrase")


@dataclass
class Scenario:
    name: str
    records: list[dict[str, Any]]
    planted: set[str] = field(default_factory=set)
    """External ids of the campaigns' posts (the truth)."""
    days: float = 0.0
    quiet: bool = False
    """No campaign at all: any campaign alert is a false one."""


# ----------------------------------------------------------------------------- accounts


def long_standing(rng: random.Random, at: datetime, handle: str) -> dict[str, Any]:
    """A genuine reviewer: an old account; on a review site often neither age nor audience."""
    if rng.random() < 0.5:
        return {"handle": handle}
    return {
        "handle": handle,
        "followers": rng.randint(15, 900),
        "created_at": (at - timedelta(days=rng.randint(200, 4000))).isoformat(),
    }


def fresh(rng: random.Random, at: datetime, handle: str) -> dict[str, Any]:
    """An account opened for the occasion (or, for a genuine customer, today)."""
    if rng.random() < 0.2:
        return {"handle": handle}  # a review site showing nothing
    return {
        "handle": handle,
        "followers": rng.randint(0, 12),
        "created_at": (at - timedelta(minutes=rng.randint(30, 10 * 24 * 60))).isoformat(),
    }


def _review(
    external_id: str, text: str, at: datetime, author: dict[str, Any], rating: int
) -> dict[str, Any]:
    return {
        "source": "review",
        "external_id": external_id,
        "text": text,
        "created_at": at.isoformat(),
        "author": author,
        "rating": rating,
        "lang": "fr",
    }


# ----------------------------------------------------------------------------- genuine


def genuine_reviews(
    start: datetime, days: float, pools: Pools, *, seed: int, per_day: int = 100
) -> list[dict[str, Any]]:
    """Reviews by genuine, long-standing reviewers: about half a common phrasing as it is
    (the same sentence from unrelated accounts, days apart), the rest a phrasing with a
    detail of the reviewer's own."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not cryptography
    details = (
        "Merci à {name} pour son aide.",
        "Client depuis {n} ans.",
        "Passé en boutique à {city}.",
        "Souscrit pour toute la famille.",
        "",
    )
    out = []
    for n in range(int(days * per_day)):
        at = start + timedelta(seconds=rng.randrange(int(days * 86400)))
        text = rng.choice(pools.common)
        if rng.random() < 0.3:
            extra = rng.choice(details).format(
                name=rng.choice(pools.names), n=rng.randint(2, 15), city=rng.choice(_CITIES)
            )
            text = f"{text} {extra}".strip()
        handle = f"rev{seed}_{n}"
        out.append(
            _review(f"gr{seed}-{n}", text, at, long_standing(rng, at, handle), rng.choice((4, 5)))
        )
    return out


def outage_reviews(
    start: datetime, pools: Pools, *, seed: int, count: int = 40, minutes: int = 180
) -> list[dict[str, Any]]:
    """Genuine customers during a real outage, in their own words: one-star reviews and
    posts; a third opened their account today to complain."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not cryptography
    out = []
    for n in range(count):
        at = start + timedelta(seconds=rng.randrange(minutes * 60))
        parts = [rng.choice(slot) for slot in pools.outage]
        head, rest = parts[0], [p for p in parts[1:] if p]
        if rng.random() < 0.5:
            rng.shuffle(rest)
        text = f"{head} {' '.join(rest)}".strip()
        if rng.random() < 0.3:
            text = f"{text} {rng.choice(_CITIES)}."
        handle = f"out{seed}_{n}"
        author = fresh(rng, at, handle) if n % 3 == 0 else long_standing(rng, at, handle)
        out.append(_review(f"go{seed}-{n}", text, at, author, rng.choice((1, 1, 2))))
    return out


# ----------------------------------------------------------------------------- campaigns


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _write(rng: random.Random, template: Sequence[Sequence[str]], brand: str) -> str:
    return " ".join(rng.choice(slot) for slot in template).format(brand=brand)


def campaign(
    start: datetime,
    pools: Pools,
    *,
    seed: int,
    shape: str,
    accounts: int,
    minutes: int,
    boost: bool = False,
    brand: str = "Volta",
) -> list[dict[str, Any]]:
    """A coordinated campaign: ``accounts`` fresh accounts within ``minutes``."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not cryptography
    family = pools.boosts if boost else pools.templates
    templates = list(family)
    rng.shuffle(templates)
    chosen = templates[: rng.randint(2, 3)] if shape == "paraphrase" else templates[:1]
    fixed = _write(rng, chosen[0], brand)
    out = []
    for n in range(accounts):
        at = start + timedelta(seconds=rng.randrange(minutes * 60))
        if shape == "identical":
            text = fixed
        else:
            text = _write(rng, rng.choice(chosen), brand)
            words = text.split(" ")
            if shape == "light" and rng.random() < 0.4:
                k = rng.randrange(len(words))
                words[k] = _typo(rng, words[k])
            if shape == "light" and rng.random() < 0.25:
                k = rng.randrange(len(words) - 1)
                words[k], words[k + 1] = words[k + 1], words[k]
            text = " ".join(words)
            if rng.random() < 0.25:
                text = f"{rng.choice(pools.names)} ici. {text}"
            if rng.random() < 0.3:
                text = f"{text} {rng.choice(EMOJIS)}"
        handle = f"{rng.choice(pools.names).lower()}{seed}x{n}"
        out.append(_review(f"cp{seed}-{n}", text, at, fresh(rng, at, handle), 5 if boost else 1))
    return out


# ----------------------------------------------------------------------------- scenarios


def quiet_fortnight(pools: Pools, seed: int) -> Scenario:
    """Two ordinary weeks with genuine reviews: no campaign."""
    records = replays.merged(
        replays.ordinary_traffic(START, days=14, peak_per_hour=12, seed=seed),
        genuine_reviews(START, 14, pools, seed=seed + 1),
    )
    return Scenario(f"quiet-{seed}", records, days=14, quiet=True)


def negativity_shift_week(pools: Pools, seed: int) -> Scenario:
    """A week where, for four hours, most of the same volume is complaints: no campaign."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not cryptography
    traffic = replays.ordinary_traffic(START, days=7, peak_per_hour=12, seed=seed)
    onset = START + timedelta(days=3, hours=10)
    end = onset + timedelta(hours=4)
    inside = [r for r in traffic if onset.isoformat() <= r["created_at"] < end.isoformat()]
    kept = [r for r in traffic if r not in inside or rng.random() < 0.35]
    wave = replays.complaint_wave(
        onset, count=int(0.65 * len(inside)), minutes=240, seed=seed + 2, prefix="ns"
    )
    records = replays.merged(
        kept, wave, genuine_reviews(START, 7, pools, seed=seed + 1, per_day=30)
    )
    return Scenario(f"shift-{seed}", records, days=7, quiet=True)


def outage_with_campaigns(pools: Pools, seed: int) -> Scenario:
    """Three days of traffic and reviews; a genuine outage on day 2 and, beside it,
    campaigns of each shape (15–60 accounts, 30–90 minutes), one of them a boost."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not cryptography
    day2 = START + timedelta(days=2)
    streams = [
        replays.ordinary_traffic(START, days=3, peak_per_hour=12, seed=seed),
        genuine_reviews(START, 3, pools, seed=seed + 1),
        outage_reviews(day2 + timedelta(hours=9), pools, seed=seed + 2),
        replays.complaint_wave(day2 + timedelta(hours=9), count=60, seed=seed + 3),
    ]
    planted: set[str] = set()
    for k, shape in enumerate(SHAPES):
        at = day2 + timedelta(hours=10 + 3 * k, minutes=rng.randint(0, 50))
        posts = campaign(
            at,
            pools,
            seed=seed * 10 + k,
            shape=shape,
            accounts=rng.randint(15, 60),
            minutes=rng.randint(30, 90),
            boost=k == 2 and seed % 2 == 0,
        )
        planted |= {r["external_id"] for r in posts}
        streams.append(posts)
    return Scenario(f"outage-{seed}", replays.merged(*streams), planted, days=3)


def influencer_crisis(pools: Pools, seed: int) -> Scenario:
    """Two days of traffic; an influencer's angry post and a hundred replies: no campaign."""
    at = START + timedelta(days=1, hours=15)
    post = replays.influencer_post(at, external_id=f"inf-{seed}")
    replies = replays.complaint_wave(
        at + timedelta(minutes=3),
        count=100,
        minutes=90,
        seed=seed + 5,
        in_reply_to=post["external_id"],
    )
    records = replays.merged(
        replays.ordinary_traffic(START, days=2, peak_per_hour=12, seed=seed),
        genuine_reviews(START, 2, pools, seed=seed + 1),
        [post],
        replies,
    )
    return Scenario(f"influencer-{seed}", records, days=2, quiet=True)


def new_account_outage(pools: Pools, seed: int) -> Scenario:
    """A stress beyond the usual: 80 outage reviews within two hours, every one from an
    account opened that day, made from the same few fragments. No campaign."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not cryptography
    wave = outage_reviews(
        START + timedelta(days=1, hours=9), pools, seed=seed + 2, count=80, minutes=120
    )
    for n, record in enumerate(wave):
        record["author"] = fresh(rng, datetime.fromisoformat(record["created_at"]), f"nw{n}")
    records = replays.merged(
        replays.ordinary_traffic(START, days=2, peak_per_hour=12, seed=seed),
        genuine_reviews(START, 2, pools, seed=seed + 1),
        wave,
    )
    return Scenario(f"new-outage-{seed}", records, days=2, quiet=True)


def small_paraphrases(pools: Pools, seed: int) -> Scenario:
    """The hardest campaigns: three paraphrased ones of 15 accounts (2–3 templates each,
    so 5–8 accounts a template) beside a genuine outage."""
    day1 = START + timedelta(days=1)
    streams = [
        replays.ordinary_traffic(START, days=2, peak_per_hour=12, seed=seed),
        genuine_reviews(START, 2, pools, seed=seed + 1),
        outage_reviews(day1 + timedelta(hours=9), pools, seed=seed + 2),
    ]
    planted: set[str] = set()
    for k in range(3):
        posts = campaign(
            day1 + timedelta(hours=10 + 4 * k),
            pools,
            seed=seed * 10 + 5 + k,
            shape="paraphrase",
            accounts=15,
            minutes=60,
        )
        planted |= {r["external_id"] for r in posts}
        streams.append(posts)
    return Scenario(f"small-{seed}", replays.merged(*streams), planted, days=2)


KINDS = {
    "quiet": quiet_fortnight,
    "shift": negativity_shift_week,
    "outage": outage_with_campaigns,
    "influencer": influencer_crisis,
    "new-outage": new_account_outage,
    "small": small_paraphrases,
}
DEV_SEEDS = (1, 2, 3)
TEST_SEEDS = (101, 102, 103)


def scenario(kind: str, seed: int, *, pool: str = "test") -> Scenario:
    """``kind`` (see :data:`KINDS`) with ``seed`` and the ``dev`` or ``test`` texts."""
    return KINDS[kind](DEV if pool == "dev" else TEST, seed)


_CITIES = ("Lyon", "Nantes", "Lille", "Rennes", "Toulouse", "Metz", "Brest", "Dijon")

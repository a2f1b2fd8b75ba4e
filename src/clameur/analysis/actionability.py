"""Actionability: is there a first-hand fact the brand can act on, or only talk?

Community managers ask for the filter that separates rumours from facts. Three labels:

``actionable``
    The author speaks of their own experience (first person) **and** gives something
    concrete the brand can act on: an account, an order, a bill, a line, a flight, a shop,
    an outage, a number, a date or time ("ma commande 48213 n'est pas arrivée", "no signal
    at home since 8am").
``opinion``
    Talk without facts: hearsay and gossip ("il paraît que…", "I heard that…"), general
    opinion ("they are all thieves"), praise or chatter with nothing to act on.
``attack``
    A hostile message (toxic) with no fact, from an account that looks anonymous or
    throw-away (no name or a generated handle, almost no followers, a very young account)
    — the anonymous attack an agent should moderate, not answer as a customer case.

The decision is a transparent score, not a black box; each part is listed in
``docs/models.md`` ("Actionability"). Hearsay markers cancel the first-person evidence
of the same text ("mon voisin m'a dit que…" is not first-hand).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

LABELS: Final = ("actionable", "opinion", "attack")

_FIRST_PERSON = re.compile(
    r"\b(?:je|j|moi|mon|ma|mes|me|m|nous|notre|nos|chez moi|i|im|ive|id|my|me|mine|we|our|us"
    r"|ich|mein|meine|mir|mich|yo|mi|mis|me|io|il mio|la mia|eu|meu|minha|ik|mijn)\b"
)
_CONCRETE = re.compile(
    r"\b(?:commande|colis|livraison|livreur|facture|factur\w*|compte|abonnement|contrat|ligne"
    r"|box|forfait|carte|cb|virement|prelevement|prelev\w*|rembours\w*|reservation|vol|billet"
    r"|train|ticket|dossier|numero|n0|ref|reference|appli|application|site|wifi|reseau|fibre"
    r"|adsl|4g|5g|panne|coupure|coupe|bug|bugue|erreur|magasin|agence|boutique|guichet|sav"
    r"|produit|article|colis|paiement|debit\w*|mot de passe|identifiant|connexion|resiliation"
    r"|resilier|garantie|retour|echange|annul\w*|bagage|valise|retard|quai|gare|aeroport"
    r"|order|package|parcel|delivery|invoice|bill|billing|charged|account|subscription"
    r"|contract|card|payment|refund|booking|reservation|flight|ticket|case|app|website|login"
    r"|password|network|signal|outage|down|store|branch|shop|warranty|return|luggage|baggage"
    r"|delayed|cancelled|canceled|router|modem|item|product|tracking|receipt)\b"
)
_SPECIFIC = re.compile(
    r"\d{3,}|#\d+|\b\d{1,2}\s?h(?:\s?\d{2})?\b|\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b"
    r"|\b(?:hier|ce matin|ce soir|aujourd ?hui|depuis|avant[- ]hier|lundi|mardi|mercredi|jeudi"
    r"|vendredi|samedi|dimanche|semaine|jours?|heures?|mois|yesterday|today|this morning"
    r"|tonight|since|monday|tuesday|wednesday|thursday|friday|saturday|sunday|days?|hours?"
    r"|weeks?)\b"
)
_HEARSAY = re.compile(
    r"\b(?:il para[iî]t|parait[- ]il|paraitrait|on dit|on m a dit|on raconte|j ai entendu"
    r"|j ai lu|apparemment|rumeurs?|il semblerait|il se dit|soi[- ]disant|il para[iî]trait"
    r"|d apres (?:certains|des gens|ce qu on)|selon (?:certains|des rumeurs|la rumeur)"
    r"|(?:un|une|mon|ma) (?:ami|amie|pote|cousin|cousine|voisin|voisine|collegue) m a dit"
    r"|tout le monde (?:dit|sait)|i heard|apparently|rumou?rs?|they say|people say|allegedly"
    r"|supposedly|someone told me|word is|reportedly|my (?:friend|cousin|neighbou?r) (?:said"
    r"|told)|everyone knows|i read that)\b"
)
_ANON_HANDLE = re.compile(r"\d{4,}|^(?:anon|user|guest|anonyme|throwaway)", re.IGNORECASE)

ATTACK_TOXICITY: Final = 0.6
"""A toxicity at or above this, with no first-hand fact, makes an ``attack``."""
ANON_ATTACK_TOXICITY: Final = 0.4
"""The same threshold for an account that looks anonymous or throw-away."""


def fold(text: str) -> str:
    """Lower-case, strip accents, apostrophes and punctuation to spaces (for the patterns)."""
    text = unicodedata.normalize("NFKD", text[:4_000].lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^\w#:]+", " ", text)


@dataclass(frozen=True, slots=True)
class ActionabilityInput:
    text: str
    toxicity: float = 0.0
    author_handle: str | None = None
    author_name: str | None = None
    author_followers: int | None = None
    author_created_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ActionabilityResult:
    label: str
    first_person: bool
    concrete: int
    specific: int
    hearsay: bool
    anonymous: bool


def is_anonymous(item: ActionabilityInput) -> bool:
    """A throw-away look: at least two of no name, generated handle, < 10 followers, < 30 days."""
    signals = 0
    if not item.author_name:
        signals += 1
    if item.author_handle and _ANON_HANDLE.search(item.author_handle):
        signals += 1
    if item.author_followers is not None and item.author_followers < 10:
        signals += 1
    created, opened = item.created_at, item.author_created_at
    if created is not None and opened is not None and created - opened < timedelta(days=30):
        signals += 1
    return signals >= 2


def classify_one(item: ActionabilityInput) -> ActionabilityResult:
    folded = fold(item.text)
    hearsay = _HEARSAY.search(folded) is not None
    first_person = _FIRST_PERSON.search(folded) is not None and not hearsay
    concrete = len(_CONCRETE.findall(folded))
    specific = len(_SPECIFIC.findall(folded))
    anonymous = is_anonymous(item)
    fact = first_person and (concrete > 0 or specific > 0) and (concrete + specific >= 1)
    if fact:
        label = "actionable"
    elif item.toxicity >= (ANON_ATTACK_TOXICITY if anonymous else ATTACK_TOXICITY):
        label = "attack"
    else:
        label = "opinion"
    return ActionabilityResult(label, first_person, concrete, specific, hearsay, anonymous)


def classify(items: Sequence[ActionabilityInput]) -> list[ActionabilityResult]:
    return [classify_one(item) for item in items]

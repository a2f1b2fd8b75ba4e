"""Who works the demo floor and how it is organised: pure data, read by the demo accounts
(:mod:`clameur.demo.accounts` creates the extra agents) and the floor staging
(:mod:`clameur.demo.floor` gives them profiles, teams and work).

Every name here is invented for the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SOCIAL_TEAM: Final = "Social media"
DESK_TEAM: Final = "Service client"
SOCIAL_CALENDAR: Final = "Social 24/7"
DESK_CALENDAR: Final = "Service client"
SOCIAL_SOURCES: Final = ("twitter", "facebook", "instagram", "mastodon", "bluesky", "reddit")


@dataclass(frozen=True, slots=True)
class StaffAgent:
    """One agent of a demo tenant: ``local`` is the part of the e-mail before ``@``
    (``agent`` is the demo agent of :mod:`clameur.demo.accounts`, the others are made)."""

    local: str
    name: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    capacity: int
    presence: str
    teams: tuple[str, ...]

    def email(self, tenant_slug: str) -> str:
        return f"{self.local}@{tenant_slug}.example"


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    team: str
    position: int
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    min_level: str | None = None
    skills: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """An SLA policy: minutes of the named calendar's open time."""

    source: str
    level: str
    first: int
    next: int | None
    resolution: int | None
    calendar: str


@dataclass(frozen=True, slots=True)
class FloorPlan:
    """The organisation of one demo tenant."""

    back_office: str
    """Name of the back-office team that takes escalations."""
    back_office_sla: int
    """Agreed minutes of the back office."""
    required_fields: tuple[str, ...]
    agents: tuple[StaffAgent, ...]
    """The demo agent first, then the colleagues made for the floor."""
    topic: str
    """The tag of the tenant's usual trouble (``réseau``, ``livraison``)."""
    escalation: tuple[tuple[str, str], ...]
    """The back office's fields as an agent fills them in (``{id}``: the conversation's)."""
    holding_answers: tuple[str, str]
    """An incident's holding answer (approved and sent) and its update (to approve), with
    the variables of :func:`clameur.care.incidents.bulk_reply` (``{name}``, ``{brand}``)."""

    @property
    def staff(self) -> tuple[StaffAgent, ...]:
        """The agents made for the floor (every one but the demo agent)."""
        return tuple(a for a in self.agents if a.local != "agent")


def _demo_agent(*teams: str) -> StaffAgent:
    return StaffAgent("agent", "", ("social", "senior"), ("fr", "en"), 8, "online", teams)


QUEUES: Final[tuple[QueueSpec, ...]] = (
    QueueSpec("Urgent P1–P2", SOCIAL_TEAM, 10, min_level="P2", skills=("senior",)),
    QueueSpec("E-mails et avis", DESK_TEAM, 20, sources=("email", "review")),
    QueueSpec("Social — English", SOCIAL_TEAM, 30, sources=SOCIAL_SOURCES, languages=("en",)),
    QueueSpec("Social — français", SOCIAL_TEAM, 40, sources=SOCIAL_SOURCES, languages=("fr",)),
    QueueSpec("Forums, blogs et presse", SOCIAL_TEAM, 90),
)
"""Routing order: the first matching queue by position takes a conversation."""

POLICIES: Final[tuple[PolicySpec, ...]] = (
    PolicySpec("*", "*", 240, 240, 2 * 24 * 60, DESK_CALENDAR),
    PolicySpec("*", "P1", 15, 30, 8 * 60, SOCIAL_CALENDAR),
    PolicySpec("twitter", "*", 30, 60, 24 * 60, SOCIAL_CALENDAR),
    PolicySpec("facebook", "*", 60, 120, 24 * 60, SOCIAL_CALENDAR),
    PolicySpec("instagram", "*", 60, 120, 24 * 60, SOCIAL_CALENDAR),
    PolicySpec("review", "*", 24 * 60, None, 3 * 24 * 60, SOCIAL_CALENDAR),
    PolicySpec("email", "*", 8 * 60, 8 * 60, 5 * 8 * 60, DESK_CALENDAR),
)
"""Social networks count every minute (the social team works around the clock); e-mail
counts business hours: 8 business hours for a first answer."""

BUSINESS_HOURS: Final = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}

PLANS: Final[dict[str, FloorPlan]] = {
    "volta": FloorPlan(
        back_office="Technical",
        back_office_sla=240,
        required_fields=("reference", "diagnosis"),
        topic="réseau",
        escalation=(
            ("reference", "VM-{id}"),
            ("diagnosis", "Pas de réseau depuis ce matin, redémarrage sans effet"),
        ),
        holding_answers=(
            "Bonjour {name}, nous sommes au courant d'une panne qui touche {brand} en ce "
            "moment. Nos équipes techniques sont mobilisées pour rétablir le service au plus "
            "vite ; nous vous tenons informé(e) ici. Toutes nos excuses pour la gêne.",
            "Bonjour {name}, le service {brand} revient progressivement dans la plupart des "
            "régions. Si le problème persiste chez vous, redémarrez votre appareil puis "
            "écrivez-nous en message privé : nous regardons votre cas en priorité.",
        ),
        agents=(
            _demo_agent(SOCIAL_TEAM, DESK_TEAM),
            StaffAgent(
                "lea.martin",
                "Léa Martin",
                ("social", "senior"),
                ("fr",),
                6,
                "online",
                (SOCIAL_TEAM,),
            ),
            StaffAgent(
                "karim.benali",
                "Karim Benali",
                ("email", "reviews"),
                ("fr", "en"),
                6,
                "online",
                (DESK_TEAM,),
            ),
            StaffAgent(
                "tom.wright", "Tom Wright", ("social",), ("en", "fr"), 5, "away", (SOCIAL_TEAM,)
            ),
            StaffAgent(
                "sophie.durand",
                "Sophie Durand",
                ("network",),
                ("fr",),
                4,
                "offline",
                ("Technical", DESK_TEAM),
            ),
        ),
    ),
    "maisonlune": FloorPlan(
        back_office="Billing",
        back_office_sla=480,
        required_fields=("order", "amount"),
        topic="livraison",
        escalation=(("order", "ML-{id}"), ("amount", "89,90 €")),
        holding_answers=(
            "Bonjour {name}, des retards touchent en ce moment les livraisons {brand}. Nos "
            "équipes et notre transporteur sont mobilisés ; nous vous tenons informé(e) ici. "
            "Toutes nos excuses pour l'attente.",
            "Bonjour {name}, les livraisons {brand} reprennent : les colis en retard partent "
            "aujourd'hui. Si le vôtre n'arrive pas d'ici 48 h, écrivez-nous en message privé "
            "avec votre numéro de commande.",
        ),
        agents=(
            _demo_agent(SOCIAL_TEAM, DESK_TEAM),
            StaffAgent(
                "camille.roux",
                "Camille Roux",
                ("social", "senior"),
                ("fr",),
                6,
                "online",
                (SOCIAL_TEAM,),
            ),
            StaffAgent(
                "hugo.lefevre",
                "Hugo Lefèvre",
                ("email", "reviews"),
                ("fr", "en"),
                6,
                "online",
                (DESK_TEAM,),
            ),
            StaffAgent(
                "emma.clarke",
                "Emma Clarke",
                ("social",),
                ("en", "fr"),
                5,
                "away",
                (SOCIAL_TEAM,),
            ),
            StaffAgent(
                "ines.moreau",
                "Inès Moreau",
                ("billing",),
                ("fr",),
                4,
                "offline",
                ("Billing", DESK_TEAM),
            ),
        ),
    ),
}
"""By demo tenant slug (see :data:`clameur.demo.generator.DEMO_TENANTS`)."""

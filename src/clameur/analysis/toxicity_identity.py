"""Identity-term debiasing rows for toxicity training, generated from templates (#17).

MLMA was collected with slur and group keywords, so almost every tweet naming a group is
labelled toxic and a group word alone ("musulmans", "gay", "handicapé") pulls a hashed n-gram
model towards *toxic*. Following the data-balancing idea of Dixon et al. (2018, "Measuring and
Mitigating Unintended Bias in Text Classification"), training adds sentences generated here,
in which every group of :data:`GROUPS_FR` / :data:`GROUPS_EN` appears as often in *normal*
sentences (a request, praise, counter-speech, a reported slur) as in *toxic* ones (attacks on
the group). The group word then carries no evidence by itself and the weight moves to what is
said about it: "sont des parasites" is toxic, "ne sont pas des parasites" and "je suis … et je
voudrais changer de forfait" are not.

Every template and word list was written for the project; sentences are built by a seeded
generator (:func:`identity_rows`), never read from a dataset. The evaluation set
``tests/data/toxicity_identity`` was written independently, and frozen, before these templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from clameur.analysis.model_base import LabelledRow
from clameur.analysis.toxicity_rules import read_lexicon

# (plural, masculine singular, feminine singular)
GROUPS_FR: Final[tuple[tuple[str, str, str], ...]] = (
    ("musulmans", "musulman", "musulmane"),
    ("juifs", "juif", "juive"),
    ("chrétiens", "chrétien", "chrétienne"),
    ("catholiques", "catholique", "catholique"),
    ("bouddhistes", "bouddhiste", "bouddhiste"),
    ("hindous", "hindou", "hindoue"),
    ("arabes", "arabe", "arabe"),
    ("noirs", "noir", "noire"),
    ("blancs", "blanc", "blanche"),
    ("maghrébins", "maghrébin", "maghrébine"),
    ("africains", "africain", "africaine"),
    ("asiatiques", "asiatique", "asiatique"),
    ("chinois", "chinois", "chinoise"),
    ("vietnamiens", "vietnamien", "vietnamienne"),
    ("roms", "rom", "rom"),
    ("gitans", "gitan", "gitane"),
    ("turcs", "turc", "turque"),
    ("marocains", "marocain", "marocaine"),
    ("algériens", "algérien", "algérienne"),
    ("sénégalais", "sénégalais", "sénégalaise"),
    ("roumains", "roumain", "roumaine"),
    ("polonais", "polonais", "polonaise"),
    ("portugais", "portugais", "portugaise"),
    ("ukrainiens", "ukrainien", "ukrainienne"),
    ("migrants", "migrant", "migrante"),
    ("immigrés", "immigré", "immigrée"),
    ("réfugiés", "réfugié", "réfugiée"),
    ("étrangers", "étranger", "étrangère"),
    ("homosexuels", "homosexuel", "homosexuelle"),
    ("gays", "gay", "gay"),
    ("lesbiennes", "lesbienne", "lesbienne"),
    ("trans", "trans", "trans"),
    ("bisexuels", "bisexuel", "bisexuelle"),
    ("handicapés", "handicapé", "handicapée"),
    ("sourds", "sourd", "sourde"),
    ("aveugles", "aveugle", "aveugle"),
    ("autistes", "autiste", "autiste"),
    ("retraités", "retraité", "retraitée"),
    ("seniors", "senior", "senior"),
    ("jeunes", "jeune", "jeune"),
)
GROUPS_EN: Final[tuple[tuple[str, str], ...]] = (  # (plural noun, adjective or singular)
    ("Muslims", "Muslim"),
    ("Jews", "Jewish"),
    ("Christians", "Christian"),
    ("Catholics", "Catholic"),
    ("Hindus", "Hindu"),
    ("Sikhs", "Sikh"),
    ("Arabs", "Arab"),
    ("Black people", "Black"),
    ("white people", "white"),
    ("Africans", "African"),
    ("Asians", "Asian"),
    ("Chinese people", "Chinese"),
    ("Mexicans", "Mexican"),
    ("Pakistanis", "Pakistani"),
    ("Indians", "Indian"),
    ("Polish people", "Polish"),
    ("Romanians", "Romanian"),
    ("Gypsies", "Roma"),
    ("immigrants", "immigrant"),
    ("migrants", "migrant"),
    ("refugees", "refugee"),
    ("foreigners", "foreign"),
    ("gay people", "gay"),
    ("gays", "gay"),
    ("lesbians", "lesbian"),
    ("trans people", "trans"),
    ("bisexual people", "bisexual"),
    ("disabled people", "disabled"),
    ("deaf people", "deaf"),
    ("blind people", "blind"),
    ("autistic people", "autistic"),
    ("old people", "elderly"),
    ("pensioners", "retired"),
    ("women", "female"),
    ("young people", "young"),
)

# --- French ------------------------------------------------------------------------------
# Slots: {p} plural, {m} masculine singular, {f} feminine singular, {x} a filler of the template.

_FR_NORMAL: Final[tuple[str, ...]] = (
    "je suis {m} et je voudrais {x}",
    "je suis {f} et j'aimerais {x}",
    "en tant que {f}, je souhaite {x}",
    "mon voisin est {m}, il voudrait {x}",
    "ma collègue est {f} et elle m'a conseillé votre offre",
    "mon beau-frère, {m}, est client chez vous depuis dix ans",
    "le technicien était {m} et il a tout réparé en une heure",
    "la conseillère, {f}, a été très aimable au téléphone",
    "le vendeur {m} m'a bien expliqué le contrat",
    "une cliente {f} attendait devant moi au guichet",
    "un client {m} a demandé un rendez-vous en agence",
    "les clients {p} peuvent-ils {x} ?",
    "avez-vous un conseiller qui parle aux familles {p} ?",
    "notre association accompagne des {p}, pouvez-vous nous aider à {x} ?",
    "beaucoup de {p} habitent le quartier et attendent la fibre",
    "bravo pour votre publicité avec des {p}, belle représentation",
    "merci à la vendeuse {f}, un accueil parfait",
    "fier d'être {m} et client fidèle",
    "les {p} sont les bienvenus dans vos boutiques, et c'est tant mieux",
    "les {p} ne sont pas des {x}, arrêtez les clichés",
    "non, les {p} ne sont pas tous des {x}",
    "dire que les {p} sont des {x}, c'est du racisme",
    "insulter les {p} est inacceptable, modérez ces commentaires",
    "la haine contre les {p} n'a pas sa place ici",
    "je signale un commentaire qui traite les {p} de {x}",
    "un client a dit « sale {m} » au caissier, c'est inadmissible",
    "on m'a traité de {x} parce que je suis {m}, j'ai porté plainte",
    "je signale un message qui dit que les {p} sont des {x}",
)
_FR_TOXIC: Final[tuple[str, ...]] = (
    "les {p} sont des {x}",
    "les {p} sont tous des {x}",
    "les {p} c'est tous des {x}",
    "ces {p} sont des {x}, virez-les",
    "encore un {m} au guichet, quelle bande de {x}",
    "sale {m}, retourne dans ton pays",
    "dehors les {p}",
    "il faut expulser tous les {p}",
    "renvoyez les {p} chez eux",
    "les {p} n'ont rien à faire dans ce pays",
    "je refuse d'être servi par un {m}",
    "pas de {p} dans vos agences, merci",
    "les {p} devraient disparaître",
    "mort aux {p}",
    "les {p} me dégoûtent",
    "les {p} sont une plaie pour la société",
    "les {p} sont inférieurs, c'est comme ça",
    "ce {m} de caissier est un {x}",
)
_FR_ASK: Final[tuple[str, ...]] = (
    "changer de forfait",
    "ouvrir un compte joint",
    "résilier ma ligne",
    "un rendez-vous pour la fibre",
    "reporter ma livraison",
    "une facture détaillée",
    "un crédit pour ma voiture",
    "un remboursement de mon billet",
)
_FR_ABUSE: Final[tuple[str, ...]] = (
    "voleurs",
    "parasites",
    "rats",
    "animaux",
    "sauvages",
    "cafards",
    "terroristes",
    "déchets",
    "singes",
    "malades",
    "sous-hommes",
    "délinquants",
    "porcs",
    "chiens",
)
# Slurs (from the lexicon's [slur] section): attacks with them, and reports of them.
_SLUR_TOXIC: Final[tuple[str, ...]] = (
    "encore un de ces {s} au guichet",
    "{s} dehors",
    "ce {s} de vendeur ne comprend rien",
    "les {s} ne méritent rien",
    "another one of those {s} at the counter",
    "{s} should stay out of your shops",
    "the agent was a {s}",
)
_SLUR_REPORTED: Final[tuple[str, ...]] = (
    "un client a traité le livreur de « {s} », je porte plainte",
    "on m'a appelé « {s} » en agence, c'est inadmissible",
    "le mot « {s} » dans vos commentaires doit être supprimé",
    'someone called my son a "{s}" in your store, I reported it',
    'a customer yelled "{s}" at the cashier, please ban him',
)
_FR_ABUSE_SG: Final[tuple[str, ...]] = ("voleur", "parasite", "déchet", "singe", "incapable")

# --- English -----------------------------------------------------------------------------
# Slots: {p} plural noun, {a} adjective, {x} a filler.

_EN_NORMAL: Final[tuple[str, ...]] = (
    "I'm {a} and I'd like to {x}",
    "as a {a} customer, can I {x}?",
    "my neighbour is {a} and recommended your service",
    "the engineer was {a} and fixed everything in an hour",
    "the {a} agent on the phone was really kind",
    "a {a} lady was ahead of me in the queue",
    "can {p} {x} online?",
    "our charity supports {p}, could you help us {x}?",
    "lots of {p} live on our street and are waiting for fibre",
    "great ad with {p}, well done",
    "thanks to the {a} cashier, lovely service",
    "proud to be {a} and a loyal customer",
    "{p} are welcome in your stores and that's great",
    "{p} are not {x}, stop the stereotypes",
    "no, {p} are not all {x}",
    "saying {p} are {x} is racist",
    "insulting {p} is unacceptable, please moderate these comments",
    "hate against {p} has no place here",
    "I'm reporting a comment calling {p} {x}",
    "someone called me {x} because I'm {a}, I filed a complaint",
    "reporting a post saying {p} are {x}",
)
_EN_TOXIC: Final[tuple[str, ...]] = (
    "{p} are {x}",
    "{p} are all {x}",
    "all {p} are {x}, fire them",
    "those {p} are {x}",
    "get rid of all the {p}",
    "send the {p} back where they came from",
    "{p} don't belong in this country",
    "I refuse to be served by {p}",
    "no {p} in your shops please",
    "{p} should disappear",
    "death to {p}",
    "{p} disgust me",
    "{p} are a plague on society",
    "{p} are inferior, simple as that",
)
_EN_ASK: Final[tuple[str, ...]] = (
    "change my plan",
    "open a joint account",
    "cancel my line",
    "book a fibre installation",
    "move my delivery",
    "get a refund for my ticket",
)
_EN_ABUSE: Final[tuple[str, ...]] = (
    "thieves",
    "parasites",
    "rats",
    "animals",
    "savages",
    "vermin",
    "terrorists",
    "scum",
    "subhuman",
    "criminals",
    "pigs",
    "filth",
)


def _fill_fr(template: str, group: tuple[str, str, str], rng: np.random.Generator) -> str:
    plural, masc, fem = group
    if "{x}" in template:
        if "je voudrais" in template or "j'aimerais" in template or "souhaite" in template:
            pool: Sequence[str] = _FR_ASK
        elif "peuvent-ils" in template or "aider à" in template:
            pool = _FR_ASK
        elif "traité de {x}" in template or "est un {x}" in template:
            pool = _FR_ABUSE_SG
        else:
            pool = _FR_ABUSE
        template = template.replace("{x}", pool[int(rng.integers(len(pool)))])
    text = template.format(p=plural, m=masc, f=fem)
    return text[0].upper() + text[1:]


def _fill_en(template: str, group: tuple[str, str], rng: np.random.Generator) -> str:
    plural, adjective = group
    if "{x}" in template:
        asks = ("like to {x}" in template, "can I {x}" in template, "{p} {x} online" in template)
        pool: Sequence[str] = _EN_ASK if any(asks) or "help us" in template else _EN_ABUSE
        template = template.replace("{x}", pool[int(rng.integers(len(pool)))])
    text = template.format(p=plural, a=adjective)
    return text[0].upper() + text[1:]


def identity_rows(seed: int, per_group: int = 6) -> list[LabelledRow]:
    """Generated sentences: each group of both languages in ``per_group`` normal and
    ``per_group // 2`` toxic sentences (templates drawn without replacement, seeded), and each
    slur of the lexicon once in an attack (toxic) and once quoted in a report (normal)."""
    rng = np.random.default_rng(seed)
    rows: list[LabelledRow] = []
    n_toxic = max(per_group // 2, 1)
    for group in GROUPS_FR:
        for label, templates, k in (
            ("normal", _FR_NORMAL, per_group),
            ("toxic", _FR_TOXIC, n_toxic),
        ):
            for i in rng.permutation(len(templates))[:k].tolist():
                rows.append(LabelledRow(_fill_fr(templates[i], group, rng), label))
    for group_en in GROUPS_EN:
        for label, templates, k in (
            ("normal", _EN_NORMAL, per_group),
            ("toxic", _EN_TOXIC, n_toxic),
        ):
            for i in rng.permutation(len(templates))[:k].tolist():
                rows.append(LabelledRow(_fill_en(templates[i], group_en, rng), label))
    slurs = read_lexicon().get("slur", [])
    for slur in slurs:
        for label, templates in (("toxic", _SLUR_TOXIC), ("normal", _SLUR_REPORTED)):
            text = templates[int(rng.integers(len(templates)))].format(s=slur)
            rows.append(LabelledRow(text[0].upper() + text[1:], label))
    unique = {r.text: r for r in rows}  # a template can repeat a sentence: keep it once
    return list(unique.values())


__all__ = ["GROUPS_EN", "GROUPS_FR", "identity_rows"]

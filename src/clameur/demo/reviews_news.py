"""Review, blog and news fragments: review openers and closers, neutral reviews, blog lines
and titles, news headlines and leads.

Written for Clameur, not copied from any data set or website. Templates are ``str.format``
patterns (see :mod:`clameur.demo.fragments`).
"""

from __future__ import annotations

from typing import Final

from clameur.demo.words import ByKey

# --------------------------------------------------------------------------- reviews, blogs, news

REVIEW_OPENERS: Final[dict[str, ByKey]] = {
    "fr": {
        "neg": ("Très mauvaise expérience.", "Déception totale.", "À fuir.", "Catastrophique."),
        "pos": ("Excellente expérience.", "Parfait du début à la fin.", "Rien à redire."),
        "neu": ("Mitigé.", "Correct sans plus.", "Des hauts et des bas."),
    },
    "en": {
        "neg": ("Terrible experience.", "Total letdown.", "Avoid.", "Shambolic."),
        "pos": ("Excellent experience.", "Perfect from start to finish.", "Faultless."),
        "neu": ("Mixed feelings.", "OK, nothing special.", "Some ups and downs."),
    },
}
REVIEW_CLOSERS: Final[dict[str, ByKey]] = {
    "fr": {
        "neg": (
            "Je déconseille.",
            "Une étoile parce qu'on ne peut pas mettre zéro.",
            "Allez voir ailleurs.",
        ),
        "pos": ("Je recommande vivement.", "Cinq étoiles méritées.", "Je reviendrai."),
        "neu": ("Peut mieux faire.", "À voir sur la durée.", "Ni bien ni mal."),
    },
    "en": {
        "neg": ("Would not recommend.", "One star because zero isn't an option.", "Go elsewhere."),
        "pos": ("Highly recommended.", "Five stars well deserved.", "Will be back."),
        "neu": ("Could do better.", "Time will tell.", "Average."),
    },
}

# Neutral reviews (the social "neutral" bodies are chatter and questions, not reviews).
REVIEW_NEUTRAL: Final[ByKey] = {
    "fr": (
        "Service correct chez {brand}, sans plus.",
        "{brand} fait le job, rien d'exceptionnel.",
        "Prix corrects chez {brand} mais délais un peu longs.",
        "Client de {brand} depuis {years} ans : quelques couacs, mais réglés à chaque fois.",
        "{brand} : bon rapport qualité-prix, service client difficile à joindre.",
    ),
    "en": (
        "{brand} is fine, nothing special.",
        "Decent prices at {brand} but slow to respond.",
        "With {brand} for {years} years: a few hiccups, always sorted in the end.",
        "{brand} does the job. Customer service hard to reach though.",
    ),
}

BLOG_LINES: Final[dict[str, ByKey]] = {
    "fr": {
        "intro": (
            "Petit retour d'expérience après plusieurs mois.",
            "Je vous raconte.",
            "On me pose souvent la question, alors voilà.",
            "Billet un peu long, désolé.",
        ),
        "outro": (
            "Je mettrai ce billet à jour si ça bouge.",
            "Et vous, votre expérience ?",
            "Bilan : à vous de voir.",
            "Voilà, c'était mon petit coup de gueule (ou de cœur).",
        ),
    },
    "en": {
        "intro": (
            "A quick write-up after a few months.",
            "Long story, bear with me.",
            "People keep asking, so here goes.",
        ),
        "outro": (
            "I'll update this post if anything changes.",
            "What's your experience been?",
            "Make of that what you will.",
        ),
    },
}

BLOG_TITLES: Final[ByKey] = {
    "fr": (
        "Mon avis sur {brand} après {n} mois",
        "{brand} : mon retour d'expérience",
        "Pourquoi je reste (ou pas) chez {brand}",
        "{brand}, le bilan honnête",
    ),
    "en": (
        "My honest take on {brand} after {n} months",
        "{brand}: a customer's diary",
        "Why I'm staying with {brand} (or not)",
    ),
}

NEWS_HEADLINES: Final[dict[str, ByKey]] = {
    "fr": {
        "telecom": (
            "{brand} lance une nouvelle offre fibre à {amount} par mois",
            "{brand} annonce la 5G dans {n} nouvelles villes",
            "Hausse des tarifs : {brand} augmente certains forfaits",
        ),
        "energy": (
            "{brand} prévoit une hausse de ses tarifs au 1er février",
            "Le fournisseur {brand} mise sur le solaire",
            "{brand} : des clients dénoncent des régularisations surprises",
        ),
        "retail": (
            "{brand} ouvre un showroom à {city}",
            "E-commerce : {brand} se lance dans la seconde main",
            "{brand} avance ses soldes d'hiver",
        ),
        "delivery": (
            "{brand} recrute {n}00 livreurs pour les fêtes",
            "Colis en retard : {brand} reconnaît des difficultés dans son entrepôt de {city}",
            "{brand} teste la livraison en vélo cargo à {city}",
        ),
    },
    "en": {
        "telecom": (
            "{brand} launches new fibre plan at {amount} a month",
            "{brand} extends 5G to {n} more cities",
        ),
        "energy": (
            "{brand} to raise prices from February",
            "Supplier {brand} bets on solar",
        ),
        "retail": (
            "{brand} opens a showroom in {city}",
            "{brand} moves into second-hand homeware",
        ),
        "delivery": (
            "{brand} to hire {n}00 drivers for the holidays",
            "Parcel delays: {brand} admits problems at its {city} depot",
        ),
    },
}
NEWS_LEADS: Final[ByKey] = {
    "fr": (
        "Contactée, la direction n'a pas souhaité commenter.",
        "L'entreprise évoque une « phase de transition ».",
        "Plusieurs associations de consommateurs suivent le dossier de près.",
        "Sur les réseaux sociaux, les premiers retours des clients sont partagés.",
        "La mesure doit entrer en vigueur dans les prochaines semaines.",
    ),
    "en": (
        "The company declined to comment.",
        "A spokesperson described it as 'a period of transition'.",
        "Consumer groups say they are watching closely.",
        "Early customer reactions on social media are mixed.",
    ),
}

"""Scenario texts: the influencer post, the outage wave it triggers and the review burst.

Written for Clameur, not copied from any data set or website. Templates are ``str.format``
patterns (see :mod:`clameur.demo.fragments`).
"""

from __future__ import annotations

from typing import Final

from clameur.demo.words import ByKey, Pool

# --------------------------------------------------------------------------- scenarios

INFLUENCER_POSTS: Final[Pool] = (
    "Ça fait {hours} heures que je n'ai plus AUCUN réseau chez {brand}. Des milliers de gens "
    "dans le même cas et zéro communication. On paie un forfait pour quoi exactement ? #panne",
    "Panne générale {brand} depuis ce matin, je ne peux plus joindre personne et le service "
    "client est injoignable. C'est indigne d'un opérateur. Vous êtes combien dans ce cas ? #panne",
)

WAVE_BODIES: Final[ByKey] = {
    "fr": (
        "{influencer} pareil ici, plus aucun réseau {brand} à {city}.",
        "Plus de réseau {brand} depuis {time}, impossible de joindre qui que ce soit.",
        "{brand} en panne à {city} aussi, même les appels passent mal.",
        "Ah donc ce n'est pas que moi, panne {brand} générale ?",
        "Zéro réseau, zéro info. Merci {brand}.",
        "Télétravail impossible, fibre {brand} HS depuis ce matin.",
        "On paie {amount} par mois pour ça {brand} ? Sérieusement.",
        "C'est quand que ça revient {brand} ? J'ai un rendez-vous médical à appeler.",
        "Panne {brand} : j'ai redémarré mon téléphone {n} fois pour rien.",
        "Si la panne {brand} dure encore, je résilie.",
        "{brand} toujours rien à {city}. Une idée de l'heure de retour du réseau ?",
        "Ma mère ne peut plus appeler depuis ce matin, {brand} vous faites quoi ?",
        "Même chose à {city}. Chez {brand}, silence radio sur l'appli.",
        "Le site de {brand} affiche « aucun incident »… bah voyons.",
        "Bienvenue chez {brand}, où le réseau est en option.",
        "{influencer} merci d'en parler, chez moi {brand} est mort depuis {hours} h.",
        "Je suis commerçant à {city}, plus de terminal de paiement à cause de {brand}.",
        "Plus de SMS, plus de data, plus rien. {brand} on attend des explications.",
        "{brand} un geste commercial pour cette panne ce serait la moindre des choses.",
        "Le service client {brand} sature, {minutes} minutes d'attente puis ça coupe.",
    ),
    "en": (
        "{influencer} same here, no {brand} signal at all in {city}.",
        "{brand} down for anyone else? Nothing since {time}.",
        "Zero bars with {brand} all morning, can't even call my kid's school.",
        "Is there an ETA {brand}? Whole neighbourhood is offline.",
        "Can't work, can't call, {brand} outage in {city} too.",
        "{brand} status page says 'no incident'. Sure.",
    ),
}

# Near-duplicate review burst: each slot picks one variant, then the slots are joined.
BURST_SLOTS: Final[tuple[Pool, ...]] = (
    ("Arnaque totale !", "ARNAQUE totale.", "Arnaque complète !!", "Arnaque totale !!!"),
    (
        "{brand} ne livre jamais.",
        "{brand} ne livre jamais rien.",
        "{brand} ne livre jamais !",
    ),
    (
        "Commande payée il y a 3 semaines, aucune nouvelle.",
        "Commande payée il y a trois semaines, aucune nouvelle.",
        "Commande payée il y a 3 semaines et aucune nouvelle.",
        "Payé il y a 3 semaines, aucune nouvelle.",
    ),
    ("Service client injoignable.", "Service client aux abonnés absents.", ""),
    ("Fuyez !!", "FUYEZ !", "Fuyez.", "À fuir !!", "Fuyez !!!"),
)

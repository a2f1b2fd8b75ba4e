"""Social-post fragments: openers, closers and details, and replies and follow-ups in threads.

Written for Clameur, not copied from any data set or website. Templates are ``str.format``
patterns (see :mod:`clameur.demo.fragments`); openers, details and closers never contain
``{brand}``, replies and follow-ups may.
"""

from __future__ import annotations

from typing import Final

from clameur.demo.words import ByKey

# --------------------------------------------------------------------------- social posts

OPENERS: Final[dict[str, ByKey]] = {
    "fr": {
        "neg": (
            "Franchement…",
            "Sérieusement ?",
            "Je n'en peux plus.",
            "Ras-le-bol.",
            "Incroyable.",
            "Encore.",
            "C'est une blague ?",
            "Au secours.",
            "Coup de gueule.",
            "Je craque.",
            "Bon.",
            "Alors là…",
            "Mais quelle galère.",
        ),
        "pos": (
            "Petit message pour dire merci.",
            "Agréablement surpris !",
            "Bravo !",
            "Il faut le dire quand ça marche.",
            "Top !",
            "Bonne surprise ce matin.",
        ),
        "neu": ("Question bête.", "Petite info.", "Hello !", "Bon à savoir.", "Tiens tiens."),
        "ask": ("Bonjour !", "Help !", "Question :", "Besoin d'aide svp.", "Salut à tous !"),
    },
    "en": {
        "neg": (
            "Honestly...",
            "Seriously?",
            "I give up.",
            "Unbelievable.",
            "Rant incoming.",
            "Again.",
            "Are you kidding me?",
            "Fed up.",
            "Well, that's great.",
            "Wow.",
        ),
        "pos": (
            "Credit where it's due.",
            "Pleasantly surprised!",
            "Quick thank you.",
            "Have to say it.",
            "Nice one!",
        ),
        "neu": ("Random question.", "FYI.", "Quick one.", "Hmm.", "Hello!"),
        "ask": ("Hi!", "Help!", "Question:", "Anyone?", "Hi all!"),
    },
}

CLOSERS: Final[dict[str, ByKey]] = {
    "fr": {
        "neg": (
            "Lamentable.",
            "Inadmissible.",
            "J'attends une réponse.",
            "Merci de faire le nécessaire.",
            "Vraiment déçu.",
            "On se moque de qui ?",
            "Je vais saisir le médiateur.",
            "Ça suffit.",
            "Je ne lâcherai pas.",
            "Pathétique.",
            "Honteux.",
            "Bref, au secours.",
        ),
        "pos": (
            "Merci !",
            "Continuez comme ça.",
            "Je recommande.",
            "Chapeau.",
            "Rien à redire.",
            "Merci encore !",
        ),
        "neu": ("À suivre.", "Des retours ?", "On verra bien.", "Voilà voilà."),
        "ask": ("Merci d'avance !", "Merci pour vos réponses.", "Une idée ?", "Merci 🙏"),
    },
    "en": {
        "neg": (
            "Disgraceful.",
            "Waiting for an answer.",
            "Sort it out.",
            "Really disappointed.",
            "Who do you think you're fooling?",
            "Going to the ombudsman next.",
            "Not good enough.",
            "Pathetic.",
            "Absolute joke.",
        ),
        "pos": ("Thanks!", "Keep it up.", "Highly recommend.", "Nice one.", "Cheers!"),
        "neu": ("We'll see.", "Thoughts?", "Watch this space.", "Just saying."),
        "ask": ("Thanks in advance!", "Any ideas?", "Cheers.", "Thanks!"),
    },
}

DETAILS: Final[dict[str, ByKey]] = {
    "fr": {
        "telecom": (
            "Numéro client {ref}.",
            "J'ai déjà redémarré la box {n} fois.",
            "Service client appelé : {minutes} minutes d'attente pour rien.",
            "Et évidemment je paie {amount} par mois.",
            "Technicien promis pour {day}, jamais venu.",
            "Le chat en ligne me renvoie vers la FAQ en boucle.",
        ),
        "energy": (
            "Contrat n°{ref}.",
            "Relevé envoyé le {date}.",
            "{minutes} minutes d'attente au téléphone.",
            "Prélèvement de {amount} ce mois-ci.",
            "J'ai déjà envoyé {n} mails.",
        ),
        "retail": (
            "Commande n°{order}.",
            "Montant payé : {amount}.",
            "J'ai déjà envoyé {n} mails.",
            "Commande passée le {date}.",
            "Le formulaire de contact ne marche même pas.",
        ),
        "delivery": (
            "Numéro de suivi {tracking}.",
            "Le suivi indique « en cours d'acheminement » depuis le {date}.",
            "Le point relais ne sait rien non plus.",
            "J'ai posé une journée pour rien.",
            "Livraison prévue {day} entre 8h et 13h.",
        ),
    },
    "en": {
        "telecom": (
            "Account number {ref}.",
            "Already restarted the router {n} times.",
            "Called support: {minutes} minutes on hold for nothing.",
            "And of course I'm paying {amount} a month.",
            "Engineer was booked for {day}, never showed.",
        ),
        "energy": (
            "Account {ref}.",
            "Sent my meter reading on {date}.",
            "{minutes} minutes on hold.",
            "They took {amount} this month.",
            "I've sent {n} emails already.",
        ),
        "retail": (
            "Order #{order}.",
            "Paid {amount} for it.",
            "I've sent {n} emails already.",
            "Ordered on {date}.",
            "The contact form doesn't even work.",
        ),
        "delivery": (
            "Tracking number {tracking}.",
            "Tracking has said 'in transit' since {date}.",
            "The pickup point knows nothing either.",
            "Took a day off work for this.",
            "Delivery was due {day} between 8am and 1pm.",
        ),
    },
}

# --------------------------------------------------------------------------- threads

REPLIES: Final[dict[str, ByKey]] = {
    "fr": {
        "neg": (
            "Pareil pour moi avec {brand} à {city}.",
            "Même galère chez {brand}, au moins on n'est pas seuls…",
            "Courage ! Chez moi {brand} a fini par régler ça au bout de {days} jours.",
            "Passe par le formulaire de réclamation {brand}, c'est plus rapide que le téléphone.",
            "Tu as envoyé un recommandé à {brand} ? Ça fait souvent bouger les choses.",
            "Idem. {brand} ne répond plus à personne on dirait.",
            "Moi aussi, {brand} c'est de pire en pire.",
            "Ah tiens, je croyais être le seul. {brand} en vrac aujourd'hui.",
        ),
        "ask": (
            "Oui, chez moi {brand} a répondu en 24 h par le chat.",
            "De mémoire c'est dans l'espace client {brand}, rubrique « Mes demandes ».",
            "J'ai eu le même souci, {brand} m'a dit de patienter 48 h.",
            "Aucune idée, mais je suis preneur de la réponse aussi pour {brand}.",
        ),
        "pos": (
            "Ah bon ? Moi {brand} m'a fait tout l'inverse.",
            "Pareil, très contente de {brand} depuis 2 ans.",
            "Tant mieux pour toi, moi {brand} ne m'a jamais répondu.",
        ),
        "neu": (
            "Je suis chez {brand} depuis un an, rien à signaler.",
            "Perso j'ai quitté {brand} l'an dernier.",
            "Bonne question, je me demandais aussi pour {brand}.",
        ),
        "spam": (
            "Signalé. Rien à voir avec {brand}.",
            "Arnaque, ce lien n'a rien à voir avec {brand}.",
        ),
    },
    "en": {
        "neg": (
            "Same here with {brand} in {city}.",
            "Same mess with {brand}, at least we're not alone...",
            "Hang in there! {brand} sorted mine after {days} days.",
            "Use the {brand} complaints form, much faster than the phone.",
            "Have you tried a formal written complaint to {brand}? Worked for me.",
            "Same. {brand} seem to have stopped answering anyone.",
        ),
        "ask": (
            "Yes, {brand} answered me within a day on live chat.",
            "I think it's in your {brand} account, under 'My requests'.",
            "Had the same issue, {brand} told me to wait 48 hours.",
        ),
        "pos": (
            "Really? {brand} did the exact opposite for me.",
            "Same, very happy with {brand} for two years now.",
            "Good for you, {brand} never even answered me.",
        ),
        "neu": (
            "Been with {brand} a year, no complaints.",
            "I left {brand} last year, personally.",
            "Good question, wondering the same about {brand}.",
        ),
        "spam": ("Reported. Nothing to do with {brand}.", "Scam link, not from {brand}."),
    },
}

FOLLOWUPS: Final[dict[str, ByKey]] = {
    "fr": {
        "neg": (
            "Mise à jour : toujours rien de la part de {brand}.",
            "Jour {n} sans réponse de {brand}…",
            "{brand} m'a enfin rappelé, on verra si c'est vraiment réglé.",
            "Bon, problème réglé, merci quand même {brand}.",
            "Toujours aucune nouvelle de {brand}, je passe par le médiateur.",
        ),
        "ask": (
            "Personne ? Je relance, quelqu'un chez {brand} ?",
            "Réponse trouvée, merci à tous ! C'était bien un souci chez {brand}.",
        ),
        "pos": ("Edit : et en plus {brand} m'a offert les frais de port.",),
        "neu": ("Je précise : c'était avec {brand} à {city}.",),
        "spam": ("Dernière chance ! Offre {brand} 👉 {link}",),
    },
    "en": {
        "neg": (
            "Update: still nothing from {brand}.",
            "Day {n} with no reply from {brand}...",
            "{brand} finally called back, let's see if it's actually fixed.",
            "OK, sorted now. Thanks {brand}, eventually.",
        ),
        "ask": (
            "Anyone? Bumping this, {brand}?",
            "Found the answer, thanks all! It was a {brand} issue after all.",
        ),
        "pos": ("Edit: {brand} even refunded the delivery fee.",),
        "neu": ("To clarify, this was with {brand} in {city}.",),
        "spam": ("Last chance! {brand} offer 👉 {link}",),
    },
}

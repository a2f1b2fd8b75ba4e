"""Text fragments and mix tables for the synthetic demo mentions.

Written for Clameur, not copied from any data set or website.

Every template is a ``str.format`` pattern. Placeholders are filled lazily by the generator:
``{brand}`` (the brand as the author writes it), ``{city}``, ``{order}``, ``{amount}``,
``{days}``, ``{hours}``, ``{minutes}``, ``{agent}``, ``{product}``, ``{tracking}``, ``{ref}``,
``{day}``, ``{date}``, ``{time}``, ``{n}``, ``{years}``, ``{link}``, ``{influencer}``.
Body templates (the only required part of a post) always contain ``{brand}``;
openers, details and closers never do.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

Pool = tuple[str, ...]
ByKey = dict[str, Pool]


def _csv(text: str) -> Pool:
    """Split a comma-separated list of words (keeps the word lists compact)."""
    return tuple(word.strip() for word in text.split(","))


# --------------------------------------------------------------------------- people and places

FIRST_NAMES: Final[ByKey] = {
    "fr": _csv(
        "Camille, Léa, Manon, Chloé, Inès, Sarah, Julie, Emma, Lucie, Océane, Marion,"
        " Clara, Pauline, Anaïs, Élodie, Nathalie, Sandrine, Isabelle, Sophie, "
        "Céline, Aurélie, Margaux, Zoé, Yasmine, Fatou, Gaëlle, Brigitte, Mireille, "
        "Hugo, Lucas, Thomas, Nicolas, Julien, Maxime, Antoine, Kévin, Romain, Mehdi,"
        " Karim, Théo, Mathieu, Sébastien, Olivier, Laurent, Franck, Guillaume, "
        "Quentin, Bastien, Jérôme, Yannick, Loïc, Samir, Bruno, Patrick, Christophe, "
        "Rémi, Enzo, Arthur, Noémie, Adrien"
    ),
    "en": _csv(
        "Emily, Olivia, Sophie, Charlotte, Amelia, Grace, Hannah, Jessica, Lucy, "
        "Megan, Chloe, Rachel, Laura, Priya, Aisha, Zoe, Kate, Ellie, Jade, Nina, "
        "James, Oliver, Jack, Harry, George, Daniel, Thomas, Liam, Ethan, Ryan, "
        "Callum, Connor, Matt, Sam, Ben, Josh, Tom, Chris, Marcus, Dev, Raj, Kevin, "
        "Mike, Tyler, Brandon, Ashley, Madison, Taylor, Jordan, Alex"
    ),
}

LAST_NAMES: Final[ByKey] = {
    "fr": _csv(
        "Martin, Bernard, Dubois, Durand, Lefèvre, Moreau, Laurent, Simon, Michel, "
        "Garcia, Roux, Fournier, Girard, Bonnet, Dupont, Lambert, Fontaine, Rousseau,"
        " Vincent, Muller, Faure, André, Mercier, Blanc, Guérin, Boyer, Garnier, "
        "Chevalier, François, Legrand, Gauthier, Perrin, Robin, Clément, Morin, "
        "Henry, Roussel, Masson, Marchand, Duval, Denis, Lemaire, Benali, Haddad, "
        "Nguyen, Traoré, Diallo, Le Gall, Kerbrat, Ménard, Picard, Leroy, Caron, "
        "Hoarau, Barbier, Brun, Colin, Morvan, Lacroix, Ferrand"
    ),
    "en": _csv(
        "Smith, Jones, Taylor, Brown, Williams, Wilson, Johnson, Davies, Robinson, "
        "Wright, Thompson, Evans, Walker, White, Roberts, Green, Hall, Wood, Jackson,"
        " Clarke, Patel, Khan, Lewis, Hughes, Edwards, Turner, Cooper, Hill, Ward, "
        "Morris, Moore, Clark, Harris, Scott, Young, King, Baker, Murphy, O'Brien, "
        "Kelly, Reed, Carter, Mitchell, Campbell, Bell, Murray, Sullivan, Fischer, "
        "Nguyen, Okafor"
    ),
}

HANDLE_WORDS: Final[ByKey] = {
    "fr": _csv(
        "marmotte, chaton, grenadine, lutin, tournesol, caribou, pistache, bretzel, "
        "nuage, moustache, cactus, hibou, loutre, biscotte, clementine, galette, "
        "ecureuil, cerise, pingouin, velo, rando, kiwi, crepe, mouette, renard"
    ),
    "en": _csv(
        "otter, biscuit, pickle, maple, fox, rocket, pixel, nomad, bramble, toast, "
        "teacup, falcon, moss, echo, ginger, muffin, wombat, comet, badger, puffin, "
        "sprout, marmalade, pebble, heron, cider"
    ),
}

CITIES: Final[ByKey] = {
    "fr": _csv(
        "Paris, Lyon, Marseille, Toulouse, Nantes, Lille, Bordeaux, Rennes, "
        "Strasbourg, Montpellier, Grenoble, Dijon, Angers, Brest, Nice, Tours, "
        "Limoges, Metz, Rouen, Reims, Caen, Nancy, Perpignan, Besançon, Orléans, "
        "Poitiers, Pau, Annecy, Saint-Étienne, Villeurbanne, Montreuil, "
        "Clermont-Ferrand, Avignon, La Rochelle, Quimper, Valence, Chambéry"
    ),
    "en": _csv(
        "Paris, Lyon, Bordeaux, Nice, Toulouse, Marseille, Lille, Montpellier, "
        "London, Manchester, Bristol, Leeds, Brighton, Edinburgh, Dublin, Brooklyn, "
        "Boston, Annecy, Grenoble, Biarritz"
    ),
}

AGENTS: Final[ByKey] = {
    "fr": _csv("Kevin, Sandrine, Nadia, Yohan, Mélanie, Stéphane, Amandine, Rachid"),
    "en": _csv("Kevin, Sandrine, Nadia, Steve, Melanie, Paul, Amanda, Rachid"),
}

PRODUCTS: Final[dict[str, ByKey]] = {
    "telecom": {
        "fr": (
            "mon forfait 5G",
            "ma box fibre",
            "ma carte SIM",
            "mon eSIM",
            "le forfait 100 Go",
            "mon nouveau téléphone",
            "la box 4G",
        ),
        "en": (
            "my 5G plan",
            "my fibre router",
            "my SIM card",
            "my eSIM",
            "the 100 GB plan",
            "my new phone",
            "the 4G home box",
        ),
    },
    "energy": {
        "fr": (
            "mon contrat d'électricité",
            "l'offre gaz",
            "le compteur",
            "l'offre heures creuses",
            "la borne de recharge",
            "l'offre verte",
        ),
        "en": (
            "my electricity contract",
            "the gas plan",
            "the meter",
            "the off-peak plan",
            "the EV charger",
            "the green tariff",
        ),
    },
    "retail": {
        "fr": (
            "une lampe de chevet",
            "un plaid en laine",
            "une table basse",
            "des draps en lin",
            "un miroir rond",
            "un lot de verres",
            "une veste en velours",
            "une parure de lit",
            "un fauteuil",
            "un tapis berbère",
            "des rideaux",
            "un vase en grès",
        ),
        "en": (
            "a bedside lamp",
            "a wool throw",
            "a coffee table",
            "linen sheets",
            "a round mirror",
            "a set of glasses",
            "a velvet jacket",
            "a duvet set",
            "an armchair",
            "a rug",
            "curtains",
            "a stoneware vase",
        ),
    },
    "delivery": {
        "fr": (
            "un colis",
            "un carton",
            "mon colis",
            "un paquet urgent",
            "les cadeaux de Noël",
            "un colis fragile",
            "mes médicaments",
        ),
        "en": (
            "a parcel",
            "a box",
            "my parcel",
            "an urgent package",
            "the Christmas presents",
            "a fragile parcel",
            "my prescription",
        ),
    },
}

WEEKDAYS: Final[ByKey] = {
    "fr": _csv("lundi, mardi, mercredi, jeudi, vendredi, samedi, dimanche"),
    "en": _csv("Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday"),
}

MONTHS: Final[ByKey] = {
    "fr": _csv(
        "janvier, février, mars, avril, mai, juin, juillet, août, septembre, octobre,"
        " novembre, décembre"
    ),
    "en": _csv(
        "January, February, March, April, May, June, July, August, September, "
        "October, November, December"
    ),
}

MASTODON_INSTANCES: Final[Pool] = _csv(
    "piaille.example, pouet.example, toot.example, social.example, fediverse.example"
)
MAIL_DOMAINS: Final[Pool] = _csv(
    "courriel.example, mail.example, boite.example, inbox.example, post.example"
)
SPAM_HOSTS: Final[Pool] = (
    "promo-deal.example",
    "bons-plans-flash.example",
    "cadeau-gratuit.example",
    "win-now.example",
)
REDDIT_SUBS: Final[ByKey] = {
    "fr": ("conso_fr", "vivreenfrance", "teletravail_fr", "bonsplans_fr"),
    "en": ("expats_in_france", "ukconsumers", "personalfinance_demo", "movingtofrance"),
}
NEWS_OUTLETS: Final[dict[str, tuple[tuple[str, str, str], ...]]] = {
    # (display name, handle, host)
    "fr": (
        ("La Gazette du Conso", "gazetteconso", "gazette-conso.example"),
        ("Le Fil Éco", "lefileco", "fil-eco.example"),
        ("Ondes & Réseaux", "ondesreseaux", "ondes-reseaux.example"),
        ("Le Courrier Numérique", "courriernum", "courrier-numerique.example"),
    ),
    "en": (
        ("Kestrel Daily", "kestreldaily", "kestrel-daily.example"),
        ("The Signal Tribune", "signaltribune", "signal-tribune.example"),
        ("Retail Ledger Weekly", "retailledger", "retail-ledger.example"),
    ),
}

# --------------------------------------------------------------------------- decorations

EMOJI: Final[ByKey] = {
    "neg": _csv("😡, 🤬, 😤, 🙄, 😩, 😠, 💀, 🤦"),
    "pos": _csv("👍, 🙏, 😍, 👏, ❤️, ✨, 🙌"),
    "ask": ("🤔", "🙏", "😕", "❓"),
    "neu": ("😅", "🙂", "👀", "🤷"),
    "spam": _csv("🔥, 💸, 🎁, 👉, 💯"),
}

HASHTAGS: Final[dict[str, ByKey]] = {
    "fr": {
        "telecom": _csv("#panne, #fibre, #5G, #forfait, #réseau, #SAV, #télétravail"),
        "energy": _csv("#électricité, #facture, #énergie, #compteur, #gaz, #pouvoirdachat"),
        "retail": _csv("#déco, #shopping, #SAV, #remboursement, #commande, #maison"),
        "delivery": _csv("#colis, #livraison, #retard, #pointrelais, #SAV"),
        "neg": ("#servicesclients", "#arnaque", "#conso", "#ras_le_bol"),
        "pos": ("#merci", "#bonplan", "#satisfait"),
    },
    "en": {
        "telecom": _csv("#outage, #broadband, #5G, #mobile, #customerservice, #wfh"),
        "energy": ("#energybills", "#electricity", "#costofliving", "#smartmeter"),
        "retail": ("#homedecor", "#shopping", "#refund", "#onlineshopping"),
        "delivery": ("#parcel", "#delivery", "#lostparcel", "#customerservice"),
        "neg": ("#customerservicefail", "#scam", "#fail", "#consumerrights"),
        "pos": ("#thankyou", "#happycustomer", "#recommend"),
    },
}

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

# Sector-specific bodies: lang -> sector -> intent -> templates.
SECTOR_BODIES: Final[dict[str, dict[str, ByKey]]] = {
    "fr": {
        "telecom": {
            "outage": (
                "Plus de réseau chez {brand} depuis ce matin à {city}, impossible d'appeler.",
                "Ça fait {days} jours que ma box {brand} clignote rouge. Je télétravaille moi !",
                "Encore une panne {brand} ? Zéro barre à {city} depuis {hours} heures.",
                "La 4G {brand} rame à mort, même une page web ne charge pas.",
                "Fibre {brand} coupée dans tout le quartier et aucune info sur l'appli.",
                "{brand} vous pouvez nous dire ce qui se passe ? Plus de data depuis {time}.",
                "Internet {brand} qui coupe toutes les dix minutes depuis {day}, c'est invivable.",
            ),
            "billing": (
                "{brand} m'a prélevé {amount} ce mois-ci, bien plus que mon forfait.",
                "Facture {brand} de {amount} pour du hors-forfait que je n'ai jamais consommé.",
                "Double prélèvement chez {brand}, {amount} en trop sur mon compte.",
                "On m'avait promis un prix bloqué et {brand} augmente le tarif sans prévenir.",
                "Des options que je n'ai jamais demandées sur ma facture {brand}.",
            ),
            "churn": (
                "Je résilie. {brand}, c'est terminé pour moi.",
                "Si {brand} ne règle pas ça cette semaine, je résilie.",
                "Dernier mois chez {brand}, je pars à la concurrence.",
                "Demande de résiliation envoyée à {brand}, trop c'est trop.",
                "{days} jours sans connexion, je résilie mon abonnement {brand} et je demande "
                "des dommages.",
            ),
            "question": (
                "Quelqu'un sait si {brand} capte bien en 5G à {city} ?",
                "Comment on récupère son code RIO chez {brand} ?",
                "L'eSIM {brand} marche sur tous les téléphones ?",
                "C'est quoi le délai pour une portabilité chez {brand} ?",
                "{brand} le forfait inclut l'étranger ou pas ?",
            ),
            "praise": (
                "Rien à dire, réseau {brand} nickel même en montagne.",
                "Box {brand} installée en 20 minutes, débit au top.",
                "Passé chez {brand} le mois dernier, enfin une connexion stable.",
            ),
            "neutral": (
                "{brand} lance un forfait 5G à {amount}, à voir.",
                "Nouvelle boutique {brand} à {city}, il y avait la queue ce matin.",
                "Je compare {brand} et la concurrence pour la fibre, vous en pensez quoi ?",
            ),
            "request": (
                "{brand} pouvez-vous résilier l'option que je n'ai jamais demandée ? Client {ref}.",
                "{brand} j'ai besoin d'une nouvelle carte SIM, la mienne est HS.",
            ),
        },
        "energy": {
            "outage": (
                "Coupure de courant depuis {hours} heures à {city} et {brand} ne répond pas.",
                "Le technicien {brand} devait passer {day} pour le compteur, personne n'est venu.",
                "Compteur bloqué, plus d'électricité dans l'appart, et {brand} me dit d'attendre.",
                "Coupé pour un prétendu impayé alors que tout est réglé, merci {brand}.",
            ),
            "billing": (
                "Régularisation {brand} de {amount}, sans aucune explication. C'est une blague ?",
                "Mes mensualités {brand} ont doublé sans que ma consommation change.",
                "{brand} me facture une estimation délirante alors que j'ai envoyé mon relevé.",
                "Trop-perçu de {amount} jamais remboursé par {brand}.",
                "{brand} m'a prélevé {amount} deux fois ce mois-ci.",
            ),
            "churn": (
                "Je résilie mon contrat {brand}, ras-le-bol des régularisations surprises.",
                "Je change de fournisseur, {brand} c'est fini.",
                "Si {brand} ne rembourse pas d'ici vendredi, je pars ailleurs.",
            ),
            "question": (
                "Quelqu'un a déjà eu une régularisation {brand} ? C'est calculé comment ?",
                "{brand} propose une offre heures creuses ?",
                "Comment on transmet son relevé de compteur à {brand} ?",
                "C'est quoi l'offre verte de {brand} exactement ?",
            ),
            "praise": (
                "{brand} m'a remboursé le trop-perçu en une semaine, impeccable.",
                "Changement de fournisseur vers {brand} sans aucune coupure, parfait.",
                "Le conseiller {brand} m'a aidé à baisser ma facture, merci.",
            ),
            "neutral": (
                "{brand} annonce une offre verte, reste à voir les prix.",
                "Reçu le courrier {brand} sur les nouveaux tarifs au 1er février.",
                "Un voisin m'a conseillé {brand}, quelqu'un est chez eux ?",
            ),
            "request": (
                "{brand} merci de m'envoyer l'échéancier de mon contrat {ref}.",
                "{brand} je déménage le {date}, comment je transfère mon contrat ?",
            ),
        },
        "retail": {
            "late": (
                "Commande n°{order} passée il y a {days} jours chez {brand}, jamais expédiée.",
                "{brand} annonçait 48 h, ça fait {days} jours que j'attends {product}.",
                "Le suivi de ma commande {brand} n'a pas bougé depuis une semaine.",
                "Toujours pas reçu ma commande {brand}, c'était pour un anniversaire. Raté.",
            ),
            "damaged": (
                "Reçu {product} de chez {brand} : état lamentable, carton éventré.",
                "Produit arrivé cassé et {brand} me demande des photos pour la {n}e fois.",
                "Commande {brand} reçue tachée, et une couture lâche déjà.",
                "Commandé un plaid beige chez {brand}, reçu un coussin vert. Bravo.",
            ),
            "lost": (
                "Commande {brand} indiquée livrée mais jamais reçue. Commande n°{order}.",
                "{brand} dit que mon colis est livré. Il ne l'est pas.",
            ),
            "refund": (
                "J'attends le remboursement de {amount} promis par {brand} il y a {days} jours.",
                "Retour reçu par l'entrepôt {brand} depuis deux semaines, toujours pas remboursé.",
            ),
            "churn": (
                "Plus jamais je ne commande chez {brand}.",
                "Compte {brand} supprimé. Terminé.",
                "Dernière commande chez {brand}, je retourne en magasin.",
            ),
            "question": (
                "{brand} vous livrez en Belgique ?",
                "La taille M chez {brand} taille grand ou petit ?",
                "Comment faire un retour chez {brand} quand on n'a plus l'étiquette ?",
                "{brand} les soldes commencent quand cette année ?",
            ),
            "praise": (
                "Reçu ma commande {brand} en 2 jours : {product}, encore plus beau qu'en photo.",
                "Service client {brand} au top, échange fait sans discuter.",
                "Encore une super commande chez {brand}, emballage soigné et joli mot.",
            ),
            "neutral": (
                "Je regarde {product} chez {brand}, quelqu'un a déjà testé ?",
                "Nouvelle collection {brand} en ligne, quelques jolies pièces.",
                "Vu la pub {brand} à la télé hier soir.",
            ),
            "request": (
                "{brand} je voudrais modifier l'adresse de livraison de la commande n°{order}.",
                "{brand} pouvez-vous annuler ma commande n°{order} svp ?",
            ),
        },
        "delivery": {
            "late": (
                "Mon colis {brand} fait le tour des entrepôts depuis {days} jours.",
                "Livraison {brand} prévue {day}, reportée trois fois, toujours rien.",
                "{brand} mon colis est « en cours de livraison » depuis {days} jours.",
            ),
            "lost": (
                "Colis {tracking} perdu par {brand}, personne ne sait où il est.",
                "Marqué livré par {brand} à {time}, j'étais chez moi, aucun colis.",
                "{brand} a égaré {product}, et chacun se renvoie la balle.",
            ),
            "damaged": (
                "Le livreur {brand} a balancé le colis par-dessus le portail, tout est cassé.",
                "Colis {brand} arrivé trempé et écrasé.",
            ),
            "rude": (
                "Avis de passage déposé sans même sonner, avec {brand} c'est systématique.",
                "Le livreur {brand} m'a parlé comme à un chien.",
                "Livreur {brand} qui laisse le colis devant l'immeuble sous la pluie.",
            ),
            "churn": (
                "Je demande aux sites où j'achète de ne plus passer par {brand}.",
                "Dès qu'un site propose {brand}, je prends autre chose.",
            ),
            "question": (
                "{brand} on peut changer de point relais une fois le colis parti ?",
                "Quelqu'un sait jusqu'à quelle heure livre {brand} ?",
                "{brand} livre le samedi à {city} ?",
            ),
            "praise": (
                "Livreur {brand} super sympa, colis déposé chez la voisine comme demandé.",
                "Colis {brand} livré en avance, bien emballé.",
                "Merci au livreur {brand} qui a monté le colis au 5e sans ascenseur.",
            ),
            "neutral": (
                "Les camionnettes {brand} sont partout dans le quartier aujourd'hui.",
                "Premier colis reçu via {brand}, on verra.",
                "{brand} ouvre un nouveau point relais à {city}.",
            ),
            "request": (
                "{brand} pouvez-vous reprogrammer la livraison du colis {tracking} ?",
                "{brand} merci de livrer en point relais plutôt qu'à domicile, colis {tracking}.",
            ),
        },
    },
    "en": {
        "telecom": {
            "outage": (
                "No signal with {brand} since this morning in {city}. Can't call anyone.",
                "My {brand} router has been blinking red for {days} days. I work from home!",
                "Another {brand} outage? Zero bars in {city} for {hours} hours now.",
                "{brand} mobile data is unusably slow, pages won't even load.",
                "Whole street lost {brand} fibre and the app says nothing.",
                "{brand} can you tell us what's going on? No data since {time}.",
            ),
            "billing": (
                "{brand} charged me {amount} this month, way more than my plan.",
                "Got a {brand} bill for {amount} in roaming I never used.",
                "Charged twice by {brand} this month, {amount} gone from my account.",
                "{brand} raised my 'fixed price' plan without any notice.",
            ),
            "churn": (
                "That's it, I'm cancelling {brand}.",
                "If {brand} doesn't fix this by Friday I'm switching.",
                "Last month with {brand}, moving to a competitor.",
                "Just requested my {brand} cancellation. Enough is enough.",
            ),
            "question": (
                "Does {brand} have decent 5G coverage in {city}?",
                "How long does number porting take with {brand}?",
                "Does the {brand} eSIM work on any phone?",
                "{brand} does the plan include roaming outside the EU?",
            ),
            "praise": (
                "Have to say, {brand} signal is solid even up in the mountains.",
                "{brand} fibre installed in 20 minutes, speeds are great.",
                "Switched to {brand} last month, finally a stable connection.",
            ),
            "neutral": (
                "{brand} launching a 5G plan at {amount}, we'll see.",
                "New {brand} shop opened in {city}, queue out the door.",
                "Comparing {brand} with the others for fibre, any opinions?",
            ),
            "request": (
                "{brand} please remove the add-on I never asked for. Account {ref}.",
                "{brand} I need a replacement SIM, mine died.",
            ),
        },
        "energy": {
            "outage": (
                "Power's been out for {hours} hours in {city} and {brand} isn't answering.",
                "{brand} engineer was meant to come {day} for the meter. Nobody showed up.",
                "Cut off for an 'unpaid bill' I paid weeks ago. Thanks {brand}.",
            ),
            "billing": (
                "{brand} just sent me a {amount} adjustment bill with zero explanation.",
                "My {brand} monthly payments doubled and my usage hasn't changed.",
                "{brand} keeps billing on estimates even though I sent my meter reading.",
                "Still waiting for {brand} to refund the {amount} they overcharged me.",
            ),
            "churn": (
                "Switching supplier. Done with {brand}.",
                "Cancelling my {brand} contract, sick of surprise bills.",
            ),
            "question": (
                "Anyone had a {brand} annual adjustment? How is it calculated?",
                "Does {brand} have an off-peak tariff?",
                "How do I send a meter reading to {brand}?",
            ),
            "praise": (
                "{brand} refunded my overpayment within a week. Impressed.",
                "Switched to {brand} with no interruption at all, smooth.",
            ),
            "neutral": (
                "{brand} announcing a green tariff, let's see the prices.",
                "Got the {brand} letter about new rates from February.",
            ),
            "request": (
                "{brand} please send me the payment schedule for account {ref}.",
                "{brand} I'm moving on {date}, how do I transfer my contract?",
            ),
        },
        "retail": {
            "late": (
                "Ordered from {brand} {days} days ago (order #{order}), still not shipped.",
                "{brand} promised 48h delivery. Day {days}, still waiting for {product}.",
                "Tracking for my {brand} order hasn't moved in a week.",
            ),
            "damaged": (
                "Got {product} from {brand} and it arrived smashed, box torn open.",
                "My {brand} order arrived stained and a seam is already coming apart.",
                "Ordered a beige throw from {brand}, got a green cushion. Nice one.",
            ),
            "lost": (
                "{brand} says my order was delivered. It wasn't. Order #{order}.",
                "My {brand} order vanished somewhere between the warehouse and my door.",
            ),
            "refund": (
                "Still waiting on my {amount} refund from {brand}, {days} days later.",
                "{brand} received my return two weeks ago, still no refund.",
            ),
            "churn": (
                "Never ordering from {brand} again.",
                "Deleted my {brand} account. Done.",
            ),
            "question": (
                "{brand} do you ship to the UK?",
                "Does {brand} sizing run large or small?",
                "How do I return something to {brand} without the label?",
            ),
            "praise": (
                "My {brand} order arrived in 2 days and it's gorgeous.",
                "{brand} customer service swapped my item without any fuss.",
            ),
            "neutral": (
                "Looking at {product} from {brand}, anyone bought it?",
                "New {brand} collection is out, a few nice pieces.",
            ),
            "request": (
                "{brand} I need to change the delivery address on order #{order}.",
                "{brand} can you cancel order #{order} please?",
            ),
        },
        "delivery": {
            "late": (
                "My {brand} parcel has been bouncing between depots for {days} days.",
                "{brand} delivery rescheduled three times now. Still nothing.",
            ),
            "lost": (
                "{brand} lost my parcel {tracking} and nobody can tell me where it is.",
                "{brand} marked it delivered at {time}. I was home. No parcel.",
            ),
            "damaged": (
                "{brand} driver threw my parcel over the gate. Contents broken.",
                "Parcel from {brand} arrived soaked and crushed.",
            ),
            "rude": (
                "{brand} left a 'sorry we missed you' card without even ringing. Every time.",
                "The {brand} driver was incredibly rude to my elderly neighbour.",
            ),
            "churn": (
                "Asking every shop I use to stop shipping with {brand}.",
                "If checkout says {brand}, I'm choosing something else.",
            ),
            "question": (
                "{brand} can I change the pickup point after dispatch?",
                "Does {brand} deliver on Saturdays in {city}?",
            ),
            "praise": (
                "Lovely {brand} driver left my parcel with the neighbour as asked.",
                "{brand} delivered a day early, well packed.",
            ),
            "neutral": (
                "{brand} vans everywhere in my street today.",
                "First parcel I've had via {brand}, we'll see.",
            ),
            "request": (
                "{brand} can you rebook delivery for parcel {tracking}?",
                "{brand} please send parcel {tracking} to a pickup point instead.",
            ),
        },
    },
}

# Bodies valid for every sector: lang -> intent -> templates.
GENERIC_BODIES: Final[dict[str, ByKey]] = {
    "fr": {
        "rude": (
            "Conseiller {brand} odieux au téléphone, il m'a raccroché au nez.",
            "On m'a répondu avec un mépris incroyable au service client {brand}.",
            "{agent} du service client {brand} m'a dit que ce n'était pas son problème.",
            "Service client {brand} : on me transfère {n} fois puis on raccroche.",
        ),
        "refund": (
            "Toujours pas remboursé par {brand} après {days} jours, c'est normal ?",
            "{brand} me doit {amount} depuis le {date}. J'attends.",
        ),
        "question": (
            "Quelqu'un a réussi à joindre {brand} par téléphone aujourd'hui ?",
            "{brand} vous répondez en MP ou pas du tout ?",
            "C'est quoi le meilleur moyen de contacter {brand} ?",
        ),
        "request": (
            "{brand} merci de me rappeler au plus vite, dossier {ref}.",
            "{brand} pouvez-vous me répondre en MP svp ?",
            "{brand} j'attends toujours le rappel promis {day}.",
        ),
        "praise": (
            "Merci à {agent} du service client {brand}, patiente et efficace.",
            "Problème réglé en 10 minutes par le chat {brand}, chapeau.",
            "Geste commercial de {brand} sans même demander, ça fait plaisir.",
        ),
        "neutral": (
            "Quelqu'un ici est chez {brand} ?",
            "Tiens, {brand} a changé de logo.",
            "Je vois passer beaucoup de messages sur {brand} aujourd'hui.",
        ),
        "spam": (
            "🔥 Offre {brand} à moitié prix, cliquez ici 👉 {link}",
            "Gagnez un bon d'achat {brand} de 500 € ! Inscription 👉 {link}",
            "Client {brand} ? Gagnez de l'argent depuis chez vous 💸 {link}",
            "Code promo {brand} -70 % valable aujourd'hui seulement : {link}",
            "Remboursement {brand} en attente ? Récupérez-le en 24 h avec notre appli {link}",
        ),
        "toxic": (
            "Bande d'incapables chez {brand}, vous êtes des clowns.",
            "{brand} = voleurs. Point.",
            "Vous êtes vraiment les rois des nuls chez {brand}.",
            "Honte à vous {brand}, bande de guignols.",
            "Le service client {brand}, une belle brochette d'incompétents.",
            "{brand} allez vous faire voir avec vos excuses bidon.",
        ),
    },
    "en": {
        "rude": (
            "{brand} support agent hung up on me. Unbelievable.",
            "Never been spoken to so condescendingly as by {brand} customer service.",
            "{agent} at {brand} support basically told me it wasn't their problem.",
            "{brand} support transferred me {n} times then cut the call.",
        ),
        "refund": (
            "Still no refund from {brand} after {days} days. Is this normal?",
            "{brand} has owed me {amount} since {date}. Still waiting.",
        ),
        "question": (
            "Has anyone managed to reach {brand} by phone today?",
            "{brand} do you answer DMs or not at all?",
            "What's the best way to actually contact {brand}?",
        ),
        "request": (
            "{brand} please call me back asap, case {ref}.",
            "{brand} can you reply to my DM please?",
            "{brand} still waiting for the callback promised on {day}.",
        ),
        "praise": (
            "Shout-out to {agent} at {brand} support, patient and sorted it in minutes.",
            "{brand} live chat fixed my issue in 10 minutes. Impressed.",
            "{brand} offered a goodwill gesture without me even asking.",
        ),
        "neutral": (
            "Anyone here with {brand}?",
            "Oh, {brand} changed their logo.",
            "Seeing a lot of chatter about {brand} today.",
        ),
        "spam": (
            "🔥 {brand} deals at half price, click here 👉 {link}",
            "Win a €500 {brand} voucher! Sign up 👉 {link}",
            "{brand} customer? Earn money from home 💸 {link}",
            "{brand} promo code -70% today only: {link}",
        ),
        "toxic": (
            "{brand} support is a bunch of clowns.",
            "{brand} = thieves. Full stop.",
            "Absolute muppets at {brand}, every single one of you.",
            "Shame on you {brand}, useless lot.",
            "{brand} you are a joke of a company.",
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
            "Petit retour d'expérience après plusieurs mois.", "Je vous raconte.",
            "On me pose souvent la question, alors voilà.", "Billet un peu long, désolé.",
        ),
        "outro": (
            "Je mettrai ce billet à jour si ça bouge.", "Et vous, votre expérience ?",
            "Bilan : à vous de voir.", "Voilà, c'était mon petit coup de gueule (ou de cœur).",
        ),
    },
    "en": {
        "intro": (
            "A quick write-up after a few months.", "Long story, bear with me.",
            "People keep asking, so here goes.",
        ),
        "outro": (
            "I'll update this post if anything changes.", "What's your experience been?",
            "Make of that what you will.",
        ),
    },
}  # fmt: skip

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

# --------------------------------------------------------------------------- e-mails

EMAIL: Final[dict[str, ByKey]] = {
    "fr": {
        "subject_word": ("Objet :",),
        "greeting": ("Madame, Monsieur,", "Bonjour,", "Bonjour Madame, Monsieur,"),
        "intro": (
            "Client de {brand} depuis {years} ans, je me permets de vous écrire au sujet de "
            "mon dossier {ref}.",
            "Je vous contacte au sujet de mon compte {brand} (référence {ref}).",
            "Je reviens vers vous concernant ma situation chez {brand}, référence {ref}.",
        ),
        "insist": (
            "J'ai déjà contacté votre service client à {n} reprises, sans obtenir de solution.",
            "Malgré mes appels répétés, aucune solution ne m'a été proposée à ce jour.",
            "Je dispose de toutes les pièces justificatives si nécessaire.",
        ),
        "ask_complaint": (
            "Je vous remercie de bien vouloir procéder au remboursement de la somme de {amount} "
            "dans les meilleurs délais.",
            "Je vous demande de régulariser ma situation sous huit jours.",
            "À défaut de réponse sous quinze jours, je saisirai le médiateur compétent.",
            "Je vous remercie de me tenir informé des suites données à ma réclamation.",
        ),
        "ask_praise": ("Bonne continuation à toute l'équipe.", "Encore merci."),
        "ask_other": (
            "Je vous remercie par avance pour votre réponse.",
            "Pourriez-vous me rappeler au numéro indiqué dans mon espace client ?",
            "Je reste disponible pour tout complément d'information.",
        ),
        "closing": (
            "Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations distinguées.",
            "Cordialement,",
            "Bien cordialement,",
            "Dans l'attente de votre retour, je vous adresse mes salutations.",
        ),
        "followup_subject": ("Relance : dossier {ref}", "Deuxième relance – réclamation {ref}"),
        "followup": (
            "Je me permets de vous relancer au sujet de mon courriel du {date} concernant {brand}, "
            "resté sans réponse.",
            "Sans nouvelles de {brand} depuis mon précédent message, je réitère ma demande.",
        ),
        "praise_subject": ("Remerciements", "Merci pour votre aide"),
        "praise": (
            "Je tenais à remercier {agent}, du service client {brand}, pour son professionnalisme.",
            "Je souhaitais simplement saluer la réactivité de l'équipe {brand} lors de mon "
            "dernier échange.",
        ),
        "question": (
            "Pourriez-vous m'indiquer la démarche pour modifier les informations de mon compte ?",
            "Je souhaiterais connaître le délai de traitement habituel d'une réclamation.",
            "Pourriez-vous me préciser les frais éventuels en cas de résiliation ?",
            "Je souhaiterais savoir où en est ma demande en cours.",
        ),
        "request": (
            "Je souhaiterais mettre à jour les coordonnées associées à mon compte.",
            "Je vous prie de bien vouloir m'adresser un duplicata de ma dernière facture.",
            "Je souhaiterais être rappelé par un conseiller au sujet de mon dossier.",
            "Je vous remercie de bien vouloir modifier mon adresse postale dès que possible.",
        ),
        "question_subject": ("Demande d'information", "Question", "Renseignement"),
        "request_subject": ("Demande", "Demande concernant mon compte", "Ma demande"),
    },
    "en": {
        "subject_word": ("Subject:",),
        "greeting": ("Dear Sir or Madam,", "Hello,", "Dear Customer Services,"),
        "intro": (
            "I have been a {brand} customer for {years} years and I am writing about my account "
            "{ref}.",
            "I am contacting you regarding my {brand} account (reference {ref}).",
            "I am following up on my situation with {brand}, reference {ref}.",
        ),
        "insist": (
            "I have already contacted your customer service {n} times without any resolution.",
            "Despite repeated calls, no solution has been offered so far.",
            "I can provide supporting documents if needed.",
        ),
        "ask_complaint": (
            "Please refund the sum of {amount} as soon as possible.",
            "I ask that you resolve this within eight days.",
            "If I do not hear back within fourteen days, I will escalate to the ombudsman.",
            "Please keep me informed of the outcome of this complaint.",
        ),
        "ask_praise": ("Keep up the good work.", "Many thanks again."),
        "ask_other": (
            "Thank you in advance for your reply.",
            "Could you call me back on the number in my account?",
            "I remain available should you need more information.",
        ),
        "closing": ("Yours faithfully,", "Kind regards,", "Best regards,", "Many thanks,"),
        "followup_subject": ("Follow-up: case {ref}", "Second reminder - complaint {ref}"),
        "followup": (
            "I am following up on my email of {date} to {brand}, which has gone unanswered.",
            "Having heard nothing from {brand} since my last message, I repeat my request.",
        ),
        "praise_subject": ("Thank you", "Compliments to your team"),
        "praise": (
            "I wanted to thank {agent} from {brand} customer service for their professionalism.",
            "I simply wished to commend the {brand} team for their quick response last week.",
        ),
        "question": (
            "Could you tell me how to update the details on my account?",
            "I would like to know whether there are any fees if I cancel.",
            "Could you let me know how long a complaint usually takes to process?",
        ),
        "request": (
            "I would like to update the contact details on my account.",
            "Please send me a copy of my latest invoice.",
            "I would like an adviser to call me back about my case.",
        ),
        "question_subject": ("Information request", "Question", "Enquiry"),
        "request_subject": ("Request", "Request about my account", "My request"),
    },
}

# (subject, formal problem statement) per sector, for complaint e-mails.
EMAIL_CASES: Final[dict[str, dict[str, tuple[tuple[str, str], ...]]]] = {
    "fr": {
        "telecom": (
            (
                "Réclamation – interruption de service",
                "Depuis le {date}, ma ligne ne fonctionne plus correctement : les appels coupent "
                "et la connexion internet est inexistante.",
            ),
            (
                "Contestation de facture",
                "Ma dernière facture s'élève à {amount}, ce qui ne correspond en rien à l'offre "
                "souscrite.",
            ),
            (
                "Demande de résiliation",
                "Compte tenu des dysfonctionnements répétés, je souhaite résilier mon abonnement "
                "sans frais.",
            ),
        ),
        "energy": (
            (
                "Contestation de régularisation",
                "J'ai reçu une facture de régularisation de {amount} que je conteste, mes relevés "
                "ayant été transmis régulièrement.",
            ),
            (
                "Rendez-vous technicien non honoré",
                "Le technicien attendu le {date} ne s'est pas présenté et personne ne m'a prévenu.",
            ),
            (
                "Remboursement d'un trop-perçu",
                "Mon contrat fait apparaître un trop-perçu de {amount} qui ne m'a toujours pas été "
                "reversé.",
            ),
        ),
        "retail": (
            (
                "Réclamation concernant ma commande n°{order}",
                "Ma commande n°{order} du {date} ne m'est jamais parvenue malgré mes relances.",
            ),
            (
                "Produit endommagé – commande n°{order}",
                "L'article reçu, {product}, est arrivé endommagé et inutilisable.",
            ),
            (
                "Demande de remboursement",
                "J'ai retourné ma commande n°{order} il y a {days} jours et n'ai reçu aucun "
                "remboursement.",
            ),
        ),
        "delivery": (
            (
                "Colis non livré – {tracking}",
                "Le colis {tracking} est indiqué comme livré alors que je ne l'ai jamais reçu.",
            ),
            (
                "Réclamation – colis endommagé",
                "Le colis {tracking} m'a été remis dans un état déplorable, son contenu est brisé.",
            ),
            (
                "Retard de livraison",
                "Le colis {tracking}, annoncé pour le {date}, n'a toujours pas été livré.",
            ),
        ),
    },
    "en": {
        "telecom": (
            (
                "Complaint - loss of service",
                "Since {date} my line has not worked properly: calls drop, no internet at all.",
            ),
            (
                "Disputed bill",
                "My latest bill comes to {amount}, which does not match the plan I signed up for.",
            ),
        ),
        "energy": (
            (
                "Disputed adjustment bill",
                "I received an adjustment bill for {amount} which I dispute, as I have submitted "
                "regular meter readings.",
            ),
            (
                "Missed engineer appointment",
                "The engineer expected on {date} did not turn up and nobody let me know.",
            ),
        ),
        "retail": (
            (
                "Complaint about order #{order}",
                "My order #{order} placed on {date} has never arrived despite several reminders.",
            ),
            (
                "Damaged item - order #{order}",
                "The item I received, {product}, arrived damaged and unusable.",
            ),
        ),
        "delivery": (
            (
                "Parcel not delivered - {tracking}",
                "Parcel {tracking} is shown as delivered but I never received it.",
            ),
            (
                "Complaint - damaged parcel",
                "Parcel {tracking} reached me in a terrible state and the contents are broken.",
            ),
        ),
    },
}

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

# --------------------------------------------------------------------------- mix tables

SOURCE_WEIGHTS: Final = {
    "twitter": 30.0, "facebook": 16.0, "review": 12.0, "forum": 9.0, "instagram": 8.0,
    "reddit": 6.0, "mastodon": 5.0, "bluesky": 4.5, "email": 4.0, "blog": 3.0, "news": 2.5,
}  # fmt: skip
# Sources where posts get replies (e-mails get follow-ups from the same author), and how often.
REPLY_RATE: Final = {
    "twitter": 0.2, "facebook": 0.25, "instagram": 0.15, "mastodon": 0.2, "bluesky": 0.2,
    "reddit": 0.35, "forum": 0.35, "blog": 0.15, "email": 0.12,
}  # fmt: skip
WAVE_SOURCES: Final = (
    ("twitter", 30.0), ("facebook", 25.0), ("forum", 10.0), ("reddit", 8.0), ("mastodon", 8.0),
    ("bluesky", 8.0), ("instagram", 6.0),
)  # fmt: skip
SECTOR_WEIGHT: Final = {"telecom": 35.0, "energy": 20.0, "retail": 27.0, "delivery": 18.0}
COMPLAINTS: Final = {
    "telecom": (("outage", 3.0), ("billing", 3.0), ("churn", 2.0), ("rude", 1.0), ("refund", 1.0)),
    "energy": (("outage", 2.0), ("billing", 4.0), ("churn", 2.0), ("rude", 1.0), ("refund", 1.0)),
    "retail": (
        ("late", 3.0), ("damaged", 2.0), ("lost", 1.0), ("refund", 2.0), ("churn", 1.0),
        ("rude", 1.0),
    ),
    "delivery": (
        ("late", 3.0), ("lost", 2.0), ("damaged", 2.0), ("rude", 2.0), ("refund", 1.0),
        ("churn", 1.0),
    ),
}  # fmt: skip
INTENTS: Final = {
    "social": (
        ("complaint", 36.0), ("question", 15.0), ("request", 8.0), ("praise", 16.0),
        ("neutral", 15.0), ("spam", 6.0), ("toxic", 4.0),
    ),
    "review": (
        ("complaint", 45.0), ("praise", 36.0), ("neutral", 15.0), ("spam", 2.0), ("toxic", 2.0),
    ),
    "email": (("complaint", 62.0), ("question", 18.0), ("request", 14.0), ("praise", 6.0)),
    "blog": (("complaint", 45.0), ("praise", 30.0), ("neutral", 25.0)),
}  # fmt: skip
# Tone of an intent; every complaint sub-type and "toxic" are "neg".
TONE: Final = {
    "question": "ask", "request": "ask", "praise": "pos", "neutral": "neu", "spam": "spam",
}  # fmt: skip
# Relative volume per local hour (0-23), weekdays and weekends.
WEEKDAY_RHYTHM: Final = (
    0.6, 0.35, 0.2, 0.15, 0.15, 0.25, 0.6, 1.5, 3.0, 4.4, 5.4, 5.9,
    5.0, 4.6, 4.8, 4.6, 4.4, 4.7, 5.3, 5.9, 6.3, 6.0, 4.3, 2.2,
)  # fmt: skip
WEEKEND_RHYTHM: Final = (
    1.0, 0.7, 0.4, 0.25, 0.2, 0.2, 0.3, 0.6, 1.3, 2.4, 3.4, 4.0,
    4.1, 3.9, 3.7, 3.6, 3.6, 3.8, 4.1, 4.5, 4.9, 4.8, 3.8, 2.3,
)  # fmt: skip
# external_id prefix and first number per source.
ID_PREFIX: Final = {
    "twitter": ("tw", 1843520001), "facebook": ("fb", 5120004417), "instagram": ("ig", 3310000123),
    "mastodon": ("md", 1133000441), "bluesky": ("bs", 3100008821), "reddit": ("rd", 9100000077),
    "forum": ("fo", 410023), "blog": ("bl", 80311), "news": ("nw", 700141),
    "review": ("rv", 2200417), "email": ("em", 610000), "web": ("wb", 1000), "other": ("ot", 1000),
}  # fmt: skip
TEXT_LIMIT: Final = {"twitter": 280, "bluesky": 300, "mastodon": 500, "instagram": 900}
# URL patterns on fictional hosts. Keys: h (handle), host, num, code, page, sub, slug, sector, ym.
AUTHOR_URLS: Final = {
    "twitter": "https://x.example/{h}", "facebook": "https://facebook.example/{h}",
    "instagram": "https://instagram.example/{h}", "mastodon": "https://{host}/@{h}",
    "bluesky": "https://bsky.example/profile/{h}", "reddit": "https://reddit.example/user/{h}",
    "forum": "https://forum-conso.example/u/{h}", "blog": "https://{blog}.blog.example/",
    "news": "https://{host}/", "review": "https://etoiles-avis.example/membre/{h}",
}  # fmt: skip
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
        self, rng: random.Random, lang: str, when: datetime, sector: str, ref_prefix: str,
        formal_terms: Pool, social_terms: Pool, tags: Pool, *, formal: bool,
    ) -> None:  # fmt: skip
        super().__init__()
        self.rng, self.lang, self.when, self.sector, self.ref_prefix = (
            rng, lang, when, sector, ref_prefix,
        )  # fmt: skip
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
        f"{e['subject_word'][0]} {subject}", "", rng.choice(e["greeting"]), "",
        f"{intro} {problem}", "", ask, "", closing, signature,
    )  # fmt: skip
    return "\n".join(lines).format_map(ctx)


def email_followup(ctx: Placeholders, signature: str) -> str:
    """A reminder about an earlier e-mail that got no answer."""
    rng, e = ctx.rng, EMAIL[ctx.lang]
    lines = (
        f"{e['subject_word'][0]} {rng.choice(e['followup_subject'])}", "",
        rng.choice(e["greeting"]), "", f"{rng.choice(e['followup'])} {rng.choice(e['insist'])}",
        "", rng.choice(e["ask_complaint"]), "", rng.choice(e["closing"]), signature,
    )  # fmt: skip
    return "\n".join(lines).format_map(ctx)

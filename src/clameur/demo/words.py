"""Word lists for the synthetic demo mentions: people, places, products, handles, decorations.

Written for Clameur, not copied from any data set or website. ``Pool`` and ``ByKey`` are the
shapes shared by every template module of :mod:`clameur.demo`.
"""

from __future__ import annotations

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

"""Social-post bodies, per sector and generic, keyed by language and intent.

Written for Clameur, not copied from any data set or website. Every body template is a
``str.format`` pattern (see :mod:`clameur.demo.fragments`) and always contains ``{brand}``.
"""

from __future__ import annotations

from typing import Final

from clameur.demo.words import ByKey

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

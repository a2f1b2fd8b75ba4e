"""E-mail fragments: subjects, greetings, requests and closings, and per-sector complaint cases.

Written for Clameur, not copied from any data set or website. Templates are ``str.format``
patterns (see :mod:`clameur.demo.fragments`).
"""

from __future__ import annotations

from typing import Final

from clameur.demo.words import ByKey

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

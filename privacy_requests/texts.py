"""The request page's and emails' texts, per language (English is the fallback)."""

TEXTS = {
    "en": {
        "title": "Your privacy rights",
        "intro": "Ask {site} what it holds about you, or to delete it. It is free, and using your rights never "
        "changes how you are treated.",
        "what_happens": "What happens next: we email you a link to confirm the address (valid {hours} hours). "
        "Once you confirm, we answer within 45 days, by {due} at the latest; if we need more time we tell you why, "
        "once, and answer within another 45 days. Nothing is disclosed or deleted before you confirm.",
        "kind_legend": "What would you like?",
        "kinds": {
            "know": "A copy of the data about me (right to know)",
            "delete": "Delete the data about me (right to delete)",
            "correct": "Correct the data about me",
            "opt_out_marketing": "Stop marketing to me",
        },
        "email": "Your email address",
        "email_help": "We only use it to confirm the request and to answer.",
        "details": "Anything we should know (optional)",
        "browser_note": "This request includes the consent data of the browser you came from.",
        "agent_legend": "Filing for someone else? (authorized agent)",
        "agent_name": "Your name, as their agent",
        "agent_document": "Signed authorization (PDF, PNG or JPEG, at most 5 MB)",
        "submit": "Send request",
        "errors_title": "Please correct the following:",
        "thanks_title": "Check your email",
        "thanks": "We sent a confirmation link to {email}. Open it within {hours} hours to confirm your request. "
        "We will answer by {due}. Your reference: {reference}.",
        "verified_title": "Request confirmed",
        "verified": "Thank you. We will answer by {due}. Your reference: {reference}.",
        "problem_title": "This link cannot be used",
        "email_verify_subject": "Confirm your privacy request",
        "email_verify_body": "We received your request: {kind}.\n\nTo confirm that this address is yours, open this link "
        "within {hours} hours:\n{link}\n\nWe will answer by {due}. Nothing is disclosed or deleted before you confirm.\n"
        "If you did not make this request, ignore this email.\n\nReference: {reference}",
        "email_extended_subject": "Your privacy request needs more time",
        "email_extended_body": "We need more time to answer your request ({kind}) because: {reason}\n\n"
        "We will answer by {due}.\n\nReference: {reference}",
        "email_denied_subject": "Your privacy request",
        "email_denied_body": "We could not grant your request ({kind}) because: {reason}\n\nReference: {reference}",
        "email_fulfilled_subject": "Your privacy request is done",
        "email_fulfilled_body": "We have completed your request: {kind}.\n{link}\n\n"
        "(A download link, if any, works for {hours} hours.)\n\nReference: {reference}",
    },
    "fr": {
        "title": "Vos droits sur vos données",
        "intro": "Demandez à {site} quelles données il détient sur vous, ou leur suppression. C'est gratuit, et "
        "exercer vos droits ne change jamais la façon dont vous êtes traité.",
        "what_happens": "La suite : nous vous envoyons un lien pour confirmer l'adresse (valable {hours} heures). "
        "Après confirmation, nous répondons sous 45 jours, au plus tard le {due} ; s'il nous faut plus de temps, nous "
        "vous disons pourquoi, une seule fois, et répondons sous 45 jours de plus. Rien n'est communiqué ni supprimé "
        "avant votre confirmation.",
        "kind_legend": "Que souhaitez-vous ?",
        "kinds": {
            "know": "Une copie des données me concernant (droit d'accès)",
            "delete": "Supprimer les données me concernant (droit à l'effacement)",
            "correct": "Corriger les données me concernant",
            "opt_out_marketing": "Ne plus recevoir de prospection",
        },
        "email": "Votre adresse e-mail",
        "email_help": "Elle sert uniquement à confirmer la demande et à y répondre.",
        "details": "Précisions utiles (facultatif)",
        "browser_note": "Cette demande inclut les données de consentement du navigateur d'où vous venez.",
        "agent_legend": "Vous agissez pour quelqu'un d'autre ? (mandataire)",
        "agent_name": "Votre nom, en tant que mandataire",
        "agent_document": "Mandat signé (PDF, PNG ou JPEG, 5 Mo au plus)",
        "submit": "Envoyer la demande",
        "errors_title": "Merci de corriger ce qui suit :",
        "thanks_title": "Consultez vos e-mails",
        "thanks": "Nous avons envoyé un lien de confirmation à {email}. Ouvrez-le sous {hours} heures pour confirmer "
        "votre demande. Nous répondrons au plus tard le {due}. Votre référence : {reference}.",
        "verified_title": "Demande confirmée",
        "verified": "Merci. Nous répondrons au plus tard le {due}. Votre référence : {reference}.",
        "problem_title": "Ce lien ne peut pas être utilisé",
        "email_verify_subject": "Confirmez votre demande",
        "email_verify_body": "Nous avons reçu votre demande : {kind}.\n\nPour confirmer que cette adresse est la vôtre, "
        "ouvrez ce lien sous {hours} heures :\n{link}\n\nNous répondrons au plus tard le {due}. Rien n'est communiqué ni "
        "supprimé avant votre confirmation.\nSi vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n\n"
        "Référence : {reference}",
        "email_extended_subject": "Votre demande nécessite plus de temps",
        "email_extended_body": "Il nous faut plus de temps pour répondre à votre demande ({kind}) : {reason}\n\n"
        "Nous répondrons au plus tard le {due}.\n\nRéférence : {reference}",
        "email_denied_subject": "Votre demande",
        "email_denied_body": "Nous ne pouvons pas donner suite à votre demande ({kind}) : {reason}\n\nRéférence : {reference}",
        "email_fulfilled_subject": "Votre demande est traitée",
        "email_fulfilled_body": "Nous avons traité votre demande : {kind}.\n{link}\n\n"
        "(Un lien de téléchargement éventuel reste valable {hours} heures.)\n\nRéférence : {reference}",
    },
}


def for_language(language: str | None) -> dict:
    code = (language or "en").split("-")[0].lower()
    return TEXTS.get(code, TEXTS["en"])

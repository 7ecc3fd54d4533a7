package webui

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// Languages the pages are written in; French first, it is the default.
var languages = []string{"fr", "en"}

var langMatcher = language.NewMatcher([]language.Tag{language.French, language.English})

// catalog holds every user-facing sentence, French then English. Arguments are written {name}
// and filled by translate from name/value pairs.
var catalog = map[string][2]string{
	"text.invisible": {"Ce texte contient un caractère invisible ({detail}) qui peut inverser le sens de lecture ou déguiser un nom. Effacez-le : retapez le texte plutôt que de le copier-coller.",
		"This text contains an invisible character ({detail}) that can reverse the reading direction or disguise a name. Please remove it: type the text again rather than pasting it."},
	"site.name":       {"Espaces associatifs", "Association spaces"},
	"site.tagline":    {"Un espace Nextcloud gratuit pour votre association", "A free Nextcloud space for your association"},
	"site.footer":     {"Un service libre et gratuit, réservé aux associations et collectifs à but non lucratif.", "A free service, for non-profit associations and collectives only."},
	"nav.skip":        {"Aller au contenu", "Skip to content"},
	"nav.apply":       {"Demander un espace", "Apply for a space"},
	"nav.lost":        {"Retrouver ma demande", "Find my application"},
	"nav.queue":       {"Demandes", "Applications"},
	"nav.reasons":     {"Motifs de refus", "Rejection reasons"},
	"nav.dashboard":   {"Tableau de bord", "Dashboard"},
	"nav.logout":      {"Se déconnecter", "Log out"},
	"nav.main":        {"Navigation principale", "Main navigation"},
	"lang.other":      {"English", "Français"},
	"lang.other.code": {"en", "fr"},
	"lang.label":      {"Read in English", "Lire en français"},

	"apply.title":               {"Demander un espace pour votre association", "Apply for a space for your association"},
	"apply.intro":               {"Chaque association reçoit un espace Nextcloud gratuit : {storage} de stockage partagés entre {accounts} comptes au plus, pour vos fichiers, agendas et contacts. Une personne de l'équipe lit chaque demande ; comptez quelques jours.", "Each association gets a free Nextcloud space: {storage} of storage shared by at most {accounts} accounts, for your files, calendars and contacts. Someone from the team reads each application; allow a few days."},
	"apply.required_note":       {"Tous les champs sont obligatoires.", "Every field is required."},
	"apply.section.association": {"Votre association", "Your association"},
	"apply.section.address":     {"L'adresse de votre espace", "Your space's address"},
	"apply.section.contact":     {"La personne à contacter", "Who we should write to"},
	"apply.section.use":         {"Votre usage", "How you will use it"},
	"apply.submit":              {"Envoyer la demande", "Send the application"},
	"apply.errors":              {"Votre demande n'est pas encore partie. Corrigez {n} champ(s) signalé(s) ci-dessous ; tout ce que vous avez tapé est conservé.", "Your application has not been sent yet. Please correct the {n} field(s) marked below; everything you typed is kept."},
	"apply.ratelimited":         {"Trop de demandes sont parties de votre réseau dans l'heure. Réessayez un peu plus tard.", "Too many applications were sent from your network this hour. Please try again a little later."},
	"apply.sent.title":          {"Demande envoyée", "Application sent"},
	"apply.sent.text":           {"Si votre demande est complète, vous recevrez un e-mail avec le lien pour la suivre.", "If your application is complete, you will receive an email with the link to follow it."},

	"field.association_name":       {"Nom de l'association", "Name of the association"},
	"field.legal_id":               {"Numéro RNA ou SIREN", "RNA or SIREN number"},
	"field.legal_id.hint":          {"RNA : W suivi de 9 chiffres (W751234567). SIREN : 9 chiffres (123 456 789).", "RNA: W followed by 9 digits (W751234567). SIREN: 9 digits (123 456 789)."},
	"field.slug":                   {"Adresse souhaitée", "Address you would like"},
	"field.slug.hint":              {"3 à 40 lettres minuscules sans accent, chiffres ou tirets. Votre espace sera à l'adresse nom.{domain}", "3 to 40 lowercase letters without accents, digits or hyphens. Your space will be at name.{domain}"},
	"field.contact_name":           {"Votre nom", "Your name"},
	"field.contact_email":          {"Votre adresse e-mail", "Your email address"},
	"detail.contact_name":          {"Nom du contact", "Contact's name"},
	"detail.contact_email":         {"Adresse e-mail du contact", "Contact's email address"},
	"field.contact_email.hint":     {"Nous y enverrons le lien pour suivre votre demande.", "We will send the link to follow your application there."},
	"field.purpose":                {"Objet social", "Purpose of the association"},
	"field.purpose.hint":           {"Tel qu'il figure dans vos statuts.", "As written in your articles of association."},
	"field.activities":             {"Activités principales", "Main activities"},
	"field.activities.hint":        {"Ce que vous faites, et ce que vous ferez avec votre espace.", "What you do, and what you will do with your space."},
	"field.expected_accounts":      {"Nombre de comptes prévus", "Expected number of accounts"},
	"field.expected_accounts.hint": {"Au plus {accounts}.", "At most {accounts}."},
	"field.terms":                  {"J'accepte les conditions d'utilisation du service et je confirme agir au nom de l'association.", "I accept the service's terms of use and confirm that I act on behalf of the association."},
	"field.website":                {"Ne remplissez pas ce champ", "Leave this field empty"},
	"field.email":                  {"Adresse e-mail", "Email address"},
	"field.password":               {"Mot de passe", "Password"},
	"field.reply":                  {"Votre réponse", "Your answer"},
	"field.question":               {"Question à l'association", "Question for the association"},
	"field.reason":                 {"Motif", "Reason"},
	"field.note":                   {"Précision ajoutée au motif (facultatif)", "Note added to the reason (optional)"},
	"field.title":                  {"Titre (pour les modérateurs)", "Title (for moderators)"},
	"field.body_fr":                {"Texte envoyé en français", "Text sent in French"},
	"field.body_en":                {"Texte envoyé en anglais", "Text sent in English"},
	"field.position":               {"Ordre dans la liste", "Order in the list"},
	"field.archived":               {"Archivé : ne peut plus être choisi", "Archived: can no longer be picked"},
	"field.optional":               {"facultatif", "optional"},

	"err.required":       {"Ce champ est obligatoire.", "This field is required."},
	"err.too_long":       {"{max} caractères au plus.", "At most {max} characters."},
	"err.email":          {"Cette adresse e-mail ne semble pas valide (exemple : nom@association.org).", "This email address does not look valid (for example: name@association.org)."},
	"err.number":         {"Indiquez un nombre entier, en chiffres.", "Please give a whole number, in digits."},
	"err.range":          {"Un nombre entre 1 et {max}.", "A number between 1 and {max}."},
	"err.terms":          {"Cochez cette case pour envoyer la demande.", "Tick this box to send the application."},
	"err.text":           {"Ce texte contient des caractères qui ne peuvent pas être enregistrés.", "This text contains characters that cannot be saved."},
	"legal_id.format":    {"Ce n'est ni un numéro RNA (W suivi de 9 chiffres) ni un SIREN (9 chiffres).", "This is neither an RNA number (W followed by 9 digits) nor a SIREN (9 digits)."},
	"legal_id.checksum":  {"Ce numéro SIREN n'existe pas : vérifiez les chiffres (le dernier est une clé de contrôle).", "This SIREN number does not exist: check the digits (the last one is a check digit)."},
	"legal_id.siret":     {"Ceci est un SIRET (14 chiffres). Indiquez le SIREN, ses 9 premiers chiffres : {detail}.", "This is a SIRET (14 digits). Please give the SIREN, its first 9 digits: {detail}."},
	"slug.length":        {"Entre 3 et 40 caractères.", "Between 3 and 40 characters."},
	"slug.charset":       {"Seuls les lettres minuscules sans accent, les chiffres et le tiret sont possibles ; {detail} ne l'est pas.", "Only lowercase letters without accents, digits and the hyphen are possible; {detail} is not."},
	"slug.confusable":    {"Le caractère {detail} ressemble à une lettre latine mais n'en est pas une. Une adresse qui en imite une autre ne peut pas être acceptée : tapez-la avec un clavier français ou anglais.", "The character {detail} looks like a Latin letter but is not one. An address that imitates another cannot be accepted: please type it with a French or English keyboard."},
	"slug.hyphen":        {"Le tiret ne peut être ni au début, ni à la fin, ni doublé.", "A hyphen cannot come first, last, or twice in a row."},
	"slug.reserved":      {"Cette adresse est réservée au service ; choisissez-en une autre.", "This address is kept for the service; please choose another."},
	"slug.taken":         {"Cette adresse est déjà prise par un autre espace ou une demande en cours ; choisissez-en une autre.", "This address is already taken by another space or an open application; please choose another."},
	"slug.normalised":    {"Les adresses s'écrivent en minuscules, sans accents ni espaces : nous proposons « {slug} ». Vérifiez-la puis envoyez à nouveau.", "Addresses are written in lowercase, without accents or spaces: we suggest \"{slug}\". Check it, then send again."},
	"err.reply_required": {"Écrivez votre réponse avant de l'envoyer.", "Please write your answer before sending it."},

	"status.title":          {"Suivi de votre demande", "Your application"},
	"status.reference":      {"Demande n° {id}", "Application no. {id}"},
	"status.submitted_on":   {"envoyée le {date}", "sent on {date}"},
	"status.keep":           {"Gardez l'adresse de cette page pour vous : elle donne accès à votre demande sans mot de passe.", "Keep this page's address to yourself: it opens your application without a password."},
	"state.pending":         {"En attente d'examen", "Waiting for review"},
	"state.needs_info":      {"Nous attendons votre réponse", "Waiting for your answer"},
	"state.approved":        {"Acceptée", "Accepted"},
	"state.rejected":        {"Non retenue", "Not accepted"},
	"state.withdrawn":       {"Retirée", "Withdrawn"},
	"state.pending.help":    {"Une personne de l'équipe de modération va lire votre demande. Vous recevrez un e-mail à chaque étape.", "Someone from the moderation team will read your application. You will get an email at each step."},
	"state.needs_info.help": {"Nous avons une question : répondez ci-dessous, et l'examen de votre demande reprendra.", "We have a question: answer below, and the review of your application will resume."},
	"state.approved.help":   {"Votre demande est acceptée et votre espace est créé. Vous recevrez un e-mail quand il sera prêt.", "Your application is accepted and your space is created. You will get an email when it is ready."},
	"state.rejected.help":   {"Votre demande n'a pas été retenue, pour la raison suivante :", "Your application was not accepted, for this reason:"},
	"state.withdrawn.help":  {"Cette demande est retirée ; elle ne sera pas examinée.", "This application is withdrawn; it will not be reviewed."},
	"status.erased":         {"Les données de cette demande seront effacées le {date}.", "The data of this application will be erased on {date}."},
	"status.space":          {"Votre espace", "Your space"},
	"status.space.address":  {"Adresse", "Address"},
	"status.space.state":    {"État", "State"},
	"space.queued":          {"En attente de préparation", "Waiting to be prepared"},
	"space.provisioning":    {"En préparation", "Being prepared"},
	"space.active":          {"Prêt", "Ready"},
	"space.suspended":       {"Suspendu", "Suspended"},
	"space.deleting":        {"En cours de suppression", "Being deleted"},
	"space.deleted":         {"Supprimé", "Deleted"},
	"space.failed":          {"Préparation interrompue", "Preparation interrupted"},

	// What the applicant's status page says of the space, in plain words. Never the internal reason.
	"status.space.queued.waiting":    {"Votre espace est en file d'attente : {n} espace(s) avant le vôtre. Il sera préparé automatiquement dès qu'une place se libère.", "Your space is in the waiting line: {n} space(s) ahead of yours. It will be prepared automatically as soon as a place frees up."},
	"status.space.queued.next":       {"Votre espace est le prochain dans la file d'attente. Il sera préparé automatiquement dès qu'une place se libère.", "Your space is next in the waiting line. It will be prepared automatically as soon as a place frees up."},
	"status.space.queued.soon":       {"Votre espace va être préparé dans quelques instants. Vous recevrez un e-mail dès qu'il sera prêt.", "Your space will be prepared in a few moments. You will get an email as soon as it is ready."},
	"status.space.provisioning.text": {"Votre espace est en cours de préparation ; cela prend en général quelques minutes. Vous recevrez un e-mail dès qu'il sera prêt.", "Your space is being prepared; this usually takes a few minutes. You will get an email as soon as it is ready."},
	"status.space.active.text":       {"Votre espace est prêt. Les informations pour vous connecter vous ont été envoyées par e-mail.", "Your space is ready. The details to log in were sent to you by email."},
	"status.space.open":              {"Ouvrir mon espace", "Open my space"},
	"status.space.suspended.text":    {"Votre espace est suspendu : il affiche une page de maintenance, et rien n'y est effacé. Nous avons écrit au contact de l'association pour en donner la raison.", "Your space is suspended: it shows a maintenance page, and nothing in it is erased. We wrote to the association's contact to give the reason."},
	"status.space.deleting.text":     {"Votre espace est fermé et sera effacé à la fin du délai annoncé par e-mail au contact de l'association ; d'ici là, l'équipe peut le rétablir tel qu'il était.", "Your space is closed and will be erased at the end of the period given by mail to the association's contact; until then, the team can bring it back as it was."},
	"status.space.deleted.text":      {"Votre espace a été supprimé.", "Your space has been deleted."},
	"status.space.failed.text":       {"Un problème est survenu pendant la préparation de votre espace. Il est consigné pour notre équipe, qui relancera la préparation ; vous n'avez rien à faire.", "A problem occurred while preparing your space. It is recorded for our team, who will retry; there is nothing you need to do."},
	"status.details":                 {"Ce que vous avez envoyé", "What you sent"},
	"status.history":                 {"Historique", "History"},
	"status.conversation":            {"Échanges", "Messages"},
	"status.reply.title":             {"Répondre à l'équipe", "Answer the team"},
	"status.reply.submit":            {"Envoyer la réponse", "Send the answer"},
	"status.withdraw.summary":        {"Retirer ma demande", "Withdraw my application"},
	"status.withdraw.text":           {"Une demande retirée n'est pas examinée ; vous pourrez en envoyer une nouvelle plus tard.", "A withdrawn application is not reviewed; you may send a new one later."},
	"status.withdraw.submit":         {"Retirer définitivement ma demande", "Withdraw my application for good"},
	"done.submitted":                 {"Votre demande est envoyée. Un e-mail part vers {email} avec l'adresse de cette page.", "Your application is sent. An email is on its way to {email} with this page's address."},
	"done.reply":                     {"Votre réponse est envoyée : votre demande reprend sa place dans la file.", "Your answer is sent: your application goes back to its place in the queue."},
	"done.withdraw":                  {"Votre demande est retirée.", "Your application is withdrawn."},
	"status.moved":                   {"Cette demande a changé entre-temps ; voici son état actuel.", "This application changed meanwhile; here is where it stands now."},
	"msg.moderator":                  {"L'équipe de modération", "The moderation team"},
	"msg.applicant":                  {"Vous", "You"},
	"msg.applicant.mod":              {"L'association", "The association"},

	// The applicant's history: what happened, never who in the team did it nor internal reasons.
	"history.application.submit":          {"Demande envoyée", "Application sent"},
	"history.application.ask_info":        {"L'équipe a posé une question", "The team asked a question"},
	"history.application.reply":           {"Réponse envoyée", "Answer sent"},
	"history.application.approve":         {"Demande acceptée", "Application accepted"},
	"history.application.reject":          {"Demande non retenue", "Application not accepted"},
	"history.application.withdraw":        {"Demande retirée", "Application withdrawn"},
	"history.application.link":            {"Nouveau lien de suivi utilisé", "New status link used"},
	"history.application.link_mailed":     {"Nouveau lien de suivi envoyé", "New status link sent"},
	"history.application.resubmit":        {"Formulaire envoyé de nouveau avec votre adresse : un lien vous a été envoyé", "Form sent again with your address: a link was mailed to you"},
	"history.space.create":                {"Espace créé, en attente de préparation", "Space created, waiting to be prepared"},
	"history.space.queued":                {"De nouveau en attente de préparation", "Waiting to be prepared again"},
	"history.space.provision":             {"Préparation commencée", "Preparation started"},
	"history.space.activate":              {"Espace prêt", "Space ready"},
	"history.space.resume":                {"Espace de nouveau accessible", "Space available again"},
	"history.space.fail":                  {"Préparation interrompue", "Preparation interrupted"},
	"history.space.retry":                 {"Préparation relancée par l'équipe", "Preparation restarted by the team"},
	"history.space.suspended":             {"Espace suspendu", "Space suspended"},
	"history.space.deleting":              {"Suppression demandée", "Deletion requested"},
	"history.space.deleted":               {"Espace supprimé", "Space deleted"},
	"history.space.resize":                {"Limites de votre espace modifiées", "Your space's limits changed"},
	"history.space.resize.limits":         {"Nouvelles limites de votre espace : {limits}", "New limits for your space: {limits}"},
	"history.space.storage_level.up.80":   {"Stockage de votre espace au-delà de 80\u00a0%", "Your space's storage over 80%"},
	"history.space.storage_level.up.90":   {"Stockage de votre espace au-delà de 90\u00a0%", "Your space's storage over 90%"},
	"history.space.storage_level.up.full": {"Stockage de votre espace plein", "Your space's storage full"},
	"history.space.storage_level.down.ok": {"Stockage de votre espace revenu sous 80\u00a0%", "Your space's storage back under 80%"},
	"history.space.storage_level.down.80": {"Stockage de votre espace revenu sous 90\u00a0%", "Your space's storage back under 90%"},
	"history.space.storage_level.down.90": {"Stockage de votre espace revenu sous sa limite", "Your space's storage back under its limit"},

	"lost.title":       {"Retrouver ma demande", "Find my application"},
	"lost.intro":       {"Indiquez l'adresse e-mail donnée dans votre demande : nous y enverrons un nouveau lien vers votre page de suivi. L'ancien lien fonctionne jusqu'à ce que vous ouvriez le nouveau.", "Give the email address you used in your application: we will send a new link to your status page there. The old link keeps working until you open the new one."},
	"lost.submit":      {"Envoyer un nouveau lien", "Send a new link"},
	"lost.ratelimited": {"Trop de demandes de lien sont parties de votre réseau. Réessayez plus tard.", "Too many link requests came from your network. Please try again later."},
	"lost.sent":        {"Si une demande utilise cette adresse, un nouveau lien vient d'y être envoyé. Pensez à regarder dans les indésirables.", "If an application uses this address, a new link has just been sent there. Remember to look in your spam folder."},

	"error.title":         {"Une erreur est survenue", "Something went wrong"},
	"error.text":          {"Nous n'avons pas pu traiter votre demande. L'erreur est notée de notre côté ; réessayez dans un moment. Référence : {ref}", "We could not handle your request. The error is logged on our side; please try again in a moment. Reference: {ref}"},
	"error.notfound":      {"Page introuvable", "Page not found"},
	"error.notfound.text": {"Cette adresse ne mène à rien. Vérifiez qu'elle est complète.", "This address leads nowhere. Check that it is complete."},
	"error.badlink":       {"Ce lien ne fonctionne pas", "This link does not work"},
	"error.badlink.text":  {"Le lien est peut-être incomplet, ou un lien plus récent l'a remplacé. Les demandes refusées ou retirées sont effacées au bout de {days} jours.", "The link may be incomplete, or a newer link replaced it. Rejected or withdrawn applications are erased after {days} days."},
	"error.csrf":          {"Le formulaire a expiré", "The form has expired"},
	"error.csrf.text":     {"Pour votre sécurité, ce formulaire n'est plus valable et rien n'a été enregistré. Revenez en arrière, rechargez la page, puis envoyez à nouveau.", "For your safety this form is no longer valid and nothing was saved. Go back, reload the page, then send again."},
	"error.toolarge":      {"Ce formulaire est trop volumineux", "This form is too large"},
	"error.toolarge.text": {"Raccourcissez vos textes puis envoyez à nouveau.", "Please shorten your texts, then send again."},
	"error.ratelimited":   {"Trop de tentatives", "Too many attempts"},
	"error.home":          {"Retour à l'accueil", "Back to the home page"},

	"login.title":       {"Connexion de l'équipe de modération", "Moderation team login"},
	"login.submit":      {"Se connecter", "Log in"},
	"login.failed":      {"Adresse e-mail ou mot de passe incorrect.", "Wrong email address or password."},
	"login.ratelimited": {"Trop de tentatives de connexion pour ce compte ou depuis votre réseau. Réessayez plus tard.", "Too many login attempts for this account or from your network. Please try again later."},
	"login.busy":        {"Le service est très sollicité. Réessayez dans quelques secondes.", "The service is very busy. Please try again in a few seconds."},
	"login.expired":     {"Votre session a pris fin : reconnectez-vous.", "Your session has ended: please log in again."},

	"queue.title":        {"Demandes", "Applications"},
	"queue.counts":       {"Nombre de demandes par état", "Applications by state"},
	"queue.all":          {"Toutes", "All"},
	"queue.state":        {"État", "State"},
	"queue.claimed":      {"Prise en charge", "Claim"},
	"queue.claimed.any":  {"Peu importe", "Any"},
	"queue.claimed.mine": {"Par moi", "Mine"},
	"queue.claimed.free": {"Libres", "Unclaimed"},
	"queue.search":       {"Rechercher", "Search"},
	"queue.search.hint":  {"Nom, adresse, RNA/SIREN ou e-mail", "Name, address, RNA/SIREN or email"},
	"queue.filter":       {"Filtrer", "Filter"},
	"queue.empty":        {"Aucune demande ne correspond.", "No application matches."},
	"queue.next":         {"Page suivante", "Next page"},
	"queue.first":        {"Première page", "First page"},
	"queue.order.asc":    {"Les plus anciennes d'abord.", "Oldest first."},
	"queue.order.desc":   {"Les plus récentes d'abord.", "Newest first."},
	"col.ref":            {"N°", "No."},
	"col.association":    {"Association", "Association"},
	"col.slug":           {"Adresse", "Address"},
	"col.legal_id":       {"RNA/SIREN", "RNA/SIREN"},
	"col.submitted":      {"Reçue le", "Received"},
	"col.state":          {"État", "State"},
	"col.claim":          {"Prise en charge", "Claim"},
	"claim.by":           {"{name}, jusqu'à {time}", "{name}, until {time}"},
	"claim.none":         {"libre", "unclaimed"},
	"detail.title":       {"Demande n° {id}", "Application no. {id}"},
	"detail.back":        {"Retour aux demandes", "Back to the applications"},
	"detail.fields":      {"La demande", "The application"},
	"detail.submitted":   {"Reçue le", "Received"},
	"detail.locale":      {"Langue", "Language"},
	"detail.space":       {"Espace", "Space"},

	"detail.space.address":         {"Adresse", "Address"},
	"detail.space.state":           {"État", "State"},
	"detail.space.since":           {"depuis le {when}", "since {when}"},
	"detail.space.queue":           {"File d'attente", "Waiting list"},
	"detail.space.queue.ceiling":   {"n° {pos} dans la file ; {inuse} place(s) occupée(s) sur {capacity}", "no. {pos} on the waiting list; {inuse} of {capacity} places taken"},
	"detail.space.queue.noceiling": {"n° {pos} dans la file (pas de plafond)", "no. {pos} on the waiting list (no ceiling)"},
	"detail.space.limits":          {"Limites", "Limits"},
	"detail.space.limits.value":    {"{storage}, {accounts} comptes", "{storage}, {accounts} accounts"},
	"detail.space.failure":         {"La préparation a échoué :", "Provisioning failed:"},
	"detail.space.failure.none":    {"Aucune raison enregistrée ; voir le journal du service.", "No reason recorded; see the service's log."},
	"detail.space.retry.help":      {"Relancer remet l'espace en file d'attente et reprend la préparation là où elle s'est arrêtée.", "Retrying puts the space back on the waiting list and resumes provisioning from where it stopped."},
	"detail.space.conditions":      {"Conditions observées", "Observed conditions"},
	"detail.space.conditions.none": {"Aucune condition observée pour l'instant.", "No condition observed yet."},
	"cond.since":                   {"depuis le {when}", "since {when}"},
	"space.state.queued":           {"En file d'attente", "Queued"},
	"space.state.provisioning":     {"En préparation", "Provisioning"},
	"space.state.active":           {"Actif", "Active"},
	"space.state.suspended":        {"Suspendu", "Suspended"},
	"space.state.deleting":         {"En suppression", "Deleting"},
	"space.state.deleted":          {"Supprimé", "Deleted"},
	"space.state.failed":           {"En échec", "Failed"},
	"action.retry":                 {"Relancer la préparation", "Retry provisioning"},
	"done.retry":                   {"Préparation relancée : l'espace est de nouveau en file d'attente.", "Provisioning retried: the space is back on the waiting list."},
	"err.space_not_failed":         {"Seul un espace en échec peut être relancé ; celui-ci est maintenant « {state} ».", "Only a failed space can be retried; this one is now \"{state}\"."},

	// A space's usage as moderators read it: the association's figures, never "your".
	"usage.title":                   {"Utilisation", "Usage"},
	"usage.storage":                 {"Stockage de l'association", "The association's storage"},
	"usage.storage.value":           {"{used} sur {limit} ({percent})", "{used} of {limit} ({percent})"},
	"usage.percent":                 {"{n}\u00a0%", "{n}%"},
	"usage.level.80":                {"seuil des 80\u00a0% atteint, l'association est prévenue", "80% threshold reached, the association was told"},
	"usage.level.90":                {"seuil des 90\u00a0% atteint, l'association est prévenue", "90% threshold reached, the association was told"},
	"usage.level.full":              {"plein : les envois de fichiers sont refusés", "full: file uploads are refused"},
	"usage.level.name.ok":           {"sous 80\u00a0%", "under 80%"},
	"usage.level.name.80":           {"80\u00a0% atteints", "80% reached"},
	"usage.level.name.90":           {"90\u00a0% atteints", "90% reached"},
	"usage.level.name.full":         {"plein", "full"},
	"usage.accounts":                {"Comptes", "Accounts"},
	"usage.accounts.value.one":      {"{n} compte sur {max}", "{n} of {max} accounts"},
	"usage.accounts.value.other":    {"{n} comptes sur {max}", "{n} of {max} accounts"},
	"usage.accounts.disabled.one":   {"(et {n} désactivé)", "(and {n} disabled)"},
	"usage.accounts.disabled.other": {"(et {n} désactivés)", "(and {n} disabled)"},
	"usage.accounts.full":           {"limite atteinte : aucun compte de plus", "limit reached: no more accounts"},
	"usage.active":                  {"Personnes actives", "Active users"},
	"usage.active.value":            {"{day} sur les dernières 24 heures, {month} sur le dernier mois", "{day} in the last 24 hours, {month} in the last month"},
	"usage.measured":                {"Dernière mesure", "Last measured"},
	"usage.stale":                   {"Chiffres du {when} — l'espace ne répond plus depuis le {since} : {reason}", "Figures from {when} — not reachable since {since}: {reason}"},
	"usage.stale.never":             {"Jamais mesuré — l'espace ne répond pas depuis le {since} : {reason}", "Never measured — not reachable since {since}: {reason}"},
	"usage.never":                   {"Pas encore mesuré : le service mesure régulièrement chaque espace actif.", "Not measured yet: the service measures every active space regularly."},
	"usage.chart.title":             {"Stockage utilisé du {from} au {to}", "Storage used from {from} to {to}"},
	"usage.chart.desc":              {"De {first} à {last} ; au plus haut {max}, le {maxday}. Limite : {limit}.", "From {first} to {last}; highest {max}, on {maxday}. Limit: {limit}."},
	"usage.chart.limit":             {"limite {limit}", "limit {limit}"},
	"usage.chart.table":             {"Les chiffres jour par jour", "The figures day by day"},
	"usage.chart.day":               {"Jour", "Day"},
	"usage.chart.used":              {"Stockage utilisé (le plus haut du jour)", "Storage used (the day's highest)"},
	"usage.chart.accounts":          {"Comptes actifs", "Enabled accounts"},
	"usage.chart.active":            {"Personnes actives", "Active users"},

	// Conditions in plain words: cond.<Type>.<Reason> first, then cond.<Type>.<Status>.
	"cond.other":                             {"{type} : {status}", "{type}: {status}"},
	"cond.status.True":                       {"oui", "yes"},
	"cond.status.False":                      {"non", "no"},
	"cond.status.Unknown":                    {"inconnu", "unknown"},
	"cond.DatabaseReady.True":                {"Base de données prête", "Database ready"},
	"cond.DatabaseReady.False":               {"Base de données pas prête", "Database not ready"},
	"cond.SecretsStored.True":                {"Secrets enregistrés", "Secrets stored"},
	"cond.SecretsStored.False":               {"Secrets pas enregistrés", "Secrets not stored"},
	"cond.JobRegistered.True":                {"Tâche Nomad enregistrée", "Nomad job registered"},
	"cond.JobRegistered.False":               {"Tâche Nomad pas enregistrée", "Nomad job not registered"},
	"cond.Healthy.True":                      {"Nextcloud répond", "Nextcloud answers"},
	"cond.Healthy.False":                     {"Nextcloud ne répond pas", "Nextcloud does not answer"},
	"cond.Bootstrapped.True":                 {"Premier compte de l'association créé", "The association's first account created"},
	"cond.Bootstrapped.False":                {"Premier compte de l'association pas encore créé", "The association's first account not created yet"},
	"cond.Ready.True":                        {"Espace en service", "Space in service"},
	"cond.Ready.False":                       {"Préparation interrompue", "Provisioning interrupted"},
	"cond.Drifted.False":                     {"La tâche Nomad est conforme à ce qui est décidé", "The Nomad job matches what was decided"},
	"cond.Drifted.True":                      {"La tâche Nomad diffère de ce qui est décidé", "The Nomad job differs from what was decided"},
	"cond.Drifted.NewGeneration":             {"Nouvelle version de la tâche Nomad en cours d'application", "A new version of the Nomad job is being applied"},
	"cond.Drifted.JobMissing":                {"La tâche Nomad avait disparu : le service la réenregistre", "The Nomad job had disappeared: the service registers it again"},
	"cond.Drifted.JobStopped":                {"La tâche Nomad a été arrêtée hors du service : il la relance", "The Nomad job was stopped outside the service: it starts it again"},
	"cond.Drifted.JobEdited":                 {"La tâche Nomad a été modifiée hors du service : il la remet comme décidé", "The Nomad job was changed outside the service: it puts it back as decided"},
	"cond.Drifted.JobIDTaken":                {"Une autre tâche Nomad porte le nom de cet espace ; le service n'y touche pas", "Another Nomad job has this space's name; the service leaves it alone"},
	"cond.Drifted.TemplateBroken":            {"Le modèle de tâche Nomad ne peut pas être produit pour cet espace", "The Nomad job template cannot be rendered for this space"},
	"cond.StorageWithinLimit.WithinLimit":    {"Stockage de l'association sous 80\u00a0% de sa limite", "The association's storage is under 80% of its limit"},
	"cond.StorageWithinLimit.Above80Percent": {"Stockage de l'association au-delà de 80\u00a0% de sa limite", "The association's storage is past 80% of its limit"},
	"cond.StorageWithinLimit.Above90Percent": {"Stockage de l'association au-delà de 90\u00a0% de sa limite", "The association's storage is past 90% of its limit"},
	"cond.StorageWithinLimit.OverQuota":      {"Stockage de l'association plein : les envois de fichiers sont refusés", "The association's storage is full: file uploads are refused"},
	"cond.StorageWithinLimit.True":           {"Stockage de l'association dans sa limite", "The association's storage is within its limit"},
	"cond.StorageWithinLimit.False":          {"Stockage de l'association au-delà de sa limite", "The association's storage is past its limit"},
	"cond.AccountsWithinLimit.True":          {"Comptes actifs dans la limite", "Enabled accounts within the limit"},
	"cond.AccountsWithinLimit.False":         {"Plus de comptes actifs que la limite", "More enabled accounts than the limit"},
	"cond.UsageCollected.True":               {"Utilisation mesurée", "Usage measured"},
	"cond.UsageCollected.False":              {"Utilisation pas mesurée : l'espace ne répond pas", "Usage not measured: the space does not answer"},

	// The moderators' history, one sentence an entry; {actor} is who did it.
	"audit.line.application.submit":           {"{actor} a envoyé sa demande", "{actor} sent its application"},
	"audit.line.application.claim":            {"{actor} a pris la demande en charge", "{actor} claimed the application"},
	"audit.line.application.claim.until":      {"{actor} a pris la demande en charge jusqu'à {time}", "{actor} claimed the application until {time}"},
	"audit.line.application.claim.until_date": {"{actor} a pris la demande en charge jusqu'au {when}", "{actor} claimed the application until {when}"},
	"audit.line.application.release":          {"{actor} a libéré la demande", "{actor} released the application"},
	"audit.line.application.approve":          {"{actor} a accepté la demande", "{actor} approved the application"},
	"audit.line.application.reject":           {"{actor} a refusé la demande", "{actor} rejected the application"},
	"audit.line.application.reject.reason":    {"{actor} a refusé la demande, motif «\u00a0{reason}\u00a0»", "{actor} rejected the application, reason \"{reason}\""},
	"audit.line.application.ask_info":         {"{actor} a demandé des précisions à l'association", "{actor} asked the association for more information"},
	"audit.line.application.reply":            {"{actor} a répondu à la question", "{actor} answered the question"},
	"audit.line.application.withdraw":         {"{actor} a retiré sa demande", "{actor} withdrew its application"},
	"audit.line.application.link":             {"{actor} a ouvert un nouveau lien de suivi, l'ancien ne fonctionne plus", "{actor} opened a new status link, the old one no longer works"},
	"audit.line.application.link_mailed":      {"un nouveau lien de suivi a été demandé et envoyé au contact", "a new status link was requested and mailed to the contact"},
	"audit.line.application.resubmit":         {"le formulaire a été envoyé de nouveau avec l'adresse du contact : rien d'enregistré, un lien envoyé au contact", "the form was sent again with the contact's address: nothing recorded, a link mailed to the contact"},
	"audit.line.space.create":                 {"{actor} a créé l'espace", "{actor} created the space"},
	"audit.line.space.queued":                 {"{actor} a remis l'espace en file d'attente", "{actor} put the space back on the waiting list"},
	"audit.line.space.provision":              {"{actor} a commencé à préparer l'espace", "{actor} started provisioning the space"},
	"audit.line.space.activate":               {"l'espace est prêt", "the space is ready"},
	"audit.line.space.resume":                 {"{actor} a réactivé l'espace", "{actor} reactivated the space"},
	"audit.line.space.fail":                   {"l'espace a échoué", "the space failed"},
	"audit.line.space.fail.reason":            {"l'espace a échoué : {reason}", "the space failed: {reason}"},
	"audit.line.space.retry":                  {"{actor} a relancé l'espace", "{actor} retried provisioning the space"},
	"audit.line.space.suspended":              {"{actor} a suspendu l'espace", "{actor} suspended the space"},
	"audit.line.space.deleting":               {"{actor} a demandé la suppression de l'espace", "{actor} asked for the space to be deleted"},
	"audit.line.space.deleted":                {"l'espace est supprimé", "the space is deleted"},
	"audit.line.space.resize":                 {"{actor} a changé les limites de l'espace", "{actor} changed the space's limits"},
	"audit.line.space.resize.limits":          {"{actor} a changé les limites de l'espace : {from} → {to}", "{actor} changed the space's limits: {from} → {to}"},
	"audit.line.space.storage_level":          {"le niveau de stockage de l'association a changé", "the association's storage level changed"},
	"audit.line.space.storage_level.up.80":    {"stockage de l'association au-delà de 80\u00a0%", "the association's storage is over 80%"},
	"audit.line.space.storage_level.up.90":    {"stockage de l'association au-delà de 90\u00a0%", "the association's storage is over 90%"},
	"audit.line.space.storage_level.up.full":  {"stockage de l'association plein", "the association's storage is full"},
	"audit.line.space.storage_level.down.ok":  {"stockage de l'association revenu sous 80\u00a0%", "the association's storage is back under 80%"},
	"audit.line.space.storage_level.down.80":  {"stockage de l'association revenu sous 90\u00a0%", "the association's storage is back under 90%"},
	"audit.line.space.storage_level.down.90":  {"stockage de l'association revenu sous sa limite", "the association's storage is back under its limit"},
	"audit.storage.figures":                   {"{used} utilisés sur {limit}", "{used} used of {limit}"},
	"audit.line.generic.states":               {"{actor} a fait passer {subject} de «\u00a0{from}\u00a0» à «\u00a0{to}\u00a0»", "{actor} moved {subject} from \"{from}\" to \"{to}\""},
	"audit.line.generic.to":                   {"{actor} a fait passer {subject} à «\u00a0{to}\u00a0»", "{actor} moved {subject} to \"{to}\""},
	"audit.line.generic":                      {"{actor} a modifié {subject}", "{actor} changed {subject}"},
	"audit.subject.application":               {"la demande", "the application"},
	"audit.subject.space":                     {"l'espace", "the space"},
	"audit.subject.other":                     {"une fiche", "a record"},

	// A second application with the same legal identifier names the first.
	"audit.key.possible_duplicate_of": {"doublon possible de la demande n°", "possible duplicate of application no."},

	// Audit details in the history.
	"audit.pair":            {"{key} : {value}", "{key}: {value}"},
	"audit.yes":             {"oui", "yes"},
	"audit.no":              {"non", "no"},
	"audit.key.slug":        {"adresse", "address"},
	"audit.key.limits":      {"limites", "limits"},
	"audit.key.from":        {"avant", "before"},
	"audit.key.to":          {"après", "after"},
	"audit.key.reason":      {"motif", "reason"},
	"audit.key.reason_id":   {"n° du motif", "reason no."},
	"audit.key.until":       {"jusqu'au", "until"},
	"audit.key.used_bytes":  {"utilisé", "used"},
	"audit.key.limit_bytes": {"limite", "limit"},
	"audit.key.title":       {"titre", "title"},
	"audit.key.archived":    {"archivé", "archived"},
	"audit.key.email":       {"e-mail", "email"},
	"audit.key.name":        {"nom", "name"},

	// The moderators' dashboard.
	"dash.title":                 {"Tableau de bord", "Dashboard"},
	"dash.intro":                 {"Tous les espaces d'un coup d'œil, d'après les dernières mesures du service.", "Every space at a glance, from the service's latest measurements."},
	"dash.spaces":                {"Espaces", "Spaces"},
	"dash.spaces.help":           {"hors espaces supprimés", "not counting deleted spaces"},
	"dash.storage":               {"Stockage", "Storage"},
	"dash.storage.value":         {"{used} utilisés sur {allocated} attribués", "{used} used of {allocated} allocated"},
	"dash.storage.none":          {"Aucun espace actif ou suspendu.", "No active or suspended space."},
	"dash.storage.help":          {"Espaces actifs et suspendus, d'après leur dernière mesure.", "Active and suspended spaces, as last measured."},
	"dash.accounts":              {"Comptes", "Accounts"},
	"dash.accounts.value.one":    {"compte actif sur {max} possibles", "enabled account of {max} allowed"},
	"dash.accounts.value.other":  {"comptes actifs sur {max} possibles", "enabled accounts of {max} allowed"},
	"dash.accounts.help":         {"Dans les espaces actifs et suspendus.", "In active and suspended spaces."},
	"dash.watch":                 {"À surveiller", "To watch"},
	"dash.stale.one":             {"{n} espace actif ne répond plus : ses chiffres datent de sa dernière mesure.", "{n} active space is not reachable: its figures are from its last measurement."},
	"dash.stale.other":           {"{n} espaces actifs ne répondent plus : leurs chiffres datent de leur dernière mesure.", "{n} active spaces are not reachable: their figures are from their last measurement."},
	"dash.unmeasured.one":        {"{n} espace actif pas encore mesuré.", "{n} active space not measured yet."},
	"dash.unmeasured.other":      {"{n} espaces actifs pas encore mesurés.", "{n} active spaces not measured yet."},
	"dash.orphans.one":           {"{n} tâche Nomad semble être celle d'un espace mais n'appartient à aucun : à signaler aux opérateurs.", "{n} Nomad job looks like a space's but belongs to none: tell the operators."},
	"dash.mail_dropped.one":      {"{n} e-mail n'a pas pu être envoyé ces 30 derniers jours, après une journée d'essais : le journal du serveur dit pourquoi.", "{n} mail could not be sent in the last 30 days, after a day of tries: the server log says why."},
	"dash.mail_dropped.other":    {"{n} e-mails n'ont pas pu être envoyés ces 30 derniers jours, après une journée d'essais : le journal du serveur dit pourquoi.", "{n} mails could not be sent in the last 30 days, after a day of tries: the server log says why."},
	"dash.pending_overdue.one":   {"{n} demande attend une décision depuis plus de 30 jours.", "{n} application has been waiting for a decision for more than 30 days."},
	"dash.pending_overdue.other": {"{n} demandes attendent une décision depuis plus de 30 jours.", "{n} applications have been waiting for a decision for more than 30 days."},
	"dash.orphans.other":         {"{n} tâches Nomad semblent être celles d'espaces mais n'appartiennent à aucun : à signaler aux opérateurs.", "{n} Nomad jobs look like spaces' but belong to none: tell the operators."},
	"dash.nothing":               {"Rien à signaler : tous les espaces actifs sont mesurés.", "Nothing to report: every active space is measured."},
	"dash.near":                  {"Espaces proches de leurs limites", "Spaces near their limits"},
	"dash.near.help":             {"Stockage à 80\u00a0% ou plus, ou autant de comptes actifs que permis ; les plus remplis d'abord.", "Storage at 80% or more, or as many enabled accounts as allowed; the fullest first."},
	"dash.near.more":             {"Les {shown} plus remplis sont affichés, sur {total}.", "The {shown} fullest are shown, of {total}."},
	"dash.near.none":             {"Aucun espace n'approche de ses limites.", "No space is near its limits."},

	"detail.duplicates":    {"Doublons possibles", "Possible duplicates"},
	"detail.dup.none":      {"Aucune autre demande avec le même identifiant, la même adresse e-mail ou un nom proche.", "No other application with the same identifier, email address or a similar name."},
	"dup.same_legal_id":    {"même RNA/SIREN", "same RNA/SIREN"},
	"dup.same_email":       {"même e-mail", "same email"},
	"dup.similar_name":     {"nom proche", "similar name"},
	"detail.history":       {"Historique", "History"},
	"detail.decide":        {"Décider", "Decide"},
	"detail.claimed.you":   {"Vous vous occupez de cette demande jusqu'à {time}.", "You are working on this application until {time}."},
	"detail.claimed.other": {"{name} s'occupe de cette demande jusqu'à {time}.", "{name} is working on this application until {time}."},
	"detail.closed":        {"Cette demande est close : {state}.", "This application is closed: {state}."},
	"action.claim":         {"Prendre en charge", "Claim"},
	"action.release":       {"Libérer", "Release"},
	"action.approve":       {"Accepter et créer l'espace", "Approve and create the space"},
	"action.approve.help":  {"L'espace {address} sera créé avec {storage} et {accounts} comptes, puis préparé.", "The space {address} will be created with {storage} and {accounts} accounts, then prepared."},
	"action.reject":        {"Refuser", "Reject"},
	"action.ask":           {"Demander des précisions", "Ask for more information"},
	"done.claim":           {"Demande prise en charge.", "Application claimed."},
	"done.release":         {"Demande libérée.", "Application released."},
	"done.approve":         {"Demande acceptée : l'espace est créé et sa préparation est lancée.", "Application approved: the space is created and its preparation started."},
	"done.reject":          {"Demande refusée ; l'association est prévenue.", "Application rejected; the association has been told."},
	"done.ask":             {"Question envoyée à l'association.", "Question sent to the association."},
	"done.reason":          {"Motif enregistré.", "Reason saved."},
	"err.claimed":          {"{name} s'occupe de cette demande jusqu'à {time}.", "{name} is working on this application until {time}."},
	"err.decided":          {"Cette demande a changé entre-temps : elle est maintenant « {state} ».", "This application changed meanwhile: it is now \"{state}\"."},
	"err.slug_in_use":      {"Un espace porte déjà l'adresse {slug}. Refusez la demande ou demandez une autre adresse.", "A space already has the address {slug}. Reject the application or ask for another address."},
	"err.question":         {"Écrivez la question (4000 caractères au plus).", "Write the question (at most 4000 characters)."},
	"err.reason":           {"Choisissez un motif.", "Pick a reason."},
	"err.reason_fields":    {"Un motif a besoin d'un titre (120 caractères au plus) et de ses deux textes (4000 au plus).", "A reason needs a title (at most 120 characters) and both texts (at most 4000)."},
	"reasons.title":        {"Motifs de refus", "Rejection reasons"},
	"reasons.intro":        {"On choisit parmi ces motifs en refusant une demande ; le texte part vers l'association dans sa langue.", "These are the reasons to pick from when rejecting; the text goes to the association in its language."},
	"reasons.new":          {"Nouveau motif", "New reason"},
	"reasons.edit":         {"Modifier", "Edit"},
	"reasons.save":         {"Enregistrer", "Save"},
	"reasons.archived":     {"archivé", "archived"},
	"actor.applicant":      {"l'association", "the association"},
	"actor.system":         {"le service", "the service"},
	"actor.unknown":        {"modérateur n° {id}", "moderator no. {id}"},
	"actor.token":          {"un opérateur", "an operator"},
	"actor.token.named":    {"un opérateur (jeton {name})", "an operator (token {name})"},
	"actor.cli.named":      {"un opérateur ({name}, en ligne de commande)", "an operator ({name}, on the command line)"},

	"month.1": {"janvier", "January"}, "month.2": {"février", "February"}, "month.3": {"mars", "March"},
	"month.4": {"avril", "April"}, "month.5": {"mai", "May"}, "month.6": {"juin", "June"},
	"month.7": {"juillet", "July"}, "month.8": {"août", "August"}, "month.9": {"septembre", "September"},
	"month.10": {"octobre", "October"}, "month.11": {"novembre", "November"}, "month.12": {"décembre", "December"},
	"date.format":     {"{day} {month} {year}", "{month} {day}, {year}"},
	"date.short":      {"{day} {month}", "{month} {day}"},
	"datetime.format": {"{date} à {time}", "{date} at {time}"},

	// The moderators' spaces pages: every moderator sees them, operators act on them.
	"nav.spaces":                    {"Espaces", "Spaces"},
	"spaces.title":                  {"Espaces", "Spaces"},
	"spaces.intro":                  {"Les espaces des associations, avec leur état et leur utilisation d'après les dernières mesures du service.", "The associations' spaces, with their state and usage as the service last measured them."},
	"spaces.intro.readonly":         {"Vous pouvez tout consulter ; seuls les opérateurs peuvent changer les limites d'un espace, le suspendre ou le supprimer.", "You can look at everything; only operators can change a space's limits, suspend or delete it."},
	"spaces.counts":                 {"Nombre d'espaces par état", "Spaces by state"},
	"spaces.all":                    {"Tous sauf supprimés", "All but deleted"},
	"spaces.search.hint":            {"Nom de l'association ou adresse", "Association name or address"},
	"spaces.usage":                  {"Utilisation", "Usage"},
	"spaces.usage.any":              {"Peu importe", "Any"},
	"spaces.usage.near":             {"Proches de leurs limites", "Near their limits"},
	"spaces.usage.near.help":        {"Proches de leurs limites : stockage ou comptes à 80\u00a0% de leur limite ou plus.", "Near their limits: storage or accounts at 80% of their limit or more."},
	"spaces.usage.over":             {"Au-delà de leurs limites", "Over their limits"},
	"spaces.usage.over.help":        {"Au-delà de leurs limites : stockage plein, ou plus de comptes actifs que permis.", "Over their limits: storage full, or more enabled accounts than allowed."},
	"spaces.order":                  {"Les plus anciens d'abord.", "Oldest first."},
	"spaces.empty":                  {"Aucun espace ne correspond.", "No space matches."},
	"spaces.col.since":              {"Dans cet état depuis le", "In this state since"},
	"spaces.usage.none":             {"pas encore mesuré", "not measured yet"},
	"spaces.usage.stale":            {"ne répond plus depuis le {since}", "not reachable since {since}"},
	"spaces.back":                   {"Retour aux espaces", "Back to the spaces"},
	"spaces.created":                {"Espace créé le {when}", "Space created on {when}"},
	"spaces.open":                   {"Ouvrir la page de l'espace", "Open the space's page"},
	"spaces.section.state":          {"L'espace", "The space"},
	"spaces.contact":                {"Contact de l'association", "The association's contact"},
	"spaces.contact.purged":         {"effacé avec les données de l'espace", "erased with the space's data"},
	"spaces.application":            {"Demande", "Application"},
	"spaces.application.none":       {"aucune demande liée (effacée avec l'espace, ou espace créé autrement)", "no linked application (erased with the space, or the space was created otherwise)"},
	"spaces.suspend_reason":         {"Motif de la suspension", "Why it was suspended"},
	"spaces.delete_reason":          {"Motif de la suppression", "Why it is being deleted"},
	"spaces.purge_at":               {"Effacement définitif", "Erased for good"},
	"spaces.purge_at.value":         {"le {when}, sauf restauration d'ici là", "on {when}, unless restored before"},
	"spaces.purge_at.due":           {"prévu le {when} : l'effacement est en cours, l'espace ne peut plus être restauré", "due on {when}: it is being erased and can no longer be restored"},
	"spaces.restore_brings":         {"Une restauration", "A restore"},
	"spaces.restore_brings.value":   {"remet l'espace «\u00a0{state}\u00a0», comme avant sa suppression, avec ses fichiers, ses comptes, ses limites et son adresse", "puts the space back to \"{state}\", as before its deletion, with its files, accounts, limits and address"},
	"spaces.restore_brings.queued":  {"remet l'espace en file d'attente : il n'avait pas encore été préparé, sa préparation reprend", "puts the space back on the waiting list: it had not been prepared yet, its preparation starts again"},
	"spaces.purged":                 {"Effacé", "Erased"},
	"spaces.purged.value":           {"le {when} : ses fichiers, ses comptes et les données personnelles de sa demande ont été supprimés", "on {when}: its files, accounts and the personal data of its application were removed"},
	"spaces.history.order":          {"Les plus récentes d'abord.", "Newest first."},
	"spaces.history.none":           {"Aucune décision enregistrée.", "No decision recorded."},
	"spaces.act":                    {"Agir sur l'espace", "Act on the space"},
	"spaces.readonly":               {"Seuls les opérateurs peuvent changer les limites d'un espace, le suspendre, le réactiver, le supprimer ou le restaurer. Si l'une de ces actions vous semble nécessaire, demandez-la à un opérateur.", "Only operators can change a space's limits, suspend, resume, delete or restore it. If one of these seems needed, ask an operator."},
	"spaces.act.none.deleted":       {"Cet espace est supprimé et ses données effacées : plus rien ne peut y être changé.", "This space is deleted and its data erased: nothing can be changed any more."},
	"spaces.act.none.due":           {"Le délai de restauration est passé : l'espace est en cours d'effacement.", "The restore period is over: the space is being erased."},
	"spaces.used.value":             {"{storage} et {accounts} comptes actifs", "{storage} and {accounts} enabled accounts"},
	"spaces.resize.title":           {"Changer les limites", "Change the limits"},
	"spaces.field.storage":          {"Stockage de l'association", "The association's storage"},
	"spaces.field.storage.hint":     {"Avec son unité : 40 GB, 500 MB, 1.5 TB (1 GB = 1024 MB).", "With its unit: 40 GB, 500 MB, 1.5 TB (1 GB = 1024 MB)."},
	"spaces.field.accounts":         {"Comptes actifs permis", "Enabled accounts allowed"},
	"spaces.field.accounts.hint":    {"De 1 à 100\u202f000.", "From 1 to 100,000."},
	"spaces.field.force":            {"Réduire même sous ce que l'association utilise", "Lower even below what the association uses"},
	"spaces.field.force.hint":       {"Elle utilise {used}. Sans cette case, une limite plus basse est refusée ; avec, l'association ne peut plus ajouter de fichiers ni de comptes avant d'en supprimer.", "It uses {used}. Without this box a lower limit is refused; with it, the association can add no file or account until it removes some."},
	"spaces.field.force.unmeasured": {"L'utilisation n'a pas encore été mesurée : aucune limite n'est refusée pour l'instant.", "Usage has not been measured yet: no limit is refused for now."},
	"spaces.resize.help":            {"Le service applique les nouvelles limites dans les minutes qui suivent. L'association ne reçoit pas d'e-mail ; elle les voit sur sa page de suivi.", "The service applies the new limits within minutes. The association gets no email; it sees them on its status page."},
	"spaces.resize.submit":          {"Enregistrer les limites", "Save the limits"},
	"spaces.suspend.title":          {"Suspendre", "Suspend"},
	"spaces.suspend.help":           {"Les membres de l'association ne peuvent plus ouvrir leur espace (Nextcloud affiche une page de maintenance) ; rien n'est effacé et l'espace peut être réactivé à tout moment. Le motif est envoyé par e-mail au contact de l'association, {contact}.", "The association's members can no longer open their space (Nextcloud shows a maintenance page); nothing is erased and the space can be resumed at any time. The reason is emailed to the association's contact, {contact}."},
	"spaces.field.reason":           {"Motif, envoyé à l'association", "Reason, sent to the association"},
	"spaces.suspend.submit":         {"Suspendre l'espace", "Suspend the space"},
	"spaces.resume.title":           {"Réactiver", "Resume"},
	"spaces.resume.help":            {"Les membres retrouvent leur espace tel qu'il était. Le contact de l'association, {contact}, est prévenu par e-mail.", "The members find their space as it was. The association's contact, {contact}, is told by email."},
	"spaces.resume.submit":          {"Réactiver l'espace", "Resume the space"},
	"spaces.delete.title":           {"Supprimer l'espace…", "Delete the space…"},
	"spaces.delete.help":            {"L'espace est arrêté tout de suite. Ses fichiers, ses comptes et sa base de données sont gardés {days} jours, jusqu'au {date} : jusque-là, un opérateur peut le restaurer tel qu'il était. Ensuite tout est effacé définitivement.", "The space stops at once. Its files, accounts and database are kept for {days} days, until {date}: until then an operator can restore it as it was. After that everything is erased for good."},
	"spaces.delete.mail":            {"Le contact de l'association, {contact}, reçoit un e-mail avec le motif et cette date.", "The association's contact, {contact}, gets an email with the reason and this date."},
	"spaces.delete.nomail":          {"L'espace n'a jamais été préparé : l'association ne reçoit pas d'e-mail.", "The space was never prepared: the association gets no email."},
	"spaces.delete.submit":          {"Supprimer l'espace", "Delete the space"},
	"spaces.restore.title":          {"Restaurer", "Restore"},
	"spaces.restore.help":           {"Possible jusqu'au {when}. L'espace redevient «\u00a0{state}\u00a0», avec ses fichiers, ses comptes et ses limites ; le contact de l'association, {contact}, est prévenu par e-mail.", "Possible until {when}. The space is \"{state}\" again, with its files, accounts and limits; the association's contact, {contact}, is told by email."},
	"spaces.restore.help.queued":    {"Possible jusqu'au {when}. L'espace reprend sa place dans la file d'attente et sa préparation recommence ; l'association ne reçoit pas d'e-mail.", "Possible until {when}. The space goes back to its place on the waiting list and its preparation starts again; the association gets no email."},
	"spaces.restore.submit":         {"Restaurer l'espace", "Restore the space"},
	"spaces.done.resize":            {"Limites enregistrées : {limits}. Le service les applique dans les minutes qui suivent.", "Limits saved: {limits}. The service applies them within minutes."},
	"spaces.done.resize_same":       {"Ce sont déjà les limites de l'espace : rien n'a changé.", "These are the space's limits already: nothing changed."},
	"spaces.done.suspend":           {"Espace suspendu. L'association est prévenue par e-mail, avec le motif.", "Space suspended. The association is told by email, with the reason."},
	"spaces.done.resume":            {"Espace réactivé. L'association est prévenue par e-mail.", "Space resumed. The association is told by email."},
	"spaces.done.delete":            {"Suppression enregistrée : l'espace est arrêté et sera effacé le {when}, sauf restauration d'ici là. L'association est prévenue par e-mail.", "Deletion recorded: the space is stopped and will be erased on {when}, unless restored before. The association is told by email."},
	"spaces.done.delete_quiet":      {"Suppression enregistrée : l'espace sera effacé le {when}, sauf restauration d'ici là. Il n'avait jamais été préparé : l'association n'est pas prévenue.", "Deletion recorded: the space will be erased on {when}, unless restored before. It was never prepared: the association is not told."},
	"spaces.done.restore":           {"Espace restauré : il est de nouveau «\u00a0{state}\u00a0». L'association est prévenue par e-mail.", "Space restored: it is \"{state}\" again. The association is told by email."},
	"spaces.done.restore_queued":    {"Espace restauré : il reprend sa place dans la file d'attente.", "Space restored: it goes back to its place on the waiting list."},
	"spaces.err.goto":               {"Aller au champ", "Go to the field"},
	"spaces.err.reason":             {"Écrivez le motif : il est envoyé à l'association (4000 caractères au plus).", "Write the reason: it is sent to the association (at most 4000 characters)."},
	"spaces.err.size":               {"«\u00a0{value}\u00a0» n'est pas une taille. Écrivez un nombre suivi de son unité : 40 GB, 500 MB, 1.5 TB ou 2048 KB.", "\"{value}\" is not a size. Write a number followed by its unit: 40 GB, 500 MB, 1.5 TB or 2048 KB."},
	"spaces.err.size.range":         {"La limite de stockage doit être plus grande que 0 et de 100 TB au plus.", "The storage limit must be above 0 and at most 100 TB."},
	"spaces.err.accounts":           {"Un nombre entier de comptes, de 1 à 100\u202f000.", "A whole number of accounts, from 1 to 100,000."},
	"spaces.err.shrink.storage":     {"L'association utilise {used} : une limite de {want} serait {diff} en dessous. Pour réduire quand même, cochez «\u00a0Réduire même sous ce que l'association utilise\u00a0» ; elle ne pourra plus ajouter de fichiers avant d'en supprimer.", "The association uses {used}: a limit of {want} would be {diff} below that. To lower it anyway, tick \"Lower even below what the association uses\"; it will not be able to add files until it deletes some."},
	"spaces.err.shrink.accounts":    {"L'association a {used} comptes actifs : une limite de {want} serait {diff} en dessous. Pour réduire quand même, cochez «\u00a0Réduire même sous ce que l'association utilise\u00a0» ; aucun compte ne pourra être ajouté avant que d'autres soient supprimés.", "The association has {used} enabled accounts: a limit of {want} would be {diff} below that. To lower it anyway, tick \"Lower even below what the association uses\"; no account can be added until others are removed."},
	"spaces.err.state":              {"Rien n'a été fait : cet espace est «\u00a0{state}\u00a0», et seul un espace {allowed} peut être {action}.", "Nothing was done: this space is \"{state}\", and only a space that is {allowed} can be {action}."},
	"spaces.state.quoted":           {"«\u00a0{state}\u00a0»", "\"{state}\""},
	"spaces.or":                     {" ou ", " or "},
	"spaces.action.resized":         {"redimensionné", "resized"},
	"spaces.action.suspended":       {"suspendu", "suspended"},
	"spaces.action.resumed":         {"réactivé", "resumed"},
	"spaces.action.deleted":         {"supprimé", "deleted"},
	"spaces.action.restored":        {"restauré", "restored"},
	"spaces.err.grace_over":         {"Rien n'a été fait : le délai de restauration a pris fin le {when}. L'espace est en cours d'effacement et ne peut plus être restauré.", "Nothing was done: the restore period ended on {when}. The space is being erased and can no longer be restored."},
	"spaces.err.changed":            {"Rien n'a été fait : cet espace a changé entre-temps, il est maintenant «\u00a0{state}\u00a0».", "Nothing was done: this space changed meanwhile, it is now \"{state}\"."},
	"spaces.err.operators_only":     {"Rien n'a été fait : seuls les opérateurs peuvent changer les limites d'un espace, le suspendre, le réactiver, le supprimer ou le restaurer. Demandez-le à un opérateur.", "Nothing was done: only operators can change a space's limits, suspend, resume, delete or restore it. Ask an operator."},

	// The history of a space's decisions (added with the spaces pages).
	"audit.line.space.suspended.reason": {"{actor} a suspendu l'espace, motif «\u00a0{reason}\u00a0»", "{actor} suspended the space, reason \"{reason}\""},
	"audit.line.space.deleting.reason":  {"{actor} a supprimé l'espace (restaurable jusqu'à son effacement), motif «\u00a0{reason}\u00a0»", "{actor} deleted the space (restorable until it is erased), reason \"{reason}\""},
	"audit.line.space.restore":          {"{actor} a restauré l'espace", "{actor} restored the space"},
	"audit.line.space.restore.to":       {"{actor} a restauré l'espace, de nouveau «\u00a0{state}\u00a0»", "{actor} restored the space, \"{state}\" again"},
	"audit.line.space.purge":            {"{actor} a effacé l'espace et ses données à la fin du délai de restauration", "{actor} erased the space and its data at the end of the restore period"},
	"audit.line.space.resize.forced":    {"{actor} a changé les limites de l'espace sous son utilisation (forcé) : {from} → {to}", "{actor} changed the space's limits below its usage (forced): {from} → {to}"},
	"audit.key.forced":                  {"forcé", "forced"},
	"history.space.restore":             {"Espace restauré", "Space restored"},
	"history.space.purge":               {"Espace effacé", "Space erased"},
	"audit.line.space.export":           {"{actor} a demandé une archive de l'espace (fichiers et base de données) pour l'association", "{actor} asked for an archive of the space (files and database) for the association"},
	"audit.line.space.export_download":  {"{actor} a téléchargé l'archive de l'espace", "{actor} downloaded the space's archive"},
	"audit.key.export_id":               {"n° de l'archive", "archive no."},
}

// translate returns the sentence for key in lang with {name} arguments filled from pairs
// (name, value, name, value…). An unknown key shows as [[key]], which tests look for.
func translate(lang, key string, pairs ...any) string {
	e, ok := catalog[key]
	if !ok {
		return "[[" + key + "]]"
	}
	s := e[0]
	if lang == "en" {
		s = e[1]
	}
	if len(pairs) == 0 {
		return s
	}
	repl := make([]string, 0, len(pairs))
	for i := 0; i+1 < len(pairs); i += 2 {
		repl = append(repl, "{"+fmt.Sprint(pairs[i])+"}", fmt.Sprint(pairs[i+1]))
	}
	return strings.NewReplacer(repl...).Replace(s)
}

// formatDate writes a date the way each language does: 2 janvier 2026, January 2, 2026.
func formatDate(lang string, t time.Time) string {
	return translate(lang, "date.format", "day", t.Day(), "month", translate(lang, fmt.Sprintf("month.%d", int(t.Month()))), "year", t.Year())
}

// formatNumber writes n with its thousands grouped: a narrow no-break space in French (12 345),
// a comma in English (12,345).
func formatNumber(lang string, n int64) string {
	sep := "\u202f"
	if lang == "en" {
		sep = ","
	}
	digits := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, digits = "-", digits[1:]
	}
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(d)
	}
	return sign + b.String()
}

// formatDateTime writes a date and time: 2 janvier 2026 à 14:05.
func formatDateTime(lang string, t time.Time) string {
	return translate(lang, "datetime.format", "date", formatDate(lang, t), "time", t.Format("15:04"))
}

type langKey struct{}

// langFrom returns the request's language, set by the language middleware.
func langFrom(ctx context.Context) string {
	if l, ok := ctx.Value(langKey{}).(string); ok {
		return l
	}
	return "fr"
}

// pickLang chooses the language: ?lang= (remembered in a cookie), then the cookie, then the
// browser's Accept-Language, then French.
func (h *handler) pickLang(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "fr" || l == "en" {
		http.SetCookie(w, &http.Cookie{Name: "lang", Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			Secure: h.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		return l
	}
	if c, err := r.Cookie("lang"); err == nil && (c.Value == "fr" || c.Value == "en") {
		return c.Value
	}
	if al := r.Header.Get("Accept-Language"); al != "" {
		tags, _, err := language.ParseAcceptLanguage(al)
		if err == nil && len(tags) > 0 {
			_, idx, conf := langMatcher.Match(tags...)
			if conf != language.No {
				return languages[idx]
			}
		}
	}
	return "fr"
}

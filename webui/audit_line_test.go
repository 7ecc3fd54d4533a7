package webui

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// auditCase is one audit entry and how each page words it. An empty applicant sentence means
// the applicant's history leaves the entry out.
type auditCase struct {
	action, actor, from, to string
	detail                  map[string]any
	fr, en                  string // the moderators' line
	appFR, appEN            string // the applicant's line
}

// auditCases holds an entry for every action the code records, and for actions it does not know.
var auditCases = []auditCase{
	{action: "application.submit", actor: "applicant", to: "pending", detail: map[string]any{"slug": "jardins-belleville"},
		fr: "l'association a envoyé sa demande (adresse : jardins-belleville)", en: "the association sent its application (address: jardins-belleville)",
		appFR: "Demande envoyée", appEN: "Application sent"},
	{action: "application.claim", actor: "moderator:1", detail: map[string]any{"until": "2026-11-30T05:26:00Z"},
		fr: "Alex a pris la demande en charge jusqu'à 05:26", en: "Alex claimed the application until 05:26"},
	{action: "application.claim", actor: "moderator:1", detail: map[string]any{"until": "2026-12-01T00:10:00Z"},
		fr: "Alex a pris la demande en charge jusqu'au 1 décembre 2026 à 00:10", en: "Alex claimed the application until December 1, 2026 at 00:10"},
	{action: "application.release", actor: "moderator:1",
		fr: "Alex a libéré la demande", en: "Alex released the application"},
	{action: "application.approve", actor: "moderator:1", from: "pending", to: "approved",
		fr: "Alex a accepté la demande", en: "Alex approved the application",
		appFR: "Demande acceptée", appEN: "Application accepted"},
	{action: "application.reject", actor: "moderator:2", from: "pending", to: "rejected", detail: map[string]any{"reason_id": 3, "reason": "Hors de France"},
		fr:    "modérateur n° 2 a refusé la demande, motif «\u00a0Hors de France\u00a0» (n° du motif : 3)",
		en:    `moderator no. 2 rejected the application, reason "Hors de France" (reason no.: 3)`,
		appFR: "Demande non retenue", appEN: "Application not accepted"},
	{action: "application.ask_info", actor: "moderator:1", from: "pending", to: "needs_info",
		fr: "Alex a demandé des précisions à l'association", en: "Alex asked the association for more information",
		appFR: "L'équipe a posé une question", appEN: "The team asked a question"},
	{action: "application.reply", actor: "applicant", from: "needs_info", to: "pending",
		fr: "l'association a répondu à la question", en: "the association answered the question",
		appFR: "Réponse envoyée", appEN: "Answer sent"},
	{action: "application.withdraw", actor: "applicant", from: "pending", to: "withdrawn",
		fr: "l'association a retiré sa demande", en: "the association withdrew its application",
		appFR: "Demande retirée", appEN: "Application withdrawn"},
	{action: "application.link", actor: "applicant",
		fr: "l'association a ouvert un nouveau lien de suivi, l'ancien ne fonctionne plus", en: "the association opened a new status link, the old one no longer works",
		appFR: "Nouveau lien de suivi utilisé", appEN: "New status link used"},
	{action: "application.link_mailed", actor: "applicant",
		fr: "un nouveau lien de suivi a été demandé et envoyé au contact", en: "a new status link was requested and mailed to the contact",
		appFR: "Nouveau lien de suivi envoyé", appEN: "New status link sent"},
	{action: "application.resubmit", actor: "applicant",
		fr: "le formulaire a été envoyé de nouveau avec l'adresse du contact : rien d'enregistré, un lien envoyé au contact", en: "the form was sent again with the contact's address: nothing recorded, a link mailed to the contact",
		appFR: "Formulaire envoyé de nouveau avec votre adresse : un lien vous a été envoyé", appEN: "Form sent again with your address: a link was mailed to you"},
	{action: "space.create", actor: "moderator:1", to: "queued", detail: map[string]any{"slug": "jardins-belleville", "limits": quota.DefaultLimits},
		fr:    "Alex a créé l'espace (limites : 40\u00a0GB, 50 comptes, adresse : jardins-belleville)",
		en:    "Alex created the space (limits: 40\u00a0GB, 50 accounts, address: jardins-belleville)",
		appFR: "Espace créé, en attente de préparation", appEN: "Space created, waiting to be prepared"},
	{action: "space.provision", actor: "system:reconciler", from: "queued", to: "provisioning",
		fr: "le service a commencé à préparer l'espace", en: "the service started provisioning the space",
		appFR: "Préparation commencée", appEN: "Preparation started"},
	{action: "space.provisioning", actor: "system", from: "queued", to: "provisioning",
		fr: "le service a commencé à préparer l'espace", en: "the service started provisioning the space",
		appFR: "Préparation commencée", appEN: "Preparation started"},
	{action: "space.activate", actor: "system:reconciler", from: "provisioning", to: "active",
		fr: "l'espace est prêt", en: "the space is ready",
		appFR: "Espace prêt", appEN: "Space ready"},
	{action: "space.active", actor: "token:7", from: "suspended", to: "active",
		fr: "un opérateur (jeton ci) a réactivé l'espace", en: "an operator (token ci) reactivated the space",
		appFR: "Espace de nouveau accessible", appEN: "Space available again"},
	{action: "space.fail", actor: "system:reconciler", from: "provisioning", to: "failed", detail: map[string]any{"reason": "health: not healthy after 5m0s"},
		fr: "l'espace a échoué : health: not healthy after 5m0s", en: "the space failed: health: not healthy after 5m0s",
		appFR: "Préparation interrompue", appEN: "Preparation interrupted"},
	{action: "space.failed", actor: "system:reconciler", from: "provisioning", to: "failed",
		fr: "l'espace a échoué", en: "the space failed",
		appFR: "Préparation interrompue", appEN: "Preparation interrupted"},
	{action: "space.retry", actor: "token:8", from: "failed", to: "queued",
		fr: "un opérateur a relancé l'espace", en: "an operator retried provisioning the space",
		appFR: "Préparation relancée par l'équipe", appEN: "Preparation restarted by the team"},
	{action: "space.queued", actor: "cli:camille", from: "failed", to: "queued",
		fr:    "un opérateur (camille, en ligne de commande) a remis l'espace en file d'attente",
		en:    "an operator (camille, on the command line) put the space back on the waiting list",
		appFR: "De nouveau en attente de préparation", appEN: "Waiting to be prepared again"},
	{action: "space.storage_level", actor: "system:reconciler", detail: map[string]any{"from": "ok", "to": "80%", "used_bytes": 32 * quota.GB, "limit_bytes": 40 * quota.GB},
		fr:    "stockage de l'association au-delà de 80\u00a0% (32\u00a0GB utilisés sur 40\u00a0GB)",
		en:    "the association's storage is over 80% (32\u00a0GB used of 40\u00a0GB)",
		appFR: "Stockage de votre espace au-delà de 80\u00a0% (32\u00a0GB utilisés sur 40\u00a0GB)",
		appEN: "Your space's storage over 80% (32\u00a0GB used of 40\u00a0GB)"},
	{action: "space.storage_level", actor: "system:reconciler", detail: map[string]any{"from": "80%", "to": "90%", "used_bytes": 37 * quota.GB, "limit_bytes": 40 * quota.GB},
		fr:    "stockage de l'association au-delà de 90\u00a0% (37\u00a0GB utilisés sur 40\u00a0GB)",
		en:    "the association's storage is over 90% (37\u00a0GB used of 40\u00a0GB)",
		appFR: "Stockage de votre espace au-delà de 90\u00a0% (37\u00a0GB utilisés sur 40\u00a0GB)",
		appEN: "Your space's storage over 90% (37\u00a0GB used of 40\u00a0GB)"},
	{action: "space.storage_level", actor: "system:reconciler", detail: map[string]any{"from": "ok", "to": "full", "used_bytes": 41 * quota.GB, "limit_bytes": 40 * quota.GB},
		fr: "stockage de l'association plein (41\u00a0GB utilisés sur 40\u00a0GB)", en: "the association's storage is full (41\u00a0GB used of 40\u00a0GB)",
		appFR: "Stockage de votre espace plein (41\u00a0GB utilisés sur 40\u00a0GB)", appEN: "Your space's storage full (41\u00a0GB used of 40\u00a0GB)"},
	{action: "space.storage_level", actor: "system:reconciler", detail: map[string]any{"from": "full", "to": "90%"},
		fr: "stockage de l'association revenu sous sa limite", en: "the association's storage is back under its limit",
		appFR: "Stockage de votre espace revenu sous sa limite", appEN: "Your space's storage back under its limit"},
	{action: "space.storage_level", actor: "system:reconciler", detail: map[string]any{"from": "90%", "to": "80%", "used_bytes": 33 * quota.GB, "limit_bytes": 40 * quota.GB},
		fr:    "stockage de l'association revenu sous 90\u00a0% (33\u00a0GB utilisés sur 40\u00a0GB)",
		en:    "the association's storage is back under 90% (33\u00a0GB used of 40\u00a0GB)",
		appFR: "Stockage de votre espace revenu sous 90\u00a0% (33\u00a0GB utilisés sur 40\u00a0GB)",
		appEN: "Your space's storage back under 90% (33\u00a0GB used of 40\u00a0GB)"},
	{action: "space.storage_level", actor: "system:reconciler", detail: map[string]any{"from": "80%", "to": "ok", "used_bytes": 29 * quota.GB, "limit_bytes": 40 * quota.GB},
		fr:    "stockage de l'association revenu sous 80\u00a0% (29\u00a0GB utilisés sur 40\u00a0GB)",
		en:    "the association's storage is back under 80% (29\u00a0GB used of 40\u00a0GB)",
		appFR: "Stockage de votre espace revenu sous 80\u00a0% (29\u00a0GB utilisés sur 40\u00a0GB)",
		appEN: "Your space's storage back under 80% (29\u00a0GB used of 40\u00a0GB)"},
	// A level change the pages cannot read still says what it can, and nothing to the applicant.
	{action: "space.storage_level", actor: "system:reconciler", detail: map[string]any{"to": "full"},
		fr: "le niveau de stockage de l'association a changé (après : plein)", en: "the association's storage level changed (after: full)"},
	{action: "space.resize", actor: "moderator:1", detail: map[string]any{"from": quota.DefaultLimits, "to": quota.Limits{StorageBytes: 50 * quota.GB, Accounts: 60}},
		fr:    "Alex a changé les limites de l'espace : 40\u00a0GB, 50 comptes → 50\u00a0GB, 60 comptes",
		en:    "Alex changed the space's limits: 40\u00a0GB, 50 accounts → 50\u00a0GB, 60 accounts",
		appFR: "Nouvelles limites de votre espace : 50\u00a0GB, 60 comptes", appEN: "New limits for your space: 50\u00a0GB, 60 accounts"},
	{action: "space.resize", actor: "moderator:1",
		fr: "Alex a changé les limites de l'espace", en: "Alex changed the space's limits",
		appFR: "Limites de votre espace modifiées", appEN: "Your space's limits changed"},
	{action: "space.suspended", actor: "system", from: "active", to: "suspended", detail: map[string]any{"reason": "signalement d'abus"},
		fr: "le service a suspendu l'espace, motif «\u00a0signalement d'abus\u00a0»", en: `the service suspended the space, reason "signalement d'abus"`,
		appFR: "Espace suspendu", appEN: "Space suspended"},
	{action: "space.suspend", actor: "moderator:1", from: "active", to: "suspended",
		fr: "Alex a suspendu l'espace", en: "Alex suspended the space",
		appFR: "Espace suspendu", appEN: "Space suspended"},
	{action: "space.deleting", actor: "moderator:1", from: "active", to: "deleting",
		fr: "Alex a demandé la suppression de l'espace", en: "Alex asked for the space to be deleted",
		appFR: "Suppression demandée", appEN: "Deletion requested"},
	{action: "space.deleted", actor: "system:reconciler", from: "deleting", to: "deleted",
		fr: "l'espace est supprimé", en: "the space is deleted",
		appFR: "Espace supprimé", appEN: "Space deleted"},
	// The operators' decisions about a space (tenants/lifecycle.go), from the spaces pages or the API.
	{action: "space.suspend", actor: "moderator:1", from: "active", to: "suspended", detail: map[string]any{"reason": "Contenus signalés\nà vérifier"},
		fr:    "Alex a suspendu l'espace, motif «\u00a0Contenus signalés\nà vérifier\u00a0»",
		en:    "Alex suspended the space, reason \"Contenus signalés\nà vérifier\"",
		appFR: "Espace suspendu", appEN: "Space suspended"},
	{action: "space.resume", actor: "moderator:1", from: "suspended", to: "active",
		fr: "Alex a réactivé l'espace", en: "Alex reactivated the space",
		appFR: "Espace de nouveau accessible", appEN: "Space available again"},
	{action: "space.delete", actor: "moderator:1", from: "active", to: "deleting", detail: map[string]any{"reason": "Association dissoute"},
		fr:    "Alex a supprimé l'espace (restaurable jusqu'à son effacement), motif «\u00a0Association dissoute\u00a0»",
		en:    `Alex deleted the space (restorable until it is erased), reason "Association dissoute"`,
		appFR: "Suppression demandée", appEN: "Deletion requested"},
	{action: "space.delete", actor: "token:7", from: "queued", to: "deleting",
		fr: "un opérateur (jeton ci) a demandé la suppression de l'espace", en: "an operator (token ci) asked for the space to be deleted",
		appFR: "Suppression demandée", appEN: "Deletion requested"},
	{action: "space.restore", actor: "moderator:1", from: "deleting", to: "suspended",
		fr: "Alex a restauré l'espace, de nouveau «\u00a0Suspendu\u00a0»", en: `Alex restored the space, "Suspended" again`,
		appFR: "Espace restauré", appEN: "Space restored"},
	{action: "space.restore", actor: "moderator:1",
		fr: "Alex a restauré l'espace", en: "Alex restored the space",
		appFR: "Espace restauré", appEN: "Space restored"},
	{action: "space.purge", actor: "system", from: "deleting", to: "deleted",
		fr: "le service a effacé l'espace et ses données à la fin du délai de restauration", en: "the service erased the space and its data at the end of the restore period",
		appFR: "Espace effacé", appEN: "Space erased"},
	// 40 GB in bytes comes back from JSON as 4.294967296e+10: never shown so.
	{action: "space.resize", actor: "moderator:1", detail: map[string]any{"from": quota.Limits{StorageBytes: 40 * quota.GB, Accounts: 50},
		"to": quota.Limits{StorageBytes: 20 * quota.GB, Accounts: 50}, "forced": true},
		fr:    "Alex a changé les limites de l'espace sous son utilisation (forcé) : 40\u00a0GB, 50 comptes → 20\u00a0GB, 50 comptes",
		en:    "Alex changed the space's limits below its usage (forced): 40\u00a0GB, 50 accounts → 20\u00a0GB, 50 accounts",
		appFR: "Nouvelles limites de votre espace : 20\u00a0GB, 50 comptes", appEN: "New limits for your space: 20\u00a0GB, 50 accounts"},
	{action: "space.resize", actor: "moderator:1", detail: map[string]any{"forced": true},
		fr: "Alex a changé les limites de l'espace (forcé : oui)", en: "Alex changed the space's limits (forced: yes)",
		appFR: "Limites de votre espace modifiées", appEN: "Your space's limits changed"},
	// An archive for the association (tenants/export.go): the operators' work, not told to the applicant.
	{action: "space.export", actor: "token:7", detail: map[string]any{"export_id": 3},
		fr: "un opérateur (jeton ci) a demandé une archive de l'espace (fichiers et base de données) pour l'association (n° de l'archive : 3)",
		en: "an operator (token ci) asked for an archive of the space (files and database) for the association (archive no.: 3)"},
	{action: "space.export_download", actor: "token:7", detail: map[string]any{"export_id": 3},
		fr: "un opérateur (jeton ci) a téléchargé l'archive de l'espace (n° de l'archive : 3)",
		en: "an operator (token ci) downloaded the space's archive (archive no.: 3)"},
	// Actions the pages do not know: a plain sentence for moderators, nothing for the applicant.
	{action: "application.transfer", actor: "moderator:1", from: "pending", to: "needs_info",
		fr: "Alex a fait passer la demande de «\u00a0En attente d'examen\u00a0» à «\u00a0Nous attendons votre réponse\u00a0»",
		en: `Alex moved the application from "Waiting for review" to "Waiting for your answer"`},
	{action: "space.hibernate", actor: "system:reconciler", to: "suspended",
		fr: "le service a fait passer l'espace à «\u00a0Suspendu\u00a0»", en: `the service moved the space to "Suspended"`},
	{action: "space.note", actor: "somebody", detail: map[string]any{"n": 3},
		fr: "somebody a modifié l'espace (n : 3)", en: "somebody changed the space (n: 3)"},
}

// Every audit entry reads as a sentence in both languages, for moderators and for the applicant.
func TestAuditSentences(t *testing.T) {
	names := actorNames{moderators: map[int64]string{1: "Alex"}, tokens: map[int64]string{7: "ci", 8: ""}}
	at := time.Date(2026, 11, 30, 4, 56, 0, 0, time.UTC)
	for _, tc := range auditCases {
		// The detail comes back from the database as JSON does.
		raw, err := json.Marshal(tc.detail)
		if err != nil {
			t.Fatal(err)
		}
		var detail map[string]any
		if err := json.Unmarshal(raw, &detail); err != nil {
			t.Fatal(err)
		}
		subject, _, _ := strings.Cut(tc.action, ".")
		e := tenants.AuditEntry{At: at, Actor: tenants.Actor(tc.actor), Action: tc.action, SubjectType: subject,
			FromState: tc.from, ToState: tc.to, Detail: detail}
		for _, lang := range []struct{ lang, mod, app string }{{"fr", tc.fr, tc.appFR}, {"en", tc.en, tc.appEN}} {
			p := page{Lang: lang.lang, loc: time.UTC}
			l := p.auditLine(e, names)
			if got := l.Text(); got != lang.mod {
				t.Errorf("%s %s %s (moderators):\n got %q\nwant %q", tc.action, tc.actor, lang.lang, got, lang.mod)
			}
			if l.Action != tc.action {
				t.Errorf("%s: line keeps action %q", tc.action, l.Action)
			}
			// The actor's name is set apart exactly when the sentence says who did it.
			if want := p.actorName(e.Actor, names); l.Actor != "" && l.Actor != want {
				t.Errorf("%s %s: actor %q, want %q", tc.action, lang.lang, l.Actor, want)
			}
			if strings.Contains(l.Text(), actorMark) || rawData.MatchString(l.Text()) {
				t.Errorf("%s %s: raw data in %q", tc.action, lang.lang, l.Text())
			}
			got, shown := p.applicantLine(e)
			if shown != (lang.app != "") || got != lang.app {
				t.Errorf("%s %s %s (applicant):\n got %q (shown %v)\nwant %q", tc.action, tc.actor, lang.lang, got, shown, lang.app)
			}
			// The applicant never reads who in the team did it, nor the internal reason of a failure.
			for _, secret := range []string{"Alex", "moderator", "modérateur", "opérateur", "operator", "health:", "abus"} {
				if strings.Contains(got, secret) {
					t.Errorf("%s %s: applicant reads %q in %q", tc.action, lang.lang, secret, got)
				}
			}
		}
	}
}

// The table above covers every action the code records: a new action needs its sentences.
func TestAuditSentencesCoverEveryAction(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range auditCases {
		covered[tc.action] = true
	}
	written := map[string]bool{}
	// Moves recorded without an action of their own are named after the state reached.
	for _, s := range tenants.SpaceStates {
		written["space."+string(s)] = true
	}
	literal := regexp.MustCompile(`(?i)action\s*(?::|:=|=)\s*"((?:application|space)\.[a-z_]+)"`)
	for _, dir := range []string{"../tenants", "../jobs", "../provisioner", "."} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
				written[m[1]] = true
			}
		}
	}
	for _, must := range []string{"application.submit", "application.approve", "space.provision", "space.storage_level", "space.retry"} {
		if !written[must] {
			t.Fatalf("the scan of the sources missed %s: is the pattern still right?", must)
		}
	}
	for a := range written {
		if !covered[a] {
			t.Errorf("audit action %s has no case in auditCases", a)
		}
		if _, ok := catalog["audit.line."+canonicalAction(a)]; !ok {
			t.Errorf("audit action %s has no sentence for moderators (audit.line.%s)", a, canonicalAction(a))
		}
		if _, ok := catalog["history."+canonicalAction(a)]; !ok && !applicantHidden[a] && a != "space.storage_level" {
			t.Errorf("audit action %s has no line for the applicant (history.%s) and is not hidden from them", a, canonicalAction(a))
		}
	}
}

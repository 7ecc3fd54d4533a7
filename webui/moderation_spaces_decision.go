package webui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// What the operators' forms on a space's page share: finding the space, reading a reason,
// wording what refused a decision, and answering a moderator who is not an operator. Each
// decision goes through h.decisions (jobs.Decisions), the same code as the operators' API, with
// the moderator as the actor of its audit entry.

// spaceToDecide reads the space named in the path; false means the response is written.
func (h *handler) spaceToDecide(w http.ResponseWriter, r *http.Request) (tenants.Space, bool) {
	s, err := tenants.GetSpaceBySlug(r.Context(), h.Pool, r.PathValue("slug"))
	if errors.Is(err, tenants.ErrNotFound) {
		h.notFound(w, r)
		return s, false
	}
	if err != nil {
		h.serverError(w, r, err)
		return s, false
	}
	return s, true
}

// moderatorActor is the audit actor of the logged-in moderator.
func moderatorActor(r *http.Request) tenants.Actor {
	m, _ := moderatorFrom(r.Context())
	return tenants.ModeratorActor(m.ID)
}

// readReason reads the reason of a suspension or a deletion, which the association is mailed:
// the text as stored, or the catalog key of what is wrong with it and its arguments.
func readReason(r *http.Request) (reason, problem string, args []any) {
	reason, err := tenants.NormalizeText(r.PostForm.Get("reason"), true)
	var rule *tenants.RuleViolation
	switch {
	case errors.As(err, &rule) && rule.Code == tenants.RuleTextInvisible:
		return "", "text.invisible", []any{"detail", rule.Detail}
	case err != nil:
		return "", "err.text", nil
	case reason == "" || len([]rune(reason)) > tenants.MaxMessageLength:
		return "", "spaces.err.reason", nil
	}
	return reason, "", nil
}

// spaceDecided sends the operator back to the space's page with what was done (POST/redirect/GET).
func spaceDecided(w http.ResponseWriter, r *http.Request, slug, done string) {
	seeOther(w, r, "/moderation/spaces/"+slug+"?done="+done)
}

// spaceDecisionFailed re-renders the space's page with what refused a decision, keeping what
// was typed (keep), or shows the error page for a real failure.
func (h *handler) spaceDecisionFailed(w http.ResponseWriter, r *http.Request, err error, keep func(*spacePage)) {
	var state *tenants.StateError
	var shrink *tenants.ShrinkError
	status, field := http.StatusConflict, ""
	var say func(p *spacePage) string
	switch {
	case errors.As(err, &state):
		say = func(p *spacePage) string {
			allowed := make([]string, len(state.Allowed))
			for i, s := range state.Allowed {
				allowed[i] = p.T("spaces.state.quoted", "state", p.T("space.state."+string(s)))
			}
			return p.T("spaces.err.state", "state", p.T("space.state."+string(state.State)),
				"allowed", p.joinOr(allowed), "action", p.T("spaces.action."+state.Action))
		}
	case errors.Is(err, tenants.ErrGraceOver):
		say = func(p *spacePage) string { return p.T("spaces.err.grace_over", "when", p.PurgeAt) }
	case errors.As(err, &shrink):
		status, field = http.StatusUnprocessableEntity, shrink.Field
		say = func(p *spacePage) string {
			if shrink.Field == "storage" {
				return p.T("spaces.err.shrink.storage", "used", p.Size(shrink.Used), "want", p.Size(shrink.Want),
					"diff", p.Size(shrink.Used-shrink.Want))
			}
			return p.T("spaces.err.shrink.accounts", "used", shrink.Used, "want", shrink.Want, "diff", shrink.Used-shrink.Want)
		}
	case errors.Is(err, jobs.ErrReasonRequired):
		status = http.StatusUnprocessableEntity
		say = func(p *spacePage) string { return p.T("spaces.err.reason") }
	case errors.Is(err, tenants.ErrInvalidTransition):
		say = func(p *spacePage) string {
			return p.T("spaces.err.changed", "state", p.T("space.state."+string(p.Space.State)))
		}
	case errors.Is(err, tenants.ErrNotFound):
		h.notFound(w, r)
		return
	default:
		h.serverError(w, r, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "space decision refused", "path", r.URL.Path, "actor", moderatorActor(r), "why", err.Error())
	h.renderSpace(w, r, status, func(p *spacePage) {
		if keep != nil {
			keep(p)
		}
		p.Error, p.ErrorField = say(p), field
	})
}

// refuseSpaceInput re-renders the space's page with a message at one of its fields.
func (h *handler) refuseSpaceInput(w http.ResponseWriter, r *http.Request, field, key string, args []any, keep func(*spacePage)) {
	h.renderSpace(w, r, http.StatusUnprocessableEntity, func(p *spacePage) {
		keep(p)
		p.Error, p.ErrorField = p.T(key, args...), field
	})
}

// operatorsOnly answers a moderator who is not an operator and tried to act on a space: the
// space's page, read-only, with a sentence saying operators do this, and 403.
func (h *handler) operatorsOnly(w http.ResponseWriter, r *http.Request) {
	h.renderSpace(w, r, http.StatusForbidden, func(p *spacePage) {
		p.Error = p.T("spaces.err.operators_only")
	})
}

// joinOr joins names as a sentence does: « Actif », « Suspendu » ou « En échec ».
func (p page) joinOr(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + p.T("spaces.or") + names[len(names)-1]
}

// sizeWithUnit tells whether a typed size names its unit: in a form, a bare number of bytes is
// almost always a slip for gigabytes.
func sizeWithUnit(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && (s[len(s)-1] < '0' || s[len(s)-1] > '9')
}

// maxStorage is the largest storage limit a space can be given (quota.Limits.Validate).
const maxStorage = 100 * quota.TB

// maxSpaceAccounts is the most accounts a space can be given (quota.Limits.Validate).
const maxSpaceAccounts = 100_000

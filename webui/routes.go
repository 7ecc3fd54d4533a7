package webui

import "net/http"

// routes is the one list of every URL the service answers.
func (h *handler) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.Handle("GET /static/", h.static())

	// The public side: the application form and the applicant's status page.
	mux.HandleFunc("GET /{$}", h.applyShow)
	mux.HandleFunc("POST /apply", h.applySubmit)
	mux.HandleFunc("GET /apply/sent", h.applySent)
	// The form sent, with the applicant's consent, to a partner host running this software.
	mux.HandleFunc("GET /apply/forward/{id}", h.applyForwardShow)
	mux.HandleFunc("POST /apply/forward/{id}", h.applyForwardSubmit)
	mux.HandleFunc("GET /apply/forward/{id}/sent", h.applyForwardSent)
	mux.HandleFunc("GET /status/lost", h.statusLostShow)
	mux.HandleFunc("POST /status/lost", h.statusLostSubmit)
	mux.HandleFunc("GET /status/{token}", h.statusShow)
	mux.HandleFunc("POST /status/{token}/reply", h.statusReply)
	mux.HandleFunc("POST /status/{token}/withdraw", h.statusWithdraw)

	// The moderators' side.
	mux.HandleFunc("GET /moderation/login", h.loginShow)
	mux.HandleFunc("POST /moderation/login", h.loginSubmit)
	mux.HandleFunc("POST /moderation/logout", h.logout)
	mux.HandleFunc("GET /moderation", h.requireModerator(h.queue))
	mux.HandleFunc("GET /moderation/applications/{id}", h.requireModerator(h.applicationDetail))
	mux.HandleFunc("POST /moderation/applications/{id}/claim", h.requireModerator(h.claim))
	mux.HandleFunc("POST /moderation/applications/{id}/release", h.requireModerator(h.release))
	mux.HandleFunc("POST /moderation/applications/{id}/approve", h.requireModerator(h.approve))
	mux.HandleFunc("POST /moderation/applications/{id}/reject", h.requireModerator(h.reject))
	mux.HandleFunc("POST /moderation/applications/{id}/ask", h.requireModerator(h.ask))
	mux.HandleFunc("POST /moderation/applications/{id}/retry", h.requireModerator(h.retrySpace))
	mux.HandleFunc("GET /moderation/dashboard", h.requireModerator(h.dashboard))
	mux.HandleFunc("GET /moderation/reasons", h.requireModerator(h.reasons))
	mux.HandleFunc("POST /moderation/reasons", h.requireModerator(h.reasonSave))
	// The intake (is the form open?) and the partner hosts: every moderator sees them; only operators change them.
	mux.HandleFunc("GET /moderation/intake", h.requireModerator(h.intakeShow))
	mux.HandleFunc("POST /moderation/intake", h.requireIntakeOperator(h.intakeSave))
	mux.HandleFunc("POST /moderation/intake/partners", h.requireIntakeOperator(h.partnerSave))
	mux.HandleFunc("POST /moderation/intake/partners/{id}/remove", h.requireIntakeOperator(h.partnerRemove))
	// Spaces: every moderator sees them; only operators act on them.
	mux.HandleFunc("GET /moderation/spaces", h.requireModerator(h.spacesList))
	mux.HandleFunc("GET /moderation/spaces/{slug}", h.requireModerator(h.spaceShow))
	mux.HandleFunc("POST /moderation/spaces/{slug}/resize", h.requireOperator(h.spaceResize))
	mux.HandleFunc("POST /moderation/spaces/{slug}/suspend", h.requireOperator(h.spaceSuspend))
	mux.HandleFunc("POST /moderation/spaces/{slug}/resume", h.requireOperator(h.spaceResume))
	mux.HandleFunc("POST /moderation/spaces/{slug}/delete", h.requireOperator(h.spaceDelete))
	mux.HandleFunc("POST /moderation/spaces/{slug}/restore", h.requireOperator(h.spaceRestore))

	// The operators' JSON API (token auth; JSON errors, also for unknown paths).
	mux.HandleFunc("GET /api/v1/spaces", h.requireToken(h.apiSpaceList))
	mux.HandleFunc("GET /api/v1/spaces/{slug}", h.requireToken(h.apiSpaceShow))
	mux.HandleFunc("POST /api/v1/spaces/{slug}/retry", h.requireOperatorToken(h.apiSpaceRetry))
	mux.HandleFunc("POST /api/v1/spaces/{slug}/resize", h.requireOperatorToken(h.apiSpaceResize))
	mux.HandleFunc("POST /api/v1/spaces/{slug}/suspend", h.requireOperatorToken(h.apiSpaceSuspend))
	mux.HandleFunc("POST /api/v1/spaces/{slug}/resume", h.requireOperatorToken(h.apiSpaceResume))
	mux.HandleFunc("POST /api/v1/spaces/{slug}/delete", h.requireOperatorToken(h.apiSpaceDelete))
	mux.HandleFunc("POST /api/v1/spaces/{slug}/restore", h.requireOperatorToken(h.apiSpaceRestore))
	mux.HandleFunc("POST /api/v1/spaces/{slug}/exports", h.requireOperatorToken(h.apiSpaceExportCreate))
	mux.HandleFunc("GET /api/v1/spaces/{slug}/exports", h.requireToken(h.apiSpaceExportList))
	mux.HandleFunc("GET /api/v1/spaces/{slug}/exports/{id}", h.requireToken(h.apiSpaceExportShow))
	mux.HandleFunc("GET /api/v1/spaces/{slug}/exports/{id}/archive", h.requireOperatorToken(h.apiSpaceExportArchive))
	mux.HandleFunc("GET /api/v1/dashboard", h.requireToken(h.apiDashboard))
	mux.HandleFunc("GET /api/v1/audit", h.requireToken(h.apiAuditList))
	mux.HandleFunc("GET /api/v1/applications", h.requireToken(h.apiApplicationList))
	mux.HandleFunc("GET /api/v1/applications/{id}", h.requireToken(h.apiApplicationShow))
	mux.HandleFunc("POST /api/v1/applications", h.requireForwardToken(h.apiApplicationCreate))
	mux.HandleFunc("POST /api/v1/applications/{id}/approve", h.requireOperatorToken(h.apiApplicationApprove))
	mux.HandleFunc("POST /api/v1/applications/{id}/reject", h.requireOperatorToken(h.apiApplicationReject))
	mux.HandleFunc("POST /api/v1/applications/{id}/ask", h.requireOperatorToken(h.apiApplicationAsk))
	mux.HandleFunc("GET /api/v1/rejection-reasons", h.requireToken(h.apiRejectionReasons))
	mux.HandleFunc("GET /api/v1/intake", h.requireToken(h.apiIntakeShow))
	mux.HandleFunc("POST /api/v1/intake", h.requireOperatorToken(h.apiIntakeUpdate))
	mux.HandleFunc("GET /api/v1/partners", h.requireToken(h.apiPartnerList))
	mux.HandleFunc("POST /api/v1/partners", h.requireOperatorToken(h.apiPartnerAdd))
	mux.HandleFunc("POST /api/v1/partners/{id}", h.requireOperatorToken(h.apiPartnerUpdate))
	mux.HandleFunc("DELETE /api/v1/partners/{id}", h.requireOperatorToken(h.apiPartnerRemove))
	mux.HandleFunc("GET /api/v1/forwards", h.requireToken(h.apiForwardList))
	mux.HandleFunc("/api/", h.apiNotFound)

	// Anything else is the not-found page.
	mux.HandleFunc("/", h.notFound)
}

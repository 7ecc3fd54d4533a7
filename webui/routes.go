package webui

import "net/http"

// routes is the one list of every URL the service answers.
func (h *handler) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.Handle("GET /static/", h.static())

	// The public side: the application form and the applicant's status page.
	mux.HandleFunc("GET /{$}", h.applyShow)
	mux.HandleFunc("POST /apply", h.applySubmit)
	mux.HandleFunc("GET /apply/sent", h.applySent)
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

	// The operators' JSON API (token auth; JSON errors, also for unknown paths).
	mux.HandleFunc("GET /api/v1/spaces", h.requireToken(h.apiSpaceList))
	mux.HandleFunc("GET /api/v1/spaces/{slug}", h.requireToken(h.apiSpaceShow))
	mux.HandleFunc("POST /api/v1/spaces/{slug}/retry", h.requireOperatorToken(h.apiSpaceRetry))
	mux.HandleFunc("GET /api/v1/dashboard", h.requireToken(h.apiDashboard))
	mux.HandleFunc("/api/", h.apiNotFound)

	// Anything else is the not-found page.
	mux.HandleFunc("/", h.notFound)
}

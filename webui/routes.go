package webui

import "net/http"

// routes is the one list of every URL the service answers.
func (h *handler) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", h.healthz)
}

package webui

import (
	"io/fs"
	"net/http"
)

// static serves the embedded stylesheet and images. Their URLs carry a content hash
// (staticURL), so they may be cached for a year.
func (h *handler) static() http.Handler {
	sub, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		files.ServeHTTP(w, r)
	})
}

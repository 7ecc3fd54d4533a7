package webui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// staticVersion changes when a static file does, so that their URLs can be cached for a year.
var staticVersion = func() string {
	h := sha256.New()
	fs.WalkDir(staticFiles, "static", func(path string, d fs.DirEntry, err error) error { //nolint:errcheck
		if err == nil && !d.IsDir() {
			b, _ := staticFiles.ReadFile(path)
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// pages are the parsed page templates: each page file together with the layout and partials.
type pages struct {
	byName map[string]*template.Template
}

// parsePages parses every template once, at start; a broken template fails New.
func parsePages() (*pages, error) {
	entries, err := fs.ReadDir(templateFiles, "templates")
	if err != nil {
		return nil, err
	}
	shared := []string{}
	var pageFiles []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "_") {
			shared = append(shared, "templates/"+e.Name())
		} else {
			pageFiles = append(pageFiles, e.Name())
		}
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, f := range pageFiles {
		name := strings.TrimSuffix(f, ".html")
		t, err := template.New(f).Funcs(templateFuncs).ParseFS(templateFiles, append([]string{"templates/" + f}, shared...)...)
		if err != nil {
			return nil, fmt.Errorf("webui: parse template %s: %w", f, err)
		}
		if t.Lookup("layout") == nil {
			return nil, fmt.Errorf("webui: template %s: no layout", f)
		}
		p.byName[name] = t
	}
	return p, nil
}

var templateFuncs = template.FuncMap{
	"staticURL": func(name string) string { return "/static/" + name + "?v=" + staticVersion },
	"add":       func(a, b int) int { return a + b },
}

// Size writes a size as the pages do, in the page's language: "1,5\u00a0GB" in French,
// "1.5\u00a0GB" in English (quota.FormatSize's units, with a no-break space so that "40 GB"
// never breaks across lines).
func (p page) Size(b int64) string {
	s := strings.Replace(quota.FormatSize(b), " ", "\u00a0", 1)
	if p.Lang == "fr" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// page is what every template gets: the language, the CSRF token, the logged-in moderator if
// any, and a one-line notice. Page data structs embed it.
type page struct {
	Lang      string
	CSRF      string
	Moderator *tenants.Moderator
	Notice    string // a translated confirmation shown at the top (role=status)
	Path      string
	loc       *time.Location
}

// T translates key with {name} arguments given as name, value pairs.
func (p page) T(key string, pairs ...any) string { return translate(p.Lang, key, pairs...) }

// Date writes a date in the page's language and the service's time zone.
func (p page) Date(t time.Time) string { return formatDate(p.Lang, t.In(p.loc)) }

// DateTime writes a date and time in the page's language and the service's time zone.
func (p page) DateTime(t time.Time) string { return formatDateTime(p.Lang, t.In(p.loc)) }

// Plural translates key+".one" or key+".other" by n as the page's language counts (in French
// 0 and 1 are singular), with n (written by Num) among the arguments.
func (p page) Plural(key string, n int, pairs ...any) string {
	form := ".other"
	if n == 1 || (n == 0 && p.Lang != "en") {
		form = ".one"
	}
	return p.T(key+form, append([]any{"n", p.Num(n)}, pairs...)...)
}

// Num writes a whole number with its thousands grouped as the page's language does: 12 345,
// 12,345.
func (p page) Num(n int) string { return formatNumber(p.Lang, int64(n)) }

// Time writes a time of day in the service's time zone.
func (p page) Time(t time.Time) string { return t.In(p.loc).Format("15:04") }

// OtherLang is the language the switch link offers.
func (p page) OtherLang() string {
	if p.Lang == "en" {
		return "fr"
	}
	return "en"
}

// newPage fills the common part of a page for r.
func (h *handler) newPage(r *http.Request) page {
	p := page{Lang: langFrom(r.Context()), CSRF: csrfTokenFrom(r.Context()), Path: r.URL.Path, loc: h.location}
	if m, ok := moderatorFrom(r.Context()); ok {
		p.Moderator = &m
	}
	return p
}

// render executes page name with data into a buffer, then writes it with status; a template
// error becomes the error page, never half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	t, ok := h.pages.byName[name]
	if !ok {
		h.serverError(w, r, fmt.Errorf("no page template %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		if name == "error" {
			h.Logger.ErrorContext(r.Context(), "render error page", "err", err)
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			return
		}
		h.serverError(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck
}

// errorPage is the data of the error page.
type errorPage struct {
	page
	Title string
	Text  string
}

// showError renders the error page with a translated title and text.
func (h *handler) showError(w http.ResponseWriter, r *http.Request, status int, titleKey, text string) {
	p := h.newPage(r)
	h.render(w, r, status, "error", errorPage{page: p, Title: p.T(titleKey), Text: text})
}

// serverError logs err with the request's details and shows a plain page with a reference the
// person can quote; the error itself is never shown. A database that cannot serve now gets the
// 503 page instead (see unavailable).
func (h *handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if unavailable(err) {
		h.serviceUnavailable(w, r, err)
		return
	}
	ref := tenants.NewSecret("")[:10]
	h.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", redactPath(r.URL.Path),
		"ref", ref, "err", err)
	p := h.newPage(r)
	h.render(w, r, http.StatusInternalServerError, "error", errorPage{page: p, Title: p.T("error.title"),
		Text: p.T("error.text", "ref", ref)})
}

// notFound shows the not-found page.
func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	p := h.newPage(r)
	h.showError(w, r, http.StatusNotFound, "error.notfound", p.T("error.notfound.text"))
}

// redactPath hides status tokens from logs.
func redactPath(path string) string {
	if rest, ok := strings.CutPrefix(path, "/status/"); ok && rest != "lost" {
		_, tail, _ := strings.Cut(rest, "/")
		return "/status/…/" + tail
	}
	return path
}

// seeOther redirects after a successful POST (POST/redirect/GET).
func seeOther(w http.ResponseWriter, r *http.Request, url string) {
	http.Redirect(w, r, url, http.StatusSeeOther)
}

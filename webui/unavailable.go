package webui

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// unavailableRetry is how long a 503 asks the client to wait: about a database restart.
const unavailableRetry = 30 * time.Second

// unavailable tells whether err means that the database cannot serve now — restarting, in
// recovery, unreachable, or out of disk — rather than a fault of the request or of the code. Such
// a request is answered 503 with Retry-After: nothing was recorded (each write is one
// transaction), and sending it again later works once the database is back, with no repair.
func unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case strings.HasPrefix(pgErr.Code, "53"): // insufficient resources: disk full, out of memory, too many connections
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // admin or crash shutdown, starting up
			return true
		case pgErr.Code == "58030": // io_error: the disk refused a write
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var opErr *net.OpError // the database's socket; the handlers reach nothing else over the network
	return errors.As(err, &connectErr) || errors.As(err, &opErr) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// serviceUnavailable shows the page saying that the service cannot answer for a moment, with
// status 503; err is logged.
func (h *handler) serviceUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.WarnContext(r.Context(), "request failed: database unavailable", "method", r.Method, "path", redactPath(r.URL.Path), "err", err)
	retryAfter(w, unavailableRetry)
	p := h.newPage(r)
	h.showError(w, r, http.StatusServiceUnavailable, "error.unavailable", p.T("error.unavailable.text"))
}

// applyFailed answers an application form that could not be recorded because of err. When the
// database cannot serve now (restarting, out of disk) nothing was recorded: the form comes back
// as typed, with its submission key, so that sending it again later is the same application, with
// 503, Retry-After and a message saying so. Any other error gets the error page.
func (h *handler) applyFailed(w http.ResponseWriter, r *http.Request, f applicationForm, err error) {
	if !unavailable(err) {
		h.serverError(w, r, err)
		return
	}
	h.Logger.WarnContext(r.Context(), "application not recorded: database unavailable", "err", err)
	retryAfter(w, unavailableRetry)
	h.renderApply(w, r, http.StatusServiceUnavailable, f, func(p *applyPage) { p.FormError = p.T("apply.unavailable") })
}

package webui

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// The exports of a space: an operator asks for one (an export_space job makes the archive), follows
// its progress, then downloads the archive to hand it to the association. Nothing here reads the
// space itself: the job does.

// apiExportView is the API's answer about one export.
type apiExportView struct {
	Export tenants.Export `json:"export"`
}

// apiSpaceExportCreate is POST /api/v1/spaces/{slug}/exports: 202 with the export queued, audited
// as the token's decision (space.export); 200 with the export already queued or running, if
// there is one (a space has one at a time). Only an active or suspended space can be exported.
func (h *handler) apiSpaceExportCreate(w http.ResponseWriter, r *http.Request) {
	s, ok := h.apiSpaceBySlug(w, r)
	if !ok {
		return
	}
	if !jobs.Exportable(s) {
		h.apiFail(w, r, http.StatusConflict, "invalid_state", "", jobs.NotExportableReason(s))
		return
	}
	e, created, err := jobs.RequestExport(r.Context(), h.Pool, h.Jobs, s.ID, apiActor(r.Context()))
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
		h.Logger.InfoContext(r.Context(), "space export requested", "space", s.Slug, "export_id", e.ID, "actor", apiActor(r.Context()))
	}
	h.apiJSON(w, r, status, apiExportView{Export: e})
}

// apiSpaceExportList is GET /api/v1/spaces/{slug}/exports: the space's last exports, newest first.
func (h *handler) apiSpaceExportList(w http.ResponseWriter, r *http.Request) {
	s, ok := h.apiSpaceBySlug(w, r)
	if !ok {
		return
	}
	list, err := tenants.ListExports(r.Context(), h.Pool, s.ID, 20)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	if list == nil {
		list = []tenants.Export{}
	}
	h.apiJSON(w, r, http.StatusOK, map[string]any{"exports": list})
}

// apiSpaceExportShow is GET /api/v1/spaces/{slug}/exports/{id}: the export and its progress.
func (h *handler) apiSpaceExportShow(w http.ResponseWriter, r *http.Request) {
	e, ok := h.apiExport(w, r)
	if !ok {
		return
	}
	h.apiJSON(w, r, http.StatusOK, apiExportView{Export: e})
}

// apiSpaceExportArchive is GET /api/v1/spaces/{slug}/exports/{id}/archive: the finished archive,
// with its length (for progress) and its SHA-256 (Repr-Digest), ranges allowed for a resumed
// download; each download is audited (space.export_download). 409 while the export is not done,
// 410 once its archive was removed after the retention.
func (h *handler) apiSpaceExportArchive(w http.ResponseWriter, r *http.Request) {
	e, ok := h.apiExport(w, r)
	if !ok {
		return
	}
	switch e.State {
	case tenants.ExportQueued, tenants.ExportRunning:
		h.apiFail(w, r, http.StatusConflict, "export_not_done", "", fmt.Sprintf("export %d of %s is %s (%s written); its archive can be downloaded once it is done",
			e.ID, e.Slug, e.State, quota.FormatSize(e.BytesWritten)))
		return
	case tenants.ExportFailed:
		h.apiFail(w, r, http.StatusConflict, "export_failed", "", fmt.Sprintf("export %d of %s failed: %s", e.ID, e.Slug, e.Error))
		return
	case tenants.ExportExpired:
		h.apiFail(w, r, http.StatusGone, "export_expired", "", fmt.Sprintf("the archive of export %d of %s was removed after its retention; ask for a new export", e.ID, e.Slug))
		return
	}
	f, err := os.Open(e.Path)
	if errors.Is(err, fs.ErrNotExist) {
		// Several servers with an export directory each: the archive is on another one.
		h.Logger.WarnContext(r.Context(), "export archive missing from this server's export directory (SPACES_EXPORT_DIR must be shared by every server)",
			"export_id", e.ID, "path", e.Path)
		h.apiFail(w, r, http.StatusServiceUnavailable, "archive_unavailable", "", fmt.Sprintf(
			"the archive of export %d is not in this server's export directory; every server must share SPACES_EXPORT_DIR", e.ID))
		return
	}
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	if r.Method == http.MethodGet {
		if err := tenants.RecordExportDownload(r.Context(), h.Pool, e, apiActor(r.Context())); err != nil {
			h.apiInternal(w, r, err)
			return
		}
		h.Logger.InfoContext(r.Context(), "space export downloaded", "space", e.Slug, "export_id", e.ID,
			"actor", apiActor(r.Context()), "range", r.Header.Get("Range") != "")
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/gzip")
	hdr.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", e.FileName))
	hdr.Set("Cache-Control", "no-store")
	if sum, err := hex.DecodeString(e.SHA256); err == nil {
		hdr.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	}
	hdr.Set("X-Export-Id", strconv.FormatInt(e.ID, 10))
	// The server's timeouts are for pages; an archive may take hours. The write deadline moves on
	// while bytes flow, so only a stalled client is cut; the read deadline goes, or the server
	// would take the request for abandoned when it passes.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{}) //nolint:errcheck // not every writer has deadlines (tests)
	http.ServeContent(&slidingDeadline{ResponseWriter: w, rc: rc}, r, e.FileName, fi.ModTime(), f)
}

// apiExport reads the export named in the path, of the space named there, or answers 404.
func (h *handler) apiExport(w http.ResponseWriter, r *http.Request) (tenants.Export, bool) {
	s, ok := h.apiSpaceBySlug(w, r)
	if !ok {
		return tenants.Export{}, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "id", "the export id must be a whole number from 1")
		return tenants.Export{}, false
	}
	e, err := tenants.GetExport(r.Context(), h.Pool, id)
	if errors.Is(err, tenants.ErrNotFound) || err == nil && e.SpaceID != s.ID {
		h.apiFail(w, r, http.StatusNotFound, "not_found", "id", fmt.Sprintf("space %s has no export %d", s.Slug, id))
		return tenants.Export{}, false
	}
	if err != nil {
		h.apiInternal(w, r, err)
		return tenants.Export{}, false
	}
	return e, true
}

// slidingDeadline pushes the connection's write deadline forward as a long response is written.
type slidingDeadline struct {
	http.ResponseWriter
	rc    *http.ResponseController
	moved time.Time
}

// downloadStall is how long a download may make no progress before the connection is cut.
const downloadStall = time.Minute

func (s *slidingDeadline) Write(p []byte) (int, error) {
	if now := time.Now(); now.Sub(s.moved) > downloadStall/4 {
		s.rc.SetWriteDeadline(now.Add(downloadStall)) //nolint:errcheck // not every writer has deadlines (tests)
		s.moved = now
	}
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *slidingDeadline) Unwrap() http.ResponseWriter { return s.ResponseWriter }

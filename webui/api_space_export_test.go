package webui

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// TestAPISpaceExports asks for exports, follows them and downloads an archive, as the CLI does;
// no job runs here, the test plays the export job's part through its store functions.
func TestAPISpaceExports(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	op, opSecret, err := tenants.CreateAPIToken(ctx, e.pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	_, readSecret, err := tenants.CreateAPIToken(ctx, e.pool, tenants.NewAPIToken{Name: "watch", Scope: tenants.ScopeRead}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	space := func(slug string, states ...tenants.SpaceState) tenants.Space {
		s, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: slug, AssociationName: "Asso " + slug,
			ContactEmail: slug + "@example.org", Limits: quota.DefaultLimits}, tenants.ActorSystem)
		if err != nil {
			t.Fatal(err)
		}
		for _, to := range states {
			if s, err = tenants.TransitionSpace(ctx, e.pool, s.ID, tenants.Transition{To: to, Actor: tenants.ActorReconciler,
				Reason: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	active := space("alpha", tenants.SpaceProvisioning, tenants.SpaceActive)
	space("queued")
	other := space("beta", tenants.SpaceProvisioning, tenants.SpaceActive)

	t.Run("bad requests", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, token string
			status              int
			code, msg           string
		}{
			{"POST", "/api/v1/spaces/nope/exports", opSecret, 404, "not_found", "no space named nope"},
			{"POST", "/api/v1/spaces/queued/exports", opSecret, 409, "invalid_state", "space queued is queued; only an active or suspended space can be exported"},
			{"POST", "/api/v1/spaces/alpha/exports", readSecret, 403, "forbidden_scope", ""},
			{"POST", "/api/v1/spaces/alpha/exports", "", 401, "unauthorized", ""},
			{"GET", "/api/v1/spaces/alpha/exports/x", opSecret, 400, "invalid_parameter", ""},
			{"GET", "/api/v1/spaces/alpha/exports/999", opSecret, 404, "not_found", ""},
			{"GET", "/api/v1/spaces/nope/exports/1/archive", opSecret, 404, "not_found", "no space named nope"},
		} {
			status, body := e.apiCall(tc.method, tc.path, tc.token)
			code, _ := apiErrorOf(body)
			msg, _ := body["error"].(map[string]any)["message"].(string)
			if status != tc.status || code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Errorf("%s %s: %d %v; want %d %s %q", tc.method, tc.path, status, body, tc.status, tc.code, tc.msg)
			}
		}
	})

	status, body := e.apiCall("POST", "/api/v1/spaces/alpha/exports", opSecret)
	if status != http.StatusAccepted {
		t.Fatalf("POST: %d %v", status, body)
	}
	ex := body["export"].(map[string]any)
	id := int64(ex["id"].(float64))
	if ex["state"] != "queued" || ex["slug"] != "alpha" || ex["requested_by"] != string(tenants.TokenActor(op.ID)) {
		t.Errorf("export = %v", ex)
	}
	if _, leaked := ex["path"]; leaked {
		t.Error("the export's path on the server is in the API's answer")
	}
	var jobs int
	e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'export_space' AND (args->>'export_id')::bigint = $1`, id).Scan(&jobs) //nolint:errcheck
	if jobs != 1 {
		t.Errorf("%d export jobs enqueued, want 1", jobs)
	}
	// Asked again while it waits: the same export, no second job, no second audit entry.
	status, body = e.apiCall("POST", "/api/v1/spaces/alpha/exports", opSecret)
	if status != http.StatusOK || int64(body["export"].(map[string]any)["id"].(float64)) != id {
		t.Errorf("second POST: %d %v; want 200 with export %d", status, body, id)
	}
	path := fmt.Sprintf("/api/v1/spaces/alpha/exports/%d", id)
	if status, body = e.apiCall("GET", "/api/v1/spaces/beta/exports/"+fmt.Sprint(id), readSecret); status != 404 {
		t.Errorf("export of alpha through beta: %d %v", status, body)
	}

	// The job's part: running, with progress.
	if _, err := tenants.ClaimExport(ctx, e.pool, id, "r", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := tenants.RecordExportProgress(ctx, e.pool, id, "r", 3<<20); err != nil {
		t.Fatal(err)
	}
	status, body = e.apiCall("GET", path, readSecret)
	if ex := body["export"].(map[string]any); status != 200 || ex["state"] != "running" || ex["bytes_written"].(float64) != 3<<20 {
		t.Errorf("progress: %d %v", status, body)
	}
	status, body = e.apiCall("GET", path+"/archive", opSecret)
	if code, _ := apiErrorOf(body); status != http.StatusConflict || code != "export_not_done" {
		t.Errorf("archive while running: %d %v", status, body)
	}

	// Done: the archive downloads whole, with its length and digest, and each download is audited.
	archive := []byte(strings.Repeat("archive bytes ", 2_400_000)) // 32 MB: more than the sockets buffer
	file := filepath.Join(t.TempDir(), "alpha-20261130T100000Z.tar.gz")
	if err := os.WriteFile(file, archive, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(archive)
	if err := tenants.SetExportFile(ctx, e.pool, id, "r", filepath.Base(file), file); err != nil {
		t.Fatal(err)
	}
	if err := tenants.FinishExport(ctx, e.pool, id, "r", tenants.ExportResult{BytesWritten: int64(len(archive)), SHA256: hex.EncodeToString(sum[:])},
		time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	get := func(token, rng string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.srv.URL+path+"/archive", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, got := get(opSecret, "")
	if resp.StatusCode != 200 || string(got) != string(archive) || resp.ContentLength != int64(len(archive)) {
		t.Fatalf("download: %d, %d bytes (Content-Length %d) of %d", resp.StatusCode, len(got), resp.ContentLength, len(archive))
	}
	if h := resp.Header; h.Get("Content-Type") != "application/gzip" || !strings.Contains(h.Get("Content-Disposition"), `filename="alpha-20261130T100000Z.tar.gz"`) ||
		h.Get("Repr-Digest") != "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":" {
		t.Errorf("download headers: %v", h)
	}
	resp, got = get(opSecret, "bytes=100-")
	if resp.StatusCode != http.StatusPartialContent || string(got) != string(archive[100:]) {
		t.Errorf("resumed download: %d, %d bytes", resp.StatusCode, len(got))
	}
	// Behind the service's own timeouts (far shorter here), a slow download goes to its end.
	slow := httptest.NewUnstartedServer(e.srv.Config.Handler)
	slow.Config.ReadTimeout, slow.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	slow.Start()
	t.Cleanup(slow.Close)
	req, _ := http.NewRequest("GET", slow.URL+path+"/archive", nil)
	req.Header.Set("Authorization", "Bearer "+opSecret)
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var slowGot []byte
	buf := make([]byte, len(archive)/8)
	for {
		n, err := io.ReadFull(sresp.Body, buf)
		slowGot = append(slowGot, buf[:n]...)
		if err != nil {
			break
		}
		time.Sleep(150 * time.Millisecond) // past both timeouts in all
	}
	sresp.Body.Close()
	if string(slowGot) != string(archive) {
		t.Errorf("slow download: %d bytes of %d", len(slowGot), len(archive))
	}
	if resp, _ := get(readSecret, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("download with a read-only token: %d, want 403 (the archive holds personal data)", resp.StatusCode)
	}
	trail, err := tenants.AuditTrail(ctx, e.pool, "space", active.ID)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, a := range trail {
		counts[a.Action]++
		if strings.HasPrefix(a.Action, "space.export") && (a.Actor != tenants.TokenActor(op.ID) || len(a.Detail) != 1) {
			t.Errorf("audit entry %+v; want the operator token's, with the export id alone", a)
		}
	}
	if counts["space.export"] != 1 || counts["space.export_download"] != 3 {
		t.Errorf("audit actions %v; want one export and three downloads", counts)
	}
	status, body = e.apiCall("GET", "/api/v1/spaces/alpha/exports", readSecret)
	if list := body["exports"].([]any); status != 200 || len(list) != 1 || list[0].(map[string]any)["downloaded_at"] == nil {
		t.Errorf("list: %d %v", status, body)
	}

	// Expired: gone. Failed: its reason.
	if err := tenants.ExpireExport(ctx, e.pool, id); err != nil {
		t.Fatal(err)
	}
	status, body = e.apiCall("GET", path+"/archive", opSecret)
	if code, _ := apiErrorOf(body); status != http.StatusGone || code != "export_expired" {
		t.Errorf("expired archive: %d %v", status, body)
	}
	failed, _, err := tenants.RequestExport(ctx, e.pool, active.ID, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	if err := tenants.FailExport(ctx, e.pool, failed.ID, "", "read the files of allocation 1234: no such task"); err != nil {
		t.Fatal(err)
	}
	status, body = e.apiCall("GET", fmt.Sprintf("/api/v1/spaces/alpha/exports/%d/archive", failed.ID), opSecret)
	msg, _ := body["error"].(map[string]any)["message"].(string)
	if code, _ := apiErrorOf(body); status != http.StatusConflict || code != "export_failed" || !strings.Contains(msg, "no such task") {
		t.Errorf("failed export's archive: %d %v", status, body)
	}
	// A done export whose file is not on this server: the directory is not shared.
	moved, _, _ := tenants.RequestExport(ctx, e.pool, other.ID, tenants.ActorSystem)
	tenants.ClaimExport(ctx, e.pool, moved.ID, "m", time.Minute)                                                    //nolint:errcheck
	tenants.SetExportFile(ctx, e.pool, moved.ID, "m", "beta.tar.gz", "/nonexistent/beta.tar.gz")                    //nolint:errcheck
	tenants.FinishExport(ctx, e.pool, moved.ID, "m", tenants.ExportResult{SHA256: "00"}, time.Now().Add(time.Hour)) //nolint:errcheck
	status, body = e.apiCall("GET", fmt.Sprintf("/api/v1/spaces/beta/exports/%d/archive", moved.ID), opSecret)
	if code, _ := apiErrorOf(body); status != http.StatusServiceUnavailable || code != "archive_unavailable" {
		t.Errorf("archive missing from this server: %d %v", status, body)
	}
}

package standin_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/assospaces/spaces/provisioner/nextcloud"
)

// TestPastQuota writes bytes past an account's quota (its quota lowered under what it stores),
// then deletes them, as the service's tests do: uploads are refused while reads go on, the details
// show Nextcloud 31's unclamped numbers, and a WebDAV DELETE gives the room back.
func TestPastQuota(t *testing.T) {
	in := newInstance(t)
	ctx := context.Background()
	c := in.client(t)
	const pw = "long enough pw"
	if _, err := c.CreateUser(ctx, nextcloud.CreateUser{UserID: "bob", Password: pw, Quota: "2 KB"}); err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("z"), 1500)
	if code, body := in.upload(t, "bob", pw, "a.bin", content, false); code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, body)
	}
	if err := c.SetQuota(ctx, "bob", "1 KB"); err != nil {
		t.Fatal(err)
	}
	u, err := c.UserDetails(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if u.Quota.Used != 1500 || u.Quota.Free != 1024-1500 || u.Quota.Total != 1024 || u.Quota.Relative != 146.48 {
		t.Errorf("past the quota: %+v", u.Quota)
	}
	for _, tt := range []struct {
		name, path string
		size       int
		chunked    bool
		msg        string
	}{
		{"new file", "b.bin", 1, false, "Insufficient space in /b.bin, 1 required, 0 available"},
		{"new file, length unknown", "b.bin", 1, true, "Insufficient space in /b.bin, 1 required, 0 available"},
		{"smaller overwrite", "a.bin", 10, false, "Insufficient space in /a.bin, 10 required, 0 available"},
	} {
		code, body := in.upload(t, "bob", pw, tt.path, bytes.Repeat([]byte("y"), tt.size), tt.chunked)
		if code != http.StatusInsufficientStorage || !strings.Contains(string(body), "<s:message>"+tt.msg+"</s:message>") {
			t.Errorf("%s: %d %s", tt.name, code, body)
		}
	}
	// Reads go on.
	req, _ := http.NewRequest(http.MethodGet, in.http.URL+"/remote.php/dav/files/bob/a.bin", nil)
	req.SetBasicAuth("bob", pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Errorf("read past the quota: %d, %d bytes", resp.StatusCode, len(got))
	}
	// DELETE removes the bytes: used drops and uploads fit again.
	for _, want := range []int{http.StatusNoContent, http.StatusNotFound} {
		req, _ = http.NewRequest(http.MethodDelete, in.http.URL+"/remote.php/dav/files/bob/a.bin", nil)
		req.SetBasicAuth("bob", pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("delete: %d, want %d", resp.StatusCode, want)
		}
	}
	if u, err := c.UserDetails(ctx, "bob"); err != nil || u.Quota.Used != 0 || u.Quota.Free != 1024 || u.Quota.Relative != 0 {
		t.Errorf("after delete: %+v %v", u.Quota, err)
	}
	if code, body := in.upload(t, "bob", pw, "b.bin", bytes.Repeat([]byte("y"), 1024), false); code != http.StatusCreated {
		t.Errorf("upload after delete: %d %s", code, body)
	}
	total, err := c.TotalUsedBytes(ctx)
	if err != nil || total != 1024 {
		t.Errorf("total %d %v", total, err)
	}
}

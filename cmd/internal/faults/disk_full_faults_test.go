//go:build faults

package faults_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// smallDisk mounts a tmpfs of size MiB at a new folder and unmounts it at cleanup: a disk the
// test can fill. Mounting needs root (or CAP_SYS_ADMIN); the test fails without it.
func smallDisk(t *testing.T, mib int) string {
	t.Helper()
	dir := filepath.Join(privateDir(t), "disk")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm,mode=0755", mib), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mount a %d MiB tmpfs at %s (this test needs root or CAP_SYS_ADMIN): %v: %s", mib, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes path until the disk holding it has no room left, and returns how much it wrote.
func fill(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	var n int64
	for {
		w, err := f.Write(chunk)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestFaultDiskFull: the disk of the service's PostgreSQL (a small tmpfs holding the whole
// cluster, WAL included) is filled by something else until the database's writes fail. Then an
// application form is answered 503 with the form as typed (its submission key kept) and
// Retry-After, and an API decision with a structured 503 "unavailable"; reads still work. Once
// the space is freed, with no repair by hand, the same form sent again is recorded once, and
// new forms and decisions go through.
func TestFaultDiskFull(t *testing.T) {
	disk := smallDisk(t, 96)
	pg := privatePostgres(t, filepath.Join(disk, "pg"))
	s := newService(t, pg)
	b := s.newBrowser()

	var forms []url.Values
	n := 0
	send := func() (url.Values, int, string, http.Header) {
		n++
		f := applicationForm(n)
		status, body, header := b.submit(f)
		return f, status, body, header
	}
	f, status, body, _ := send()
	if status != http.StatusSeeOther {
		t.Fatalf("first form: HTTP %d\n%.2000s", status, body)
	}
	forms = append(forms, f)
	var firstID int64
	if err := s.pool.QueryRow(t.Context(), `SELECT min(id) FROM applications`).Scan(&firstID); err != nil {
		t.Fatal(err)
	}
	ask := fmt.Sprintf("/api/v1/applications/%d/ask", firstID)

	ballast := filepath.Join(disk, "ballast")
	wrote := fill(t, ballast)
	t.Logf("disk filled with %d MiB", wrote>>20)
	// Rows still fit in pages the tables have; forms go through until one needs a new page.
	var refused url.Values
	for i := 0; i < 5000 && refused == nil; i++ {
		f, status, body, header := send()
		switch status {
		case http.StatusSeeOther:
			forms = append(forms, f)
		case http.StatusServiceUnavailable:
			checkUnavailablePage(t, f, body, header)
			refused = f
		default:
			t.Fatalf("form on a full disk: HTTP %d, want 303 or 503\n%.2000s", status, body)
		}
	}
	if refused == nil {
		t.Fatal("the database kept writing on a full disk")
	}
	t.Logf("%d forms recorded before the disk refused one", len(forms))
	if status, code := s.api(http.MethodPost, ask, `{"message": "Quels sont vos statuts ?"}`); status != http.StatusServiceUnavailable || code != "unavailable" {
		t.Errorf("API decision on a full disk: HTTP %d %q, want 503 unavailable", status, code)
	}
	if status, code := s.api(http.MethodGet, "/api/v1/applications/"+strconv.FormatInt(firstID, 10), ""); status != http.StatusOK {
		t.Errorf("API read on a full disk: HTTP %d %q, want 200", status, code)
	}

	// Space freed: the service writes again, with nothing repaired by hand.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refused form recorded once the disk has room", func() bool {
		status, body, _ := b.submit(refused)
		if status != http.StatusSeeOther && status != http.StatusServiceUnavailable {
			t.Fatalf("form sent again: HTTP %d\n%.2000s", status, body)
		}
		return status == http.StatusSeeOther
	})
	forms = append(forms, refused)
	f, status, body, _ = send()
	if status != http.StatusSeeOther {
		t.Errorf("new form after the disk has room: HTTP %d\n%.2000s", status, body)
	}
	forms = append(forms, f)
	if status, code := s.api(http.MethodPost, ask, `{"message": "Quels sont vos statuts ?"}`); status != http.StatusOK {
		t.Errorf("API decision after the disk has room: HTTP %d %q, want 200", status, code)
	}
	checkApplications(t, s.pool, forms)
	if t.Failed() {
		log, _ := os.ReadFile(filepath.Join(disk, "pg", "postgres.log"))
		t.Logf("postgres log:\n%s", strings.TrimSpace(string(log)))
	}
}

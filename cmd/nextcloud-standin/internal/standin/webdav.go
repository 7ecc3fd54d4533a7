package standin

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// serveDAV handles /remote.php/dav/files/{user}/{path} (and the legacy /remote.php/webdav/{path}
// for the logged-in user): PUT, GET, MKCOL and DELETE on the user's home, with quota checks on
// real bytes: a write that would go over the quota is refused with 507 Insufficient Storage.
func (s *Server) serveDAV(w http.ResponseWriter, r *http.Request) {
	u := s.authenticate(r)
	if u == nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="Nextcloud", charset="UTF-8"`)
		sabreError(w, http.StatusUnauthorized, `Sabre\DAV\Exception\NotAuthenticated`,
			"No public access to this resource., No 'Authorization: Basic' header found. Either the client didn't send one, or the server is misconfigured, Cannot authenticate over ajax calls")
		return
	}
	owner, rel, err := davTarget(r.URL.EscapedPath(), u.ID)
	if err != nil {
		sabreError(w, http.StatusBadRequest, `Sabre\DAV\Exception\BadRequest`, err.Error())
		return
	}
	target, err := s.store.user(r.Context(), owner)
	if err != nil || (target.ID != u.ID && !isAdmin(u)) {
		sabreError(w, http.StatusNotFound, `Sabre\DAV\Exception\NotFound`, "Principal with name "+owner+" not found")
		return
	}
	if err := s.ensureHome(target.ID); err != nil {
		sabreError(w, http.StatusInternalServerError, `Sabre\DAV\Exception`, "could not create home")
		return
	}
	full := filepath.Join(s.home(target.ID), filepath.FromSlash(rel))
	switch r.Method {
	case http.MethodPut:
		s.davPut(w, r, target, full, rel)
	case http.MethodGet, http.MethodHead:
		info, err := os.Stat(full)
		if err != nil {
			sabreError(w, http.StatusNotFound, `Sabre\DAV\Exception\NotFound`, "File with name "+rel+" could not be located")
			return
		}
		if info.IsDir() {
			sabreError(w, http.StatusNotImplemented, `Sabre\DAV\Exception\NotImplemented`, "GET is only implemented on File objects")
			return
		}
		f, err := os.Open(full)
		if err != nil {
			sabreError(w, http.StatusInternalServerError, `Sabre\DAV\Exception`, "could not open file")
			return
		}
		defer f.Close()
		w.Header().Set("ETag", etag(info))
		http.ServeContent(w, r, info.Name(), info.ModTime(), f)
	case "MKCOL":
		if rel == "" {
			sabreError(w, http.StatusMethodNotAllowed, `Sabre\DAV\Exception\MethodNotAllowed`, "The resource you tried to create already exists")
			return
		}
		if _, err := os.Stat(filepath.Dir(full)); err != nil {
			sabreError(w, http.StatusConflict, `Sabre\DAV\Exception\Conflict`, "Parent node does not exist")
			return
		}
		if err := os.Mkdir(full, 0o750); err != nil {
			if errors.Is(err, fs.ErrExist) {
				sabreError(w, http.StatusMethodNotAllowed, `Sabre\DAV\Exception\MethodNotAllowed`, "The resource you tried to create already exists")
				return
			}
			sabreError(w, http.StatusInternalServerError, `Sabre\DAV\Exception`, "could not create collection")
			return
		}
		w.WriteHeader(http.StatusCreated)
	case http.MethodDelete:
		if rel == "" {
			sabreError(w, http.StatusForbidden, `Sabre\DAV\Exception\Forbidden`, "Could not delete home")
			return
		}
		if _, err := os.Lstat(full); err != nil {
			sabreError(w, http.StatusNotFound, `Sabre\DAV\Exception\NotFound`, "File with name "+rel+" could not be located")
			return
		}
		if err := os.RemoveAll(full); err != nil {
			sabreError(w, http.StatusInternalServerError, `Sabre\DAV\Exception`, "could not delete")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "OPTIONS, GET, HEAD, DELETE, PUT, MKCOL")
		sabreError(w, http.StatusNotImplemented, `Sabre\DAV\Exception\NotImplemented`, "There was no plugin in the system that was willing to handle this "+r.Method+" method.")
	}
}

// davTarget returns the owner and the slash-separated path inside the owner's home; it refuses
// paths that leave the home.
func davTarget(escaped, login string) (owner, rel string, err error) {
	var rest string
	switch {
	case strings.HasPrefix(escaped, "/remote.php/dav/files/"):
		rest = strings.TrimPrefix(escaped, "/remote.php/dav/files/")
		o, r, _ := strings.Cut(rest, "/")
		if owner, err = url.PathUnescape(o); err != nil || owner == "" {
			return "", "", errors.New("bad user in path")
		}
		rest = r
	case strings.HasPrefix(escaped, "/remote.php/webdav/"):
		owner, rest = login, strings.TrimPrefix(escaped, "/remote.php/webdav/")
	default:
		return "", "", errors.New("not a files path")
	}
	var parts []string
	for _, seg := range strings.Split(rest, "/") {
		if seg == "" {
			continue
		}
		p, err := url.PathUnescape(seg)
		if err != nil || p == "." || p == ".." || strings.ContainsAny(p, "/\\\x00") {
			return "", "", fmt.Errorf("bad path segment %q", seg)
		}
		parts = append(parts, p)
	}
	return owner, path.Join(parts...), nil
}

// davPut writes a file through a temporary file in the user's upload folder, checking the quota
// against the declared length first and against the bytes actually received. As Nextcloud's
// QuotaPlugin (apps/dav/lib/Connector/Sabre/QuotaPlugin.php), the length is checked against the
// free space as it is, the file being replaced included: an account at or past its quota can
// write nothing more until it deletes something, and reads on.
func (s *Server) davPut(w http.ResponseWriter, r *http.Request, u *User, full, rel string) {
	quotaPath := "/" + rel // the Sabre node's path, as the 507 message names it
	// sabre/dav's Server::checkPreconditions, before any plugin: If-None-Match: * on an
	// existing node is 412.
	if strings.TrimSpace(r.Header.Get("If-None-Match")) == "*" {
		if _, err := os.Stat(full); err == nil {
			sabreError(w, http.StatusPreconditionFailed, `Sabre\DAV\Exception\PreconditionFailed`,
				"An If-None-Match header was specified, but the ETag matched (or * was specified).")
			return
		}
	}
	if info, err := os.Stat(full); err == nil && info.IsDir() {
		sabreError(w, http.StatusConflict, `Sabre\DAV\Exception\Conflict`, "Could not write to a collection")
		return
	}
	if info, err := os.Stat(filepath.Dir(full)); err != nil || !info.IsDir() {
		sabreError(w, http.StatusConflict, `Sabre\DAV\Exception\Conflict`, "Files cannot be created in non-existent collections")
		return
	}
	free, err := s.davFreeSpace(r, u)
	if err != nil {
		sabreError(w, http.StatusInternalServerError, `Sabre\DAV\Exception`, "could not measure usage")
		return
	}
	// QuotaPlugin::getLength: the largest of the lengths the client declared.
	length := int64(-1)
	for _, h := range []string{"X-Expected-Entity-Length", "Content-Length", "OC-Total-Length"} {
		if n, err := strconv.ParseInt(strings.TrimSpace(r.Header.Get(h)), 10, 64); err == nil {
			length = max(length, n)
		}
	}
	if free >= 0 && length > free {
		sabreError(w, http.StatusInsufficientStorage, `Sabre\DAV\Exception\InsufficientStorage`,
			fmt.Sprintf("Insufficient space in %s, %d required, %d available", quotaPath, length, free))
		return
	}
	uploads := filepath.Join(s.dataDir, u.ID, "uploads")
	if err := os.MkdirAll(uploads, 0o750); err != nil {
		sabreError(w, http.StatusInternalServerError, `Sabre\DAV\Exception`, "could not create upload folder")
		return
	}
	tmp, err := os.CreateTemp(uploads, "put-*.part")
	if err != nil {
		sabreError(w, http.StatusInternalServerError, `Sabre\DAV\Exception`, "could not create part file")
		return
	}
	defer os.Remove(tmp.Name())
	var src io.Reader = r.Body
	if free >= 0 {
		src = io.LimitReader(r.Body, free+1)
	}
	n, err := io.Copy(tmp, src)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		sabreError(w, http.StatusBadRequest, `Sabre\DAV\Exception\BadRequest`, "Expected filesize of "+strconv.FormatInt(length, 10)+" bytes but read (from Nextcloud client) and wrote (to Nextcloud storage) "+strconv.FormatInt(n, 10)+" bytes. Could either be a network problem on the sending side or a problem writing to the storage on the server side.")
		return
	}
	if free >= 0 && n > free {
		sabreError(w, http.StatusInsufficientStorage, `Sabre\DAV\Exception\InsufficientStorage`,
			fmt.Sprintf("Insufficient space in %s, %d required, %d available", quotaPath, n, free))
		return
	}
	_, existed := os.Stat(full)
	if err := os.Rename(tmp.Name(), full); err != nil {
		sabreError(w, http.StatusInternalServerError, `Sabre\DAV\Exception`, "could not store file")
		return
	}
	info, err := os.Stat(full)
	if err == nil {
		w.Header().Set("ETag", etag(info))
		w.Header().Set("OC-ETag", etag(info))
	}
	if existed == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// davFreeSpace is the Quota storage wrapper's free_space for the account's files
// (lib/private/Files/Storage/Wrapper/Quota.php): with a quota, max(quota - used, 0) bounded by the
// disk's free space; without, the disk's free space; -1 when unknown (no check then).
func (s *Server) davFreeSpace(r *http.Request, u *User) (int64, error) {
	q, err := s.effectiveQuota(r.Context(), u)
	if err != nil {
		return 0, err
	}
	disk := freeSpace(s.dataDir)
	if disk < 0 {
		disk = -1
	}
	quota := quotaBytes(q)
	if quota < 0 {
		return disk, nil
	}
	used, err := dirSize(s.home(u.ID))
	if err != nil {
		return 0, err
	}
	free := max(quota-used, 0)
	if disk >= 0 {
		free = min(free, disk)
	}
	return free, nil
}

func etag(info os.FileInfo) string {
	sum := md5.Sum([]byte(info.Name() + strconv.FormatInt(info.Size(), 10) + info.ModTime().Format(time.RFC3339Nano)))
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

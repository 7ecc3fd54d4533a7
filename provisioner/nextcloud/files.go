package nextcloud

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// PutFileIfAbsent writes content to path in user's files over WebDAV
// (remote.php/dav/files/USER/PATH), logged in as that user with password, only when no file is
// there: the PUT carries If-None-Match: *, which Nextcloud (sabre/dav) answers with 412 when the
// file exists. created is false when it existed; an admin cannot write another account's files.
func (c *Client) PutFileIfAbsent(ctx context.Context, user, password, path string, content []byte) (created bool, err error) {
	u := *c.base
	segs := []string{"remote.php", "dav", "files", url.PathEscape(user)}
	for _, s := range strings.Split(strings.Trim(path, "/"), "/") {
		segs = append(segs, url.PathEscape(s))
	}
	u.RawPath = strings.TrimRight(c.base.EscapedPath(), "/") + "/" + strings.Join(segs, "/")
	u.Path, _ = url.PathUnescape(u.RawPath)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(content))
	if err != nil {
		return false, fmt.Errorf("nextcloud: put file: build request: %w", err)
	}
	if c.host != "" {
		req.Host = c.host
	}
	req.SetBasicAuth(user, password)
	req.Header.Set("If-None-Match", "*")
	req.Header.Set("Content-Type", "text/markdown; charset=utf-8")
	resp, err := c.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("nextcloud: put file: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusNoContent:
		return true, nil
	case resp.StatusCode == http.StatusPreconditionFailed:
		return false, nil
	default:
		return false, &Error{Op: "put file", Method: http.MethodPut, Path: u.Path, HTTPStatus: resp.StatusCode,
			Message: snippet(body), Maintenance: resp.Header.Get("X-Nextcloud-Maintenance-Mode") == "1"}
	}
}

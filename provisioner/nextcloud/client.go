// Package nextcloud is a client for the part of Nextcloud's HTTP API the provisioner uses:
// status.php, the provisioning API (users, quotas, enable/disable, groups, sub-admins, app
// config) and the serverinfo app.
//
// It speaks JSON (`?format=json`) over the OCS envelope and checks both the HTTP status and the
// OCS statuscode, because OCS v1 reports most failures under HTTP 200. Failures come back as
// *Error, which matches the sentinel errors of this package with errors.Is.
package nextcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxBody bounds what the client reads from one response.
const maxBody = 32 << 20

// Client talks to one Nextcloud instance. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	http       *http.Client
	user, pass string
	token      string
	host       string
	version    int
	pageSize   int
}

// Option configures a Client.
type Option func(*Client)

// WithBasicAuth authenticates every OCS call as user with password (an app password for the admin).
func WithBasicAuth(user, password string) Option {
	return func(c *Client) { c.user, c.pass = user, password }
}

// WithServerInfoToken sends `NC-Token: token` to the serverinfo endpoint, which then needs no login.
func WithServerInfoToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// WithHTTPClient replaces http.DefaultClient.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) { c.http = h }
}

// WithHost sends host as the Host header instead of the base URL's host: to reach a space
// through its routed name on a shared address, or one tenant of a multi-tenant stand-in.
func WithHost(host string) Option {
	return func(c *Client) { c.host = host }
}

// WithOCSVersion selects the /ocs/v1.php (1) or /ocs/v2.php (2, the default) endpoints.
func WithOCSVersion(v int) Option {
	return func(c *Client) { c.version = v }
}

// WithPageSize sets how many users AllUserDetails asks for per request (default 100).
func WithPageSize(n int) Option {
	return func(c *Client) { c.pageSize = n }
}

// New returns a client for the instance at baseURL (for example "https://asso.example.org").
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("nextcloud: parse base url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("nextcloud: base url %q: want http(s)://host[:port][/path]", baseURL)
	}
	c := &Client{base: u, http: http.DefaultClient, version: 2, pageSize: 100}
	for _, o := range opts {
		o(c)
	}
	if c.version != 1 && c.version != 2 {
		return nil, fmt.Errorf("nextcloud: ocs version %d: want 1 or 2", c.version)
	}
	if c.pageSize <= 0 {
		return nil, fmt.Errorf("nextcloud: page size %d: want > 0", c.pageSize)
	}
	return c, nil
}

// Meta is the `ocs.meta` block of an OCS response.
type Meta struct {
	Status     string `json:"status"`
	StatusCode int    `json:"statuscode"`
	Message    string `json:"message"`
	// TotalItems and ItemsPerPage are always present (as strings, often empty) in v1, and
	// present in v2 only when the endpoint sets them.
	TotalItems   *String `json:"totalitems,omitempty"`
	ItemsPerPage *String `json:"itemsperpage,omitempty"`
}

// UnmarshalJSON reads the meta block, accepting a statuscode sent as a string.
func (m *Meta) UnmarshalJSON(b []byte) error {
	var raw struct {
		Status       String  `json:"status"`
		StatusCode   Int64   `json:"statuscode"`
		Message      String  `json:"message"`
		TotalItems   *String `json:"totalitems"`
		ItemsPerPage *String `json:"itemsperpage"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*m = Meta{Status: string(raw.Status), StatusCode: int(raw.StatusCode), Message: string(raw.Message),
		TotalItems: raw.TotalItems, ItemsPerPage: raw.ItemsPerPage}
	return nil
}

// envelope is the body of every OCS response.
type envelope struct {
	OCS struct {
		Meta Meta            `json:"meta"`
		Data json.RawMessage `json:"data"`
	} `json:"ocs"`
}

// DecodeEnvelope splits an OCS JSON body into its meta block and raw data.
func DecodeEnvelope(body []byte) (Meta, json.RawMessage, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Meta{}, nil, fmt.Errorf("decode ocs envelope: %w", err)
	}
	if env.OCS.Meta.Status == "" && env.OCS.Meta.StatusCode == 0 {
		return Meta{}, nil, errors.New("decode ocs envelope: no ocs.meta")
	}
	return env.OCS.Meta, env.OCS.Data, nil
}

// ocsPath is the path of a provisioning or app endpoint under the configured OCS version.
func (c *Client) ocsPath(rest string) string {
	return fmt.Sprintf("/ocs/v%d.php/%s", c.version, strings.TrimLeft(rest, "/"))
}

// request is one HTTP call to the instance.
type request struct {
	op     string
	method string
	path   string
	query  url.Values
	form   url.Values
	token  bool // send NC-Token instead of basic auth when a token is set
	ocs    bool
}

// response is what came back, already read.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (c *Client) send(ctx context.Context, r request) (*response, error) {
	u := *c.base
	u.Path = c.base.Path + r.path
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	if r.ocs {
		q.Set("format", "json")
	}
	u.RawQuery = q.Encode()
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("nextcloud: %s: build request: %w", r.op, err)
	}
	if c.host != "" {
		req.Host = c.host
	}
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	if r.ocs {
		req.Header.Set("OCS-APIRequest", "true")
		if r.token && c.token != "" {
			req.Header.Set("NC-Token", c.token)
		} else if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("nextcloud: %s: %w", r.op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("nextcloud: %s: read response: %w", r.op, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// ocs performs an OCS call and decodes its data into out (which may be nil).
func (c *Client) ocs(ctx context.Context, r request, out any) (Meta, error) {
	r.ocs = true
	resp, err := c.send(ctx, r)
	if err != nil {
		return Meta{}, err
	}
	e := &Error{Op: r.op, Method: r.method, Path: r.path, HTTPStatus: resp.status,
		Maintenance: resp.header.Get("X-Nextcloud-Maintenance-Mode") == "1"}
	meta, data, derr := DecodeEnvelope(resp.body)
	if derr != nil {
		// Not an OCS body: a proxy error page, the untrusted-domain page, a throttling page.
		e.Message = snippet(resp.body)
		if resp.status >= 200 && resp.status < 300 {
			e.Message = derr.Error()
		}
		return Meta{}, e
	}
	e.StatusCode, e.Message = meta.StatusCode, meta.Message
	okCode := meta.StatusCode == 100 || meta.StatusCode == 200
	if !okCode || resp.status < 200 || resp.status >= 300 {
		if e.Message == "" {
			e.Message = dataMessage(data)
		}
		return meta, e
	}
	if out != nil && !emptyData(data) {
		if err := json.Unmarshal(data, out); err != nil {
			return meta, fmt.Errorf("nextcloud: %s: decode data: %w", r.op, err)
		}
	}
	return meta, nil
}

// dataMessage is the reason a controller put in data rather than in meta: app config refusals
// are {"data":{"message":…}}, serverinfo's {"message":…}.
func dataMessage(d json.RawMessage) string {
	var m struct {
		Message String `json:"message"`
		Data    struct {
			Message String `json:"message"`
		} `json:"data"`
	}
	if json.Unmarshal(d, &m) != nil {
		return ""
	}
	if m.Message != "" {
		return string(m.Message)
	}
	return string(m.Data.Message)
}

// emptyData reports whether an OCS data field carries nothing: PHP renders an empty array as
// `[]` whatever the endpoint's usual object shape.
func emptyData(d json.RawMessage) bool {
	s := string(bytes.TrimSpace(d))
	return s == "" || s == "[]" || s == "{}" || s == "null"
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.Index(s, "<title>"); i >= 0 {
		if j := strings.Index(s[i:], "</title>"); j > 0 {
			return strings.TrimSpace(s[i+len("<title>") : i+j])
		}
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Status is the body of status.php.
type Status struct {
	Installed       bool   `json:"installed"`
	Maintenance     bool   `json:"maintenance"`
	NeedsDBUpgrade  bool   `json:"needsDbUpgrade"`
	Version         string `json:"version"`
	VersionString   string `json:"versionstring"`
	Edition         string `json:"edition"`
	ProductName     string `json:"productname"`
	ExtendedSupport bool   `json:"extendedSupport"`
}

// Status reads status.php, which needs no login and answers during maintenance too.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	r := request{op: "status", method: http.MethodGet, path: "/status.php"}
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		e := &Error{Op: r.op, Method: r.method, Path: r.path, HTTPStatus: resp.status, Message: snippet(resp.body),
			Maintenance: resp.header.Get("X-Nextcloud-Maintenance-Mode") == "1"}
		// An untrusted Host gets {"error": "Trusted domain error.", "code": 15}.
		var te struct {
			Error string `json:"error"`
			Code  int    `json:"code"`
		}
		if json.Unmarshal(resp.body, &te) == nil && te.Error != "" {
			e.Message, e.StatusCode = te.Error, te.Code
		}
		return nil, e
	}
	var s Status
	if err := json.Unmarshal(resp.body, &s); err != nil {
		return nil, fmt.Errorf("nextcloud: status: decode: %w", err)
	}
	return &s, nil
}

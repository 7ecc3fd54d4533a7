package provisioner

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testCA is a certificate authority of the test's own, standing for a public one.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue makes a server certificate for names.
func (ca *testCA) issue(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// publicServer is an HTTPS server standing for the router in front of the spaces, serving cert.
func publicServer(t *testing.T, cert tls.Certificate, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are what some tests want
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// dialTo sends every connection for a name under domain to addr, as a DNS record would.
func dialTo(domain, addr string) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(host, "."+domain) {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

func statusJSON(installed string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status.php" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"installed":`+installed+`,"maintenance":false,"needsDbUpgrade":false,"version":"31.0.5.1","versionstring":"31.0.5","edition":"","productname":"Nextcloud","extendedSupport":false}`) //nolint:errcheck
	}
}

func TestCheckPublic(t *testing.T) {
	t.Parallel()
	const domain = "asso.example.org"
	ca := newTestCA(t)
	wildcard := ca.issue(t, domain, "*."+domain)
	other := newTestCA(t)
	for _, tc := range []struct {
		name   string
		cert   tls.Certificate
		h      http.HandlerFunc
		host   string // default amis.<domain>
		reason string // "" for a space that answers
	}{
		{name: "wildcard certificate, installed", cert: wildcard, h: statusJSON("true")},
		{name: "certificate of another name", cert: ca.issue(t, "other.example"), h: statusJSON("true"),
			reason: "TLS: the certificate is not for this name"},
		{name: "certificate of an unknown authority", cert: other.issue(t, "*."+domain), h: statusJSON("true"),
			reason: "TLS: the certificate is not signed by a trusted authority"},
		{name: "no DNS record", cert: wildcard, h: statusJSON("true"), host: "amis.elsewhere.example", reason: "DNS: "},
		{name: "router without the space", cert: wildcard, h: http.NotFound, reason: "HTTP 404 Not Found"},
		{name: "not installed yet", cert: wildcard, h: statusJSON("false"), reason: "not installed yet"},
		{name: "another server", cert: wildcard, h: func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "<html>") }, //nolint:errcheck
			reason: "not Nextcloud's status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := publicServer(t, tc.cert, tc.h)
			cfg := Config{HealthTimeout: 5 * time.Second, PublicDial: dialTo(domain, srv.Listener.Addr().String()), PublicRoots: ca.pool}
			p := &Provisioner{cfg: cfg, public: publicClient(cfg), logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			host := tc.host
			if host == "" {
				host = "amis." + domain
			}
			err := p.checkPublic(context.Background(), host, time.Now().Add(cfg.HealthTimeout))
			t.Logf("checkPublic: %v", err)
			switch {
			case tc.reason == "" && err != nil:
				t.Fatalf("checkPublic: %v", err)
			case tc.reason != "" && (err == nil || !strings.Contains(err.Error(), tc.reason)):
				t.Fatalf("checkPublic: %v; want the reason %q", err, tc.reason)
			case err != nil && !strings.Contains(err.Error(), "https://"+host+"/status.php"):
				t.Errorf("reason %q does not name the address", err)
			}
		})
	}
}

// Without the test's authority the system's are used: the test's certificate is refused.
func TestCheckPublicVerifiesWithSystemRoots(t *testing.T) {
	t.Parallel()
	const domain = "asso.example.org"
	ca := newTestCA(t)
	srv := publicServer(t, ca.issue(t, "*."+domain), statusJSON("true"))
	cfg := Config{HealthTimeout: 10 * time.Second, PublicDial: dialTo(domain, srv.Listener.Addr().String())}
	p := &Provisioner{cfg: cfg, public: publicClient(cfg)}
	err := p.checkPublic(context.Background(), "amis."+domain, time.Now().Add(cfg.HealthTimeout))
	if err == nil || !strings.Contains(err.Error(), "TLS: ") {
		t.Fatalf("checkPublic with the system's authorities: %v, want a TLS refusal", err)
	}
}

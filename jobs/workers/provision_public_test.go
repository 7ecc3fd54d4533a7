package workers_test

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
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/tenants"
)

// publicRouter stands for the router in front of the spaces, reached through the public network:
// an HTTPS server with a certificate for names, from a certificate authority the test makes, and
// answering status.php as an installed Nextcloud.
func publicRouter(t *testing.T, names ...string) (addr string, roots *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2),
		Subject: pkix.Name{CommonName: names[0]}, DNSNames: names, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status.php" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `{"installed":true,"maintenance":false,"needsDbUpgrade":false,"version":"31.0.5.1","versionstring":"31.0.5","productname":"Nextcloud"}`) //nolint:errcheck
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots = x509.NewCertPool()
	roots.AddCert(ca)
	return srv.Listener.Addr().String(), roots
}

// With the public check on, a space is active only once its public address answers over TLS
// verified for its name; a router serving the wrong certificate fails it, naming the step and why.
func TestProvisionPublicCheck(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		certNames []string
		timeout   time.Duration
		reason    string // "" when the space ends active
	}{
		"wildcard certificate": {certNames: []string{testDomain, "*." + testDomain}, timeout: 2 * time.Minute},
		"wrong certificate":    {certNames: []string{"other.example"}, timeout: 20 * time.Second, reason: "TLS: the certificate is not for this name"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addr, roots := publicRouter(t, tc.certNames...)
			var mu sync.Mutex
			var asked []string
			e := newEnv(t, envOptions{tune: func(c *provisioner.Config) {
				c.PublicCheck, c.PublicRoots, c.HealthTimeout = true, roots, tc.timeout
				c.PublicDial = func(ctx context.Context, network, address string) (net.Conn, error) {
					mu.Lock()
					asked = append(asked, address)
					mu.Unlock()
					var d net.Dialer
					return d.DialContext(ctx, network, addr) // the DNS record of every name
				}
			}})
			s := e.approveWithAttempts(randomSlug("pub"), 1)
			got := waitState(t, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
			var public *tenants.Condition
			for i, c := range got.Conditions {
				if c.Type == provisioner.CondPublic {
					public = &got.Conditions[i]
				}
			}
			if tc.reason == "" {
				if got.State != tenants.SpaceActive || public == nil || public.Status != "True" {
					t.Fatalf("space %s (%s), condition %+v; want active after the public check", got.State, got.FailureReason, public)
				}
			} else {
				want := "public address: https://" + s.Slug + "." + testDomain + "/status.php not ready after " + tc.timeout.String() + ": " + tc.reason
				if got.State != tenants.SpaceFailed || !strings.HasPrefix(got.FailureReason, want) {
					t.Fatalf("space %s, reason %q; want failed with %q", got.State, got.FailureReason, want)
				}
				if public == nil || public.Status != "False" {
					t.Errorf("condition %s = %+v, want False", provisioner.CondPublic, public)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(asked) == 0 || asked[0] != s.Slug+"."+testDomain+":443" {
				t.Errorf("the check dialled %v, want %s.%s:443", asked, s.Slug, testDomain)
			}
		})
	}
}

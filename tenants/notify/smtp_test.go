package notify

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/tenants/notify/smtptest"
)

// startSMTP starts a real SMTP listener on the loopback interface, offering STARTTLS with a
// certificate for relay.test when withTLS is set (which no client here trusts).
func startSMTP(t *testing.T, withTLS bool) *smtptest.Server {
	t.Helper()
	opts := smtptest.Options{}
	if withTLS {
		cfg, _, err := smtptest.SelfSigned("relay.test", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		opts.TLS = cfg
	}
	srv, err := smtptest.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// senderTo builds a sender for rawURL whose connections go to srv whatever the URL's host: a
// "remote" relay that is really the test's listener.
func senderTo(t *testing.T, rawURL string, srv *smtptest.Server) (*SMTP, error) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSMTP(u, "Espaces <no-reply@spaces.test>")
	if err != nil {
		return nil, err
	}
	s.dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Addr())
	}
	return s, nil
}

func TestSMTPRefusesPlainTextToARemoteRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg := Message{To: "camille@jardin.example", Subject: "s", Body: "b\n", Locale: "fr"}

	t.Run("remote relay without STARTTLS is refused", func(t *testing.T) {
		srv := startSMTP(t, false)
		s, err := senderTo(t, "smtp://relay.test:2525", srv)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(ctx, msg)
		if !errors.Is(err, ErrNoTLS) || !strings.Contains(err.Error(), "relay.test:2525") || !strings.Contains(err.Error(), "tls=none") {
			t.Fatalf("send to a plain remote relay: %v", err)
		}
		if strings.Contains(err.Error(), "camille@") {
			t.Errorf("error names the recipient: %v", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("%d mails went out in clear", n)
		}
	})

	t.Run("remote relay with STARTTLS and a trusted certificate", func(t *testing.T) {
		srv := startSMTP(t, true)
		_, roots, err := smtptest.SelfSigned("unused")
		if err != nil {
			t.Fatal(err)
		}
		s, err := senderTo(t, "smtp://relay.test:2525", srv)
		if err != nil {
			t.Fatal(err)
		}
		// A certificate nobody vouches for is refused, not taken as a reason to go plain.
		s.roots = roots
		if err := s.Send(ctx, msg); err == nil {
			t.Fatal("sent to a relay whose certificate is not trusted")
		}
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("%d mails went out", n)
		}
	})

	t.Run("remote relay with STARTTLS", func(t *testing.T) {
		cfg, roots, err := smtptest.SelfSigned("relay.test")
		if err != nil {
			t.Fatal(err)
		}
		srv, err := smtptest.Start("127.0.0.1:0", smtptest.Options{TLS: cfg})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		s, err := senderTo(t, "smtp://relay.test:2525", srv)
		if err != nil {
			t.Fatal(err)
		}
		s.roots = roots
		if err := s.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
		m, err := srv.Wait(ctx, msg.To)
		if err != nil || !m.TLS {
			t.Fatalf("mail %+v over TLS %v: %v", m.Subject, m.TLS, err)
		}
	})

	t.Run("loopback relay in clear", func(t *testing.T) {
		for _, host := range []string{"127.0.0.1", "localhost"} {
			srv := startSMTP(t, false)
			_, port, _ := net.SplitHostPort(srv.Addr())
			u, _ := url.Parse("smtp://" + net.JoinHostPort(host, port))
			s, err := NewSMTP(u, "Espaces <no-reply@spaces.test>")
			if err != nil {
				t.Fatal(err)
			}
			if s.Encrypted() {
				t.Errorf("%s: a local relay is reached in clear", host)
			}
			if err := s.Send(ctx, msg); err != nil {
				t.Fatalf("%s: %v", host, err)
			}
			if m, err := srv.Wait(ctx, msg.To); err != nil || m.TLS {
				t.Fatalf("%s: %v (TLS %v)", host, err, m.TLS)
			}
		}
	})

	t.Run("trusted private relay with tls=none", func(t *testing.T) {
		srv := startSMTP(t, false)
		s, err := senderTo(t, "smtp://relay.test:25?tls=none", srv)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Wait(ctx, msg.To); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNewSMTPSettings(t *testing.T) {
	for _, tc := range []struct {
		url       string
		encrypted bool
		err       string
	}{
		{url: "smtp://mail.example.org:587", encrypted: true},
		{url: "smtps://user:pw@mail.example.org:465", encrypted: true},
		{url: "smtp://127.0.0.1:25"},
		{url: "smtp://[::1]:25"},
		{url: "smtp://relay.internal:25?tls=none"},
		{url: "smtp://user:pw@localhost:25"},
		{url: "smtp://user:pw@relay.internal:25?tls=none", err: "in clear"},
		{url: "smtp://relay.internal:25?tls=maybe", err: "tls=maybe not understood"},
		{url: "smtps://relay.internal:465?tls=none", err: "not understood"},
		{url: "smtp://relay.internal:25?verify=no", err: `unknown parameter "verify"`},
		{url: "http://relay.internal:25", err: "scheme must be smtp or smtps"},
		{url: "smtp://relay.internal", err: "a port is needed"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSMTP(u, "Espaces <no-reply@spaces.test>")
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "smtp") {
				t.Errorf("%s: error %v, want %q", tc.url, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case s.Encrypted() != tc.encrypted:
			t.Errorf("%s: encrypted %v", tc.url, s.Encrypted())
		}
	}
}

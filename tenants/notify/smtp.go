package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wneessen/go-mail"
)

// SMTPURLForms names the mail server URLs NewSMTP accepts, for configuration help and errors.
const SMTPURLForms = "smtps://[USER:PASSWORD@]HOST:PORT (TLS), smtp://[USER:PASSWORD@]HOST:PORT (STARTTLS required, " +
	"plain only to localhost or a loopback address) or smtp://HOST:PORT?tls=none (plain, for a trusted private relay)"

// TLS modes of a mail server connection.
const (
	tlsImplicit = "implicit" // smtps://: TLS from the first byte
	tlsStartTLS = "starttls" // smtp://: STARTTLS, refused when the server does not offer it
	tlsNone     = "none"     // a local relay, or ?tls=none: no encryption
)

// ErrNoTLS is returned by Send when a mail server that must be reached over TLS does not offer it.
var ErrNoTLS = errors.New("mail server does not offer STARTTLS")

// SMTP sends messages to a mail server with go-mail.
type SMTP struct {
	from string
	host string
	port int
	mode string
	user string
	pass string
	// roots are the certificate authorities trusted for the server's certificate; nil means the
	// system's. dial replaces the network dialer. Both are for tests.
	roots *x509.CertPool
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
}

// NewSMTP builds a sender for a server URL (SMTPURLForms). Mail leaves the machine encrypted: an
// smtp:// server must offer STARTTLS, except a relay on this machine (localhost or a loopback
// address), reached in clear since its traffic never leaves it; smtps:// uses TLS from the start.
// ?tls=none allows plain SMTP to another host, for a relay on a trusted private network, and then
// no password may be sent. from is the sender, "Name <address>".
func NewSMTP(u *url.URL, from string) (*SMTP, error) {
	port, err := strconv.Atoi(u.Port())
	if err != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("smtp url: a port is needed, as in %s", SMTPURLForms)
	}
	s := &SMTP{from: from, host: u.Hostname(), port: port}
	if s.host == "" {
		return nil, fmt.Errorf("smtp url: a host is needed, as in %s", SMTPURLForms)
	}
	q := u.Query()
	tlsParam := q.Get("tls")
	q.Del("tls")
	if len(q) > 0 {
		return nil, fmt.Errorf("smtp url: unknown parameter %q; the forms are %s", strings.Join(keys(q), ", "), SMTPURLForms)
	}
	switch {
	case u.Scheme == "smtps" && tlsParam == "":
		s.mode = tlsImplicit
	case u.Scheme == "smtp" && tlsParam == "none":
		s.mode = tlsNone
	case u.Scheme == "smtp" && tlsParam == "" && localRelay(s.host):
		s.mode = tlsNone
	case u.Scheme == "smtp" && tlsParam == "":
		s.mode = tlsStartTLS
	case u.Scheme == "smtp" || u.Scheme == "smtps":
		return nil, fmt.Errorf("smtp url: tls=%s not understood; the forms are %s", tlsParam, SMTPURLForms)
	default:
		return nil, fmt.Errorf("smtp url: scheme must be smtp or smtps, got %q; the forms are %s", u.Scheme, SMTPURLForms)
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		if s.mode == tlsNone && !localRelay(s.host) {
			return nil, fmt.Errorf("smtp url: tls=none with a user and password would send the password in clear to %s; use smtps:// or smtp:// with STARTTLS", s.host)
		}
	}
	// Check the options once, so that a bad setting fails the start rather than the first mail.
	if _, err := s.client(&connections{}); err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	return s, nil
}

// localRelay tells whether host names this machine: localhost or a loopback address.
func localRelay(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func keys(q url.Values) []string {
	out := make([]string, 0, len(q))
	for k := range q {
		out = append(out, k)
	}
	return out
}

// Encrypted tells whether mail to the server is sent over TLS.
func (s *SMTP) Encrypted() bool { return s.mode != tlsNone }

// client builds a go-mail client for one delivery. Over smtp://, connections are made by
// conns.dial, which keeps them so that Send closes them: go-mail leaves a connection open when
// STARTTLS is refused or fails. (Over smtps://, go-mail dials itself: with a dial function of its
// own it would not know the connection is encrypted.)
func (s *SMTP) client(conns *connections) (*mail.Client, error) {
	opts := []mail.Option{mail.WithPort(s.port), mail.WithTimeout(20 * time.Second),
		mail.WithTLSConfig(&tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12, RootCAs: s.roots})}
	switch s.mode {
	case tlsImplicit:
		opts = append(opts, mail.WithSSL())
	case tlsStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if s.user != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(s.user), mail.WithPassword(s.pass))
	}
	if s.mode != tlsImplicit {
		dial := s.dial
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
		opts = append(opts, mail.WithDialContextFunc(conns.wrap(dial)))
	}
	return mail.NewClient(s.host, opts...)
}

// connections keeps the connections a client opens, to close them whatever happened.
type connections struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (c *connections) wrap(dial func(ctx context.Context, network, addr string) (net.Conn, error)) mail.DialContextFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if conn != nil {
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
		}
		return conn, err
	}
}

func (c *connections) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close() //nolint:errcheck // already closed after a QUIT
	}
	c.conns = nil
}

// Send delivers one message. Errors are worth retrying: the job system does.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := mail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail from %q: %w", s.from, err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail to %s: %w", MaskAddress(m.To), err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	msg.SetGenHeader(mail.Header("Content-Language"), m.Locale)
	msg.SetBodyString(mail.TypeTextPlain, m.Body)
	var conns connections
	defer conns.close()
	client, err := s.client(&conns)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		if s.mode == tlsStartTLS && strings.Contains(err.Error(), "does not support STARTTLS") {
			return fmt.Errorf("send mail to %s: %w: %s:%d refuses encryption and mail is not sent in clear "+
				"(use smtps://, or smtp://…?tls=none for a trusted private relay)", MaskAddress(m.To), ErrNoTLS, s.host, s.port)
		}
		return fmt.Errorf("send mail to %s: %w", MaskAddress(m.To), err)
	}
	return nil
}

// MaskAddress hides most of a mail address for logs and errors, keeping its domain: c•••@example.org.
func MaskAddress(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" {
		return "•••"
	}
	return string([]rune(local)[0]) + "•••@" + domain
}

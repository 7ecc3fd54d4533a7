package notify

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/wneessen/go-mail"
)

// SMTP sends messages to a mail server with go-mail.
type SMTP struct {
	from string
	opts []mail.Option
	host string
}

// NewSMTP builds a sender for a server URL: smtp://[user:password@]host:port uses STARTTLS when
// the server offers it, smtps:// uses TLS from the start. from is the sender, "Name <address>".
func NewSMTP(u *url.URL, from string) (*SMTP, error) {
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return nil, fmt.Errorf("smtp url: port: %w", err)
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTimeout(20 * time.Second)}
	switch u.Scheme {
	case "smtp":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case "smtps":
		opts = append(opts, mail.WithSSL())
	default:
		return nil, fmt.Errorf("smtp url: scheme must be smtp or smtps, got %q", u.Scheme)
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(u.User.Username()), mail.WithPassword(pass))
	}
	// Check the options once, so that a bad setting fails the start rather than the first mail.
	if _, err := mail.NewClient(u.Hostname(), opts...); err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	return &SMTP{from: from, opts: opts, host: u.Hostname()}, nil
}

// Send delivers one message. Errors are worth retrying: the job system does.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := mail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail from %q: %w", s.from, err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail to %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	msg.SetGenHeader(mail.Header("Content-Language"), m.Locale)
	msg.SetBodyString(mail.TypeTextPlain, m.Body)
	client, err := mail.NewClient(s.host, s.opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("send mail to %s: %w", m.To, err)
	}
	return nil
}

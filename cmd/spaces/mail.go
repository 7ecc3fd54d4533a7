package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/assospaces/spaces/tenants/notify"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// newMailer builds the mail sender from the settings. Without SPACES_SMTP_URL, mail jobs fail
// and are retried (for about a day) rather than dropped, and a warning says why.
func newMailer(cfg *Config, logger *slog.Logger) (*notify.Mailer, *secretbox.Box, error) {
	box, err := secretbox.New(cfg.SecretKey)
	if err != nil {
		return nil, nil, err
	}
	templates, err := notify.ParseTemplates()
	if err != nil {
		return nil, nil, err
	}
	if cfg.SMTPURL == nil {
		logger.Warn("SPACES_SMTP_URL is not set: mail waits in the job queue until a mail server is configured")
		return &notify.Mailer{Templates: templates, Sender: noSMTP{}}, box, nil
	}
	sender, err := notify.NewSMTP(cfg.SMTPURL, cfg.MailFrom)
	if err != nil {
		return nil, nil, &ConfigError{Env: "SPACES_SMTP_URL", Flag: "smtp-url", Msg: err.Error()}
	}
	return &notify.Mailer{Templates: templates, Sender: sender}, box, nil
}

// noSMTP fails every delivery, so that River keeps the mail and retries it.
type noSMTP struct{}

func (noSMTP) Send(context.Context, notify.Message) error {
	return errors.New("no mail server configured (SPACES_SMTP_URL)")
}

package main

import (
	"errors"
	"net/url"
	"strconv"

	"github.com/assospaces/spaces/provisioner"
)

// spaceSettings are the provisioner's settings of every space, from cfg: the relay is
// SPACES_SPACE_SMTP_URL, else the service's own SPACES_SMTP_URL (smtps: is Nextcloud's
// mail_smtpsecure "ssl"; smtp: STARTTLS when the relay offers it, as Nextcloud does).
func spaceSettings(cfg *Config) provisioner.SpaceSettings {
	s := provisioner.SpaceSettings{
		MailDomain: cfg.SpaceMailDomain, OfficeURL: cfg.OfficeURL, ImprintURL: cfg.LegalURL, PrivacyURL: cfg.PrivacyURL,
		HelpURL: cfg.HelpURL, Apps: cfg.SpaceApps,
	}
	if s.HelpURL == "" && cfg.PublicURL != nil {
		s.HelpURL = cfg.PublicURL.String()
	}
	relay := cfg.SpaceSMTPURL
	if relay == nil {
		relay = cfg.SMTPURL
	}
	if relay != nil {
		s.SMTPHost = relay.Hostname()
		s.SMTPPort, _ = strconv.Atoi(relay.Port())
		if relay.Scheme == "smtps" {
			s.SMTPSecure = "ssl"
		}
		if relay.User != nil {
			s.SMTPUser = relay.User.Username()
			s.SMTPPassword, _ = relay.User.Password()
		}
	}
	return s
}

// httpURL checks an http(s) URL setting.
func httpURL(v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("not an http(s) URL")
	}
	return v, nil
}

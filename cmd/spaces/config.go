package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants/notify"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// Config is every setting of `spaces`, filled from flags and environment and checked as a whole
// before anything starts.
type Config struct {
	DatabaseURL       string
	Listen            string
	PublicURL         *url.URL
	BaseDomain        string
	TenantDatabaseURL string
	// MetricsAddr is where GET /metrics is served, apart from the web UI; empty: not served.
	MetricsAddr string

	NomadAddr      string
	NomadToken     string
	NomadRegion    string
	NomadNamespace string
	// NomadTemplate names the jobspec a space runs: production (official nextcloud image) or dev
	// (raw_exec running the in-repo stand-in).
	NomadTemplate string
	// TemplateDir, when set, holds jobspec files that replace the embedded ones.
	TemplateDir string
	// StandinBin is the stand-in binary the dev template runs.
	StandinBin string
	// VolumePlugin is the Nomad host volume plugin that creates each space's data volume.
	VolumePlugin string

	SMTPURL  *url.URL
	MailFrom string

	// Settings of every space (see provisioner.SpaceSettings): its Nextcloud's SMTP relay (the
	// service's own when nil), the domain its mail comes from (the space's own name when empty),
	// Nextcloud Office's server, the service's legal pages, where to get help, the apps.
	SpaceSMTPURL    *url.URL
	SpaceMailDomain string
	OfficeURL       string
	LegalURL        string
	PrivacyURL      string
	HelpURL         string
	SpaceApps       []string

	DefaultLimits quota.Limits
	// Capacity is the most spaces that may be provisioned or running at once; 0 means no ceiling.
	// CapacityFromNomad: the ceiling is what the Nomad nodes can hold instead.
	Capacity          int
	CapacityFromNomad bool
	// ProvisionTimeout is how long one provisioning pass waits for its space to be healthy.
	ProvisionTimeout time.Duration
	// TLSResolver is the router's certificate resolver for the spaces' wildcard certificate.
	TLSResolver string
	// PublicCheck: a space is ready only once its public address answers over verified TLS.
	PublicCheck bool
	// UsageInterval is how often each active space's usage is measured and its quotas enforced.
	UsageInterval time.Duration

	// APIAddr and APIToken are where the operators' commands reach the JSON API, and as whom.
	APIAddr  *url.URL
	APIToken string
	// ApplyPerHour is how many applications one client network may submit in an hour.
	ApplyPerHour int
	// PublicInFlight and ModerationInFlight bound the requests each server handles at once, for
	// the public pages and for the moderators' pages with the JSON API; BusyWait is how long a
	// request waits for room before a 503.
	PublicInFlight     int
	ModerationInFlight int
	BusyWait           time.Duration
	// Retention is how long rejected and withdrawn applications are kept.
	Retention time.Duration
	// StaleAfter is how long an application may wait for the applicant's answer before it is
	// closed; 0 never closes one.
	StaleAfter time.Duration
	// DeleteGrace is how long a deleted space can be restored before it is purged.
	DeleteGrace time.Duration
	// ExportDir is where space export archives are written; ExportRetention how long they stay.
	ExportDir       string
	ExportRetention time.Duration

	// SecretKey seals secrets that must pass through tables (queued mail with a status link).
	SecretKey []byte
	// TrustedProxies are reverse proxies whose X-Forwarded-For names the client (for rate limits).
	TrustedProxies []netip.Prefix

	LogLevel  slog.Level
	LogFormat string
}

// ConfigError is a setting that is missing or malformed; it ends the program with exit code 2.
type ConfigError struct {
	Env  string
	Flag string
	Msg  string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s (--%s): %s", e.Env, e.Flag, e.Msg)
}

// setting is one configuration value: where it comes from, what it looks like, how it is read.
type setting struct {
	env      string
	flag     string
	def      string
	form     string // the expected form, shown when the value is wrong
	help     string
	required bool
	secret   bool // never echoed back in messages
	set      func(c *Config, v string) error
}

// settings is the one list of every configuration value; the README's table is made from it
// (`spaces config`).
var settings = []setting{
	{env: "SPACES_DATABASE_URL", flag: "database-url", required: true, secret: true,
		form: "postgres://USER:PASSWORD@HOST:PORT/DATABASE", help: "PostgreSQL database of the service (applications, spaces, jobs)",
		set: func(c *Config, v string) (err error) { c.DatabaseURL, err = parsePostgresURL(v); return }},
	{env: "SPACES_LISTEN", flag: "listen", def: "127.0.0.1:8080", form: "HOST:PORT",
		help: "address the web UI and JSON API listen on",
		set: func(c *Config, v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return errors.New("not a HOST:PORT address")
			}
			c.Listen = v
			return nil
		}},
	{env: "SPACES_METRICS_ADDR", flag: "metrics-addr", form: "HOST:PORT, such as 127.0.0.1:9464",
		help: "address Prometheus scrapes GET /metrics at, apart from the web UI; on a loopback address it is open to local users, elsewhere a scrape needs an API token (a read token is enough) (default: not served)",
		set: func(c *Config, v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return errors.New("not a HOST:PORT address")
			}
			c.MetricsAddr = v
			return nil
		}},
	{env: "SPACES_PUBLIC_URL", flag: "public-url", form: "https://HOST[:PORT]",
		help: "the URL people reach the web UI at, used in mails and for secure cookies (default http://LISTEN)",
		set: func(c *Config, v string) error {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errors.New("not an http(s) URL")
			}
			c.PublicURL = u
			return nil
		}},
	{env: "SPACES_BASE_DOMAIN", flag: "base-domain", def: "spaces.localhost", form: "a DNS name such as frama.space",
		help: "spaces are served at SLUG.BASE_DOMAIN",
		set: func(c *Config, v string) error {
			v = strings.ToLower(strings.TrimSuffix(v, "."))
			if !isDNSName(v) {
				return errors.New("not a DNS name")
			}
			c.BaseDomain = v
			return nil
		}},
	{env: "SPACES_TENANT_DATABASE_URL", flag: "tenant-database-url", secret: true,
		form: "postgres://USER:PASSWORD@HOST:PORT/DATABASE",
		help: "PostgreSQL server where each space gets its role and database; the user needs CREATEROLE and CREATEDB (default: SPACES_DATABASE_URL)",
		set:  func(c *Config, v string) (err error) { c.TenantDatabaseURL, err = parsePostgresURL(v); return }},
	{env: "NOMAD_ADDR", flag: "nomad-addr", def: "http://127.0.0.1:4646", form: "http(s)://HOST:PORT",
		help: "Nomad HTTP API (Nomad's own variable)",
		set: func(c *Config, v string) error {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errors.New("not an http(s) URL")
			}
			c.NomadAddr = v
			return nil
		}},
	{env: "NOMAD_TOKEN", flag: "nomad-token", secret: true, form: "a Nomad ACL secret ID",
		help: "Nomad ACL token (Nomad's own variable)",
		set:  func(c *Config, v string) error { c.NomadToken = v; return nil }},
	{env: "NOMAD_REGION", flag: "nomad-region", form: "a Nomad region name", help: "Nomad region (Nomad's own variable)",
		set: func(c *Config, v string) error { c.NomadRegion = v; return nil }},
	{env: "NOMAD_NAMESPACE", flag: "nomad-namespace", def: "default", form: "a Nomad namespace",
		help: "Nomad namespace the space jobs run in (Nomad's own variable)",
		set:  func(c *Config, v string) error { c.NomadNamespace = v; return nil }},
	{env: "SPACES_NOMAD_TEMPLATE", flag: "nomad-template", def: "production", form: "production or dev",
		help: "jobspec each space runs: production (official nextcloud image) or dev (raw_exec stand-in)",
		set: func(c *Config, v string) error {
			if v != "production" && v != "dev" {
				return errors.New("must be production or dev")
			}
			c.NomadTemplate = v
			return nil
		}},
	{env: "SPACES_TEMPLATE_DIR", flag: "template-dir", form: "a directory holding production.nomad.hcl and/or dev.nomad.hcl",
		help: "folder whose jobspec templates replace the embedded ones",
		set: func(c *Config, v string) error {
			if fi, err := os.Stat(v); err != nil || !fi.IsDir() {
				return errors.New("not a directory")
			}
			c.TemplateDir = v
			return nil
		}},
	{env: "SPACES_STANDIN_BIN", flag: "standin-bin", form: "absolute path of the nextcloud-standin binary",
		help: "stand-in binary the dev template runs",
		set: func(c *Config, v string) error {
			if !strings.HasPrefix(v, "/") {
				return errors.New("must be an absolute path")
			}
			c.StandinBin = v
			return nil
		}},
	{env: "SPACES_VOLUME_PLUGIN", flag: "volume-plugin", def: "mkdir", form: "a Nomad host volume plugin id: mkdir or a plugin's file name",
		help: "plugin the Nomad clients create each space's data volume with: mkdir (built into Nomad, a directory with no size limit) or one in their host_volume_plugin_dir that enforces the space's storage limit",
		set: func(c *Config, v string) error {
			if v == "" || v == "." || v == ".." || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
				return errors.New("not a plugin id (letters, digits, '.', '_' and '-')")
			}
			c.VolumePlugin = v
			return nil
		}},
	{env: "SPACES_SMTP_URL", flag: "smtp-url", secret: true, form: "smtps://[USER:PASSWORD@]HOST:PORT, smtp://[USER:PASSWORD@]HOST:PORT or smtp://HOST:PORT?tls=none",
		help: "mail server for applicants' and associations' mail: smtps: TLS; smtp: STARTTLS required (a server that does not offer it gets no mail), except to localhost or a loopback address; ?tls=none: plain SMTP to a trusted private relay, without a password",
		set: func(c *Config, v string) error {
			u, err := url.Parse(v)
			if err != nil {
				return fmt.Errorf("not a URL; the forms are %s", notify.SMTPURLForms)
			}
			if _, err := notify.NewSMTP(u, "check <check@localhost>"); err != nil {
				return err
			}
			c.SMTPURL = u
			return nil
		}},
	{env: "SPACES_MAIL_FROM", flag: "mail-from", def: "Espaces <no-reply@spaces.localhost>", form: "Name <address@domain>",
		help: "sender of the service's mail",
		set: func(c *Config, v string) error {
			if !strings.Contains(v, "@") {
				return errors.New("not a mail address")
			}
			c.MailFrom = v
			return nil
		}},
	{env: "SPACES_SPACE_SMTP_URL", flag: "space-smtp-url", secret: true, form: "smtp://[USER:PASSWORD@]HOST:PORT or smtps://…",
		help: "mail relay every space's Nextcloud sends through, reachable from the Nomad clients; its password goes to each space's Nomad Variable (default: SPACES_SMTP_URL)",
		set: func(c *Config, v string) error {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Port() == "" {
				return errors.New("not an smtp:// or smtps:// URL with a port")
			}
			c.SpaceSMTPURL = u
			return nil
		}},
	{env: "SPACES_SPACE_MAIL_DOMAIN", flag: "space-mail-domain", form: "a DNS name such as frama.space",
		help: "domain every space's mail comes from, no-reply@DOMAIN (default: the space's own name, SLUG.BASE_DOMAIN)",
		set: func(c *Config, v string) error {
			v = strings.ToLower(strings.TrimSuffix(v, "."))
			if !isDNSName(v) {
				return errors.New("not a DNS name")
			}
			c.SpaceMailDomain = v
			return nil
		}},
	{env: "SPACES_OFFICE_URL", flag: "office-url", form: "https://HOST[:PORT]",
		help: "Collabora Online server every space's Nextcloud Office (richdocuments) uses",
		set:  func(c *Config, v string) (err error) { c.OfficeURL, err = httpURL(v); return }},
	{env: "SPACES_LEGAL_URL", flag: "legal-url", form: "https://HOST/PATH",
		help: "the service's legal notice, linked in every space's footer",
		set:  func(c *Config, v string) (err error) { c.LegalURL, err = httpURL(v); return }},
	{env: "SPACES_PRIVACY_URL", flag: "privacy-url", form: "https://HOST/PATH",
		help: "the service's privacy policy, linked in every space's footer",
		set:  func(c *Config, v string) (err error) { c.PrivacyURL, err = httpURL(v); return }},
	{env: "SPACES_HELP_URL", flag: "help-url", form: "https://HOST/PATH",
		help: "where the first-steps guide of a new space sends people for help (default: SPACES_PUBLIC_URL)",
		set:  func(c *Config, v string) (err error) { c.HelpURL, err = httpURL(v); return }},
	{env: "SPACES_SPACE_APPS", flag: "space-apps", def: "calendar,contacts,richdocuments",
		form: "comma-separated apps among " + strings.Join(templates.SupportedApps, ", "),
		help: "apps enabled in every space; a change is applied to the existing spaces by the reconciler, and the other supported apps are disabled",
		set: func(c *Config, v string) error {
			apps := []string{}
			for _, a := range strings.Split(v, ",") {
				if a = strings.TrimSpace(a); a != "" && !slices.Contains(apps, a) {
					apps = append(apps, a)
				}
			}
			if err := templates.ValidateApps(apps); err != nil {
				return err
			}
			c.SpaceApps = apps
			return nil
		}},
	{env: "SPACES_DEFAULT_STORAGE", flag: "default-storage", def: "40 GB", form: "a size such as 40 GB",
		help: "storage a new space gets, shared by its accounts",
		set:  func(c *Config, v string) (err error) { c.DefaultLimits.StorageBytes, err = quota.ParseSize(v); return }},
	{env: "SPACES_DEFAULT_ACCOUNTS", flag: "default-accounts", def: "50", form: "a whole number from 1",
		help: "accounts a new space may have",
		set:  func(c *Config, v string) (err error) { c.DefaultLimits.Accounts, err = positiveInt(v); return }},
	{env: "SPACES_CAPACITY", flag: "capacity", def: "0", form: "a whole number (0 for no ceiling) or nomad",
		help: "most spaces provisioned or running at once, or nomad for what the eligible Nomad nodes can hold by the jobspec's CPU, memory and disk; past it approved spaces wait in approval order",
		set: func(c *Config, v string) (err error) {
			if c.CapacityFromNomad = v == "nomad"; c.CapacityFromNomad {
				c.Capacity = 0
				return nil
			}
			c.Capacity, err = nonNegativeInt(v)
			return err
		}},
	{env: "SPACES_PROVISION_TIMEOUT", flag: "provision-timeout", def: "5m", form: "a Go duration such as 5m",
		help: "how long one provisioning attempt waits for a space to be healthy before it is retried; a crashed server's attempt resumes about a minute after that",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 5*time.Second {
				return errors.New("not a duration of at least 5s")
			}
			c.ProvisionTimeout = d
			return nil
		}},
	{env: "SPACES_TLS_RESOLVER", flag: "tls-resolver", def: "letsencrypt-dns", form: "a Traefik certificate resolver name (letters, digits, - and _)",
		help: "certificate resolver the production jobspec's router tags name for one wildcard certificate, *.BASE_DOMAIN, shared by every space; it must use a DNS-01 challenge",
		set: func(c *Config, v string) error {
			if v == "" || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" || v[0] == '-' || v[0] == '_' {
				return errors.New("not a resolver name (letters, digits, '-' and '_')")
			}
			c.TLSResolver = v
			return nil
		}},
	{env: "SPACES_PUBLIC_CHECK", flag: "public-check", def: "false", form: "true or false",
		help: "before a space is called ready, wait (within SPACES_PROVISION_TIMEOUT) until https://SLUG.BASE_DOMAIN/status.php answers Nextcloud's status, installed, through public DNS and verified TLS; otherwise the attempt fails saying why (DNS, TLS, HTTP)",
		set: func(c *Config, v string) (err error) {
			c.PublicCheck, err = strconv.ParseBool(v)
			if err != nil {
				return errors.New("not true or false")
			}
			return nil
		}},
	{env: "SPACES_USAGE_INTERVAL", flag: "usage-interval", def: "5m", form: "a Go duration such as 5m",
		help: "how often each active space's usage is measured and its storage plan checked; warnings and the block of a full space follow within this time",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 10*time.Second {
				return errors.New("not a duration of at least 10s")
			}
			c.UsageInterval = d
			return nil
		}},
	{env: "SPACES_ADDR", flag: "addr", def: "http://127.0.0.1:8080", form: "http(s)://HOST[:PORT]",
		help: "the server whose JSON API the operators' commands (spaces space …) use",
		set: func(c *Config, v string) error {
			u, err := url.Parse(strings.TrimRight(v, "/"))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errors.New("not an http(s) URL")
			}
			c.APIAddr = u
			return nil
		}},
	{env: "SPACES_TOKEN", flag: "token", required: true, secret: true, form: "an API token (spaces token create NAME)",
		help: "operator API token the operators' commands send",
		set:  func(c *Config, v string) error { c.APIToken = strings.TrimSpace(v); return nil }},
	{env: "SPACES_APPLY_PER_HOUR", flag: "apply-per-hour", def: "10", form: "a whole number from 1",
		help: "applications one client network (an IPv4 address, an IPv6 /64) may submit per hour, counted in the database across servers; more get 429",
		set:  func(c *Config, v string) (err error) { c.ApplyPerHour, err = positiveInt(v); return }},
	{env: "SPACES_PUBLIC_IN_FLIGHT", flag: "public-in-flight", def: "8", form: "a whole number from 1",
		help: "requests of the public pages (the form, status pages) each server handles at once; more wait up to SPACES_BUSY_WAIT, then get 503 and a page asking to come back in a few minutes",
		set:  func(c *Config, v string) (err error) { c.PublicInFlight, err = positiveInt(v); return }},
	{env: "SPACES_MODERATION_IN_FLIGHT", flag: "moderation-in-flight", def: "8", form: "a whole number from 1",
		help: "requests of the moderators' pages and the JSON API each server handles at once, apart from the public ones; more wait up to SPACES_BUSY_WAIT, then get 503",
		set:  func(c *Config, v string) (err error) { c.ModerationInFlight, err = positiveInt(v); return }},
	{env: "SPACES_BUSY_WAIT", flag: "busy-wait", def: "250ms", form: "a Go duration from 1ms to 10s, such as 250ms",
		help: "how long a request waits for room (SPACES_PUBLIC_IN_FLIGHT, SPACES_MODERATION_IN_FLIGHT) before it is refused with 503",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Millisecond || d > 10*time.Second {
				return errors.New("not a duration from 1ms to 10s")
			}
			c.BusyWait = d
			return nil
		}},
	{env: "SPACES_RETENTION", flag: "retention", def: "2160h", form: "a Go duration such as 2160h (90 days)",
		help: "how long rejected and withdrawn applications are kept before they are purged",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return errors.New("not a positive duration")
			}
			c.Retention = d
			return nil
		}},
	{env: "SPACES_STALE_AFTER", flag: "stale-after", def: "2160h", form: "a Go duration such as 2160h (90 days), or 0 to never close",
		help: "how long an application waiting for the applicant's answer (needs_info) is kept open; then it is closed as withdrawn, the applicant is told, and it is purged after SPACES_RETENTION",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || (d != 0 && d < 24*time.Hour) {
				return errors.New("not 0 or a duration of at least 24h")
			}
			c.StaleAfter = d
			return nil
		}},
	{env: "SPACES_DELETE_GRACE", flag: "delete-grace", def: "720h", form: "a Go duration such as 720h (30 days)",
		help: "how long a deleted space keeps its data and can be restored before it is purged",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return errors.New("not a positive duration")
			}
			c.DeleteGrace = d
			return nil
		}},
	{env: "SPACES_EXPORT_DIR", flag: "export-dir", form: "an absolute directory, shared by every spaces serve",
		help: "where space exports (archives of a space's files and database) are written, private to the service's user; several servers need it shared (default: $XDG_STATE_HOME/spaces/exports or ~/.local/state/spaces/exports)",
		set: func(c *Config, v string) error {
			if !filepath.IsAbs(v) {
				return errors.New("must be an absolute path")
			}
			c.ExportDir = filepath.Clean(v)
			return nil
		}},
	{env: "SPACES_EXPORT_RETENTION", flag: "export-retention", def: "168h", form: "a Go duration such as 168h (7 days)",
		help: "how long a finished space export stays in SPACES_EXPORT_DIR before it is removed",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Hour {
				return errors.New("not a duration of at least 1h")
			}
			c.ExportRetention = d
			return nil
		}},
	{env: "SPACES_SECRET_KEY", flag: "secret-key", required: true, secret: true,
		form: "32 random bytes in base64 (openssl rand -base64 32)",
		help: "key that seals secrets kept in tables, such as status links in queued mail",
		set:  func(c *Config, v string) (err error) { c.SecretKey, err = secretbox.ParseKey(v); return }},
	{env: "SPACES_TRUSTED_PROXIES", flag: "trusted-proxies", form: "comma-separated addresses or CIDR prefixes, such as 10.0.0.0/8,::1",
		help: "reverse proxies whose X-Forwarded-For header names the client, for per-address rate limits (default: none)",
		set: func(c *Config, v string) error {
			for _, part := range strings.Split(v, ",") {
				part = strings.TrimSpace(part)
				if part == "" {
					continue
				}
				p, err := netip.ParsePrefix(part)
				if err != nil {
					a, aerr := netip.ParseAddr(part)
					if aerr != nil {
						return fmt.Errorf("%q is neither an address nor a CIDR prefix", part)
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			}
			return nil
		}},
	{env: "SPACES_LOG_LEVEL", flag: "log-level", def: "info", form: "debug, info, warn or error",
		help: "least important log level written",
		set:  func(c *Config, v string) error { return c.LogLevel.UnmarshalText([]byte(v)) }},
	{env: "SPACES_LOG_FORMAT", flag: "log-format", def: "text", form: "text or json", help: "log format on standard error",
		set: func(c *Config, v string) error {
			if v != "text" && v != "json" {
				return errors.New("must be text or json")
			}
			c.LogFormat = v
			return nil
		}},
}

// bindConfig adds the named settings as flags of cmd; loadConfig then fills a Config from them.
func bindConfig(cmd *cobra.Command, envs ...string) {
	for _, env := range envs {
		s := lookupSetting(env)
		cmd.Flags().String(s.flag, "", fmt.Sprintf("%s [$%s]%s", s.help, s.env, defaultNote(s)))
	}
	cmd.Annotations = map[string]string{"config": strings.Join(envs, ",")}
}

func defaultNote(s setting) string {
	if s.def == "" {
		return ""
	}
	return fmt.Sprintf(" (default %q)", s.def)
}

// loadConfig reads the settings bound to cmd: a flag wins over the environment, which wins over
// the default. The first missing or malformed value is returned as a *ConfigError.
func loadConfig(cmd *cobra.Command) (*Config, error) {
	c := &Config{}
	for _, env := range strings.Split(cmd.Annotations["config"], ",") {
		if env == "" {
			continue
		}
		s := lookupSetting(env)
		v, from := s.def, "default"
		if e, ok := os.LookupEnv(s.env); ok && e != "" {
			v, from = e, "env"
		}
		if f := cmd.Flags().Lookup(s.flag); f != nil && f.Changed {
			v, from = f.Value.String(), "flag"
		}
		if v == "" {
			if s.required {
				return nil, &ConfigError{Env: s.env, Flag: s.flag, Msg: "is required; expected " + s.form}
			}
			continue
		}
		if err := s.set(c, v); err != nil {
			shown := fmt.Sprintf(" (got %q from %s)", v, from)
			if s.secret {
				shown = ""
			}
			return nil, &ConfigError{Env: s.env, Flag: s.flag, Msg: fmt.Sprintf("%v; expected %s%s", err, s.form, shown)}
		}
	}
	return c, c.validate()
}

// validate checks settings against each other and fills values derived from others.
func (c *Config) validate() error {
	if c.TenantDatabaseURL == "" {
		c.TenantDatabaseURL = c.DatabaseURL
	}
	if c.PublicURL == nil && c.Listen != "" {
		c.PublicURL = &url.URL{Scheme: "http", Host: c.Listen}
	}
	if c.MetricsAddr != "" && c.MetricsAddr == c.Listen {
		return &ConfigError{Env: "SPACES_METRICS_ADDR", Flag: "metrics-addr",
			Msg: "is SPACES_LISTEN's address; expected another HOST:PORT, so that /metrics is never served with the public pages"}
	}
	if c.NomadTemplate == "dev" && c.StandinBin == "" {
		return &ConfigError{Env: "SPACES_STANDIN_BIN", Flag: "standin-bin",
			Msg: "is required with SPACES_NOMAD_TEMPLATE=dev; expected the absolute path of the nextcloud-standin binary"}
	}
	return nil
}

func lookupSetting(env string) setting {
	for _, s := range settings {
		if s.env == env {
			return s
		}
	}
	panic("unknown setting " + env)
}

func parsePostgresURL(v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return "", errors.New("not a postgres:// URL with a host and a database")
	}
	return v, nil
}

func positiveInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errors.New("not a whole number from 1")
	}
	return n, nil
}

func nonNegativeInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errors.New("not a whole number from 0")
	}
	return n, nil
}

func isDNSName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// newLogger builds the process logger from the config.
func newLogger(c *Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

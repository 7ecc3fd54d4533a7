package standin

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvError names an environment variable that is missing or malformed, and the form it needs.
type EnvError struct {
	Var  string
	Want string
}

// Error is one line naming the variable and its expected form.
func (e *EnvError) Error() string { return fmt.Sprintf("%s: want %s", e.Var, e.Want) }

// Env is the stand-in's configuration from environment variables named like the official
// `nextcloud` Docker image's, so that the production and dev Nomad templates stay parallel.
type Env struct {
	// PostgresHost is a host name, an IP, or a unix socket directory (starting with /).
	PostgresHost     string
	PostgresPort     uint16
	PostgresDB       string
	PostgresUser     string
	PostgresPassword string

	AdminUser      string
	AdminPassword  string
	TrustedDomains []string
	DataDir        string
	ConfigDir      string
	// Listen is NC_LISTEN (the --listen flag overrides it).
	Listen string
	// ServerInfoToken is NC_SERVERINFO_TOKEN: when set, written as app config serverinfo/token at start.
	ServerInfoToken string
}

// LookupFunc reads one environment variable (os.LookupEnv).
type LookupFunc func(string) (string, bool)

// fileEnv reads NAME or NAME_FILE (the file's content, without its final newline), like the
// image's file_env; both at once is an error.
func fileEnv(lookup LookupFunc, name string) (string, error) {
	v, hasV := lookup(name)
	f, hasF := lookup(name + "_FILE")
	if hasV && hasF && v != "" && f != "" {
		return "", &EnvError{Var: name, Want: "either " + name + " or " + name + "_FILE, not both"}
	}
	if hasF && f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", &EnvError{Var: name + "_FILE", Want: "a readable file (" + err.Error() + ")"}
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return v, nil
}

// LoadFilesEnv reads only what needs no database: the data and config directories.
func LoadFilesEnv(lookup LookupFunc) (Env, error) {
	var e Env
	e.DataDir, _ = lookup("NEXTCLOUD_DATA_DIR")
	e.ConfigDir, _ = lookup("NEXTCLOUD_CONFIG_DIR")
	if e.DataDir == "" {
		return e, &EnvError{Var: "NEXTCLOUD_DATA_DIR", Want: "the data directory path, e.g. /srv/nextcloud/data"}
	}
	if !filepath.IsAbs(e.DataDir) {
		abs, err := filepath.Abs(e.DataDir)
		if err != nil {
			return e, &EnvError{Var: "NEXTCLOUD_DATA_DIR", Want: "a usable path"}
		}
		e.DataDir = abs
	}
	if e.ConfigDir == "" {
		// The image keeps config/ beside data/ (/var/www/html/{config,data}).
		e.ConfigDir = filepath.Join(filepath.Dir(e.DataDir), "config")
	}
	return e, nil
}

// LoadEnv reads and checks every variable `serve` needs. Required: POSTGRES_HOST (host,
// host:port or a socket directory), POSTGRES_DB, POSTGRES_USER, NEXTCLOUD_DATA_DIR. Optional:
// POSTGRES_PASSWORD (a trust-auth dev server needs none), NEXTCLOUD_ADMIN_USER and
// NEXTCLOUD_ADMIN_PASSWORD (together: install on first start), NEXTCLOUD_TRUSTED_DOMAINS
// (space-separated), NEXTCLOUD_CONFIG_DIR (default: config/ beside the data directory),
// NC_LISTEN, NC_SERVERINFO_TOKEN. POSTGRES_*, NEXTCLOUD_ADMIN_* and NC_SERVERINFO_TOKEN also
// accept a _FILE variant.
func LoadEnv(lookup LookupFunc) (Env, error) {
	e, err := LoadFilesEnv(lookup)
	if err != nil {
		return e, err
	}
	host, err := fileEnv(lookup, "POSTGRES_HOST")
	if err != nil {
		return e, err
	}
	const hostForm = "host, host:port or a unix socket directory, e.g. 127.0.0.1:5432"
	if host == "" {
		return e, &EnvError{Var: "POSTGRES_HOST", Want: hostForm}
	}
	e.PostgresPort = 5432
	switch {
	case strings.HasPrefix(host, "/"):
		e.PostgresHost = host
	default:
		h, p, splitErr := net.SplitHostPort(host)
		if splitErr != nil {
			if strings.Count(host, ":") > 0 && !strings.HasPrefix(host, "[") {
				return e, &EnvError{Var: "POSTGRES_HOST", Want: hostForm}
			}
			h = strings.Trim(host, "[]")
		} else {
			n, perr := strconv.ParseUint(p, 10, 16)
			if perr != nil || n == 0 {
				return e, &EnvError{Var: "POSTGRES_HOST", Want: hostForm + " (port 1-65535)"}
			}
			e.PostgresPort = uint16(n)
		}
		if h == "" {
			return e, &EnvError{Var: "POSTGRES_HOST", Want: hostForm}
		}
		e.PostgresHost = h
	}
	for _, v := range []struct {
		name string
		dst  *string
		req  bool
	}{
		{"POSTGRES_DB", &e.PostgresDB, true},
		{"POSTGRES_USER", &e.PostgresUser, true},
		{"POSTGRES_PASSWORD", &e.PostgresPassword, false},
		{"NEXTCLOUD_ADMIN_USER", &e.AdminUser, false},
		{"NEXTCLOUD_ADMIN_PASSWORD", &e.AdminPassword, false},
		{"NC_SERVERINFO_TOKEN", &e.ServerInfoToken, false},
	} {
		s, err := fileEnv(lookup, v.name)
		if err != nil {
			return e, err
		}
		if v.req && s == "" {
			return e, &EnvError{Var: v.name, Want: "a non-empty value"}
		}
		*v.dst = s
	}
	if (e.AdminUser == "") != (e.AdminPassword == "") {
		return e, &EnvError{Var: "NEXTCLOUD_ADMIN_USER", Want: "NEXTCLOUD_ADMIN_USER and NEXTCLOUD_ADMIN_PASSWORD set together (or neither)"}
	}
	if e.AdminUser != "" {
		if msg := validateUID(e.AdminUser); msg != "" {
			return e, &EnvError{Var: "NEXTCLOUD_ADMIN_USER", Want: "a valid login (" + msg + ")"}
		}
	}
	if d, _ := lookup("NEXTCLOUD_TRUSTED_DOMAINS"); d != "" {
		e.TrustedDomains = strings.Fields(d)
	}
	e.Listen, _ = lookup("NC_LISTEN")
	return e, nil
}

// PoolConfig is the pgx pool configuration for the tenant database.
func (e Env) PoolConfig() (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("pool config: %w", err)
	}
	cc := cfg.ConnConfig
	cc.Host, cc.Port, cc.Database, cc.User, cc.Password = e.PostgresHost, e.PostgresPort, e.PostgresDB, e.PostgresUser, e.PostgresPassword
	cc.Fallbacks = nil
	cc.TLSConfig = nil
	cc.RuntimeParams["application_name"] = "nextcloud-standin"
	cfg.MaxConns = 8
	return cfg, nil
}

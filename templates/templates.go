// Package templates holds the Nomad jobspecs a space runs, as real HCL files filled with Go's
// text/template: production.nomad.hcl (the official nextcloud image on the docker driver) and
// dev.nomad.hcl (raw_exec running the in-repo Nextcloud stand-in). Both are embedded; an operator
// may replace either from a directory of files with the same names.
//
// Our placeholders use the delimiters [[ and ]], because Nomad's own template blocks use {{ }}
// (consul-template) and must pass through untouched. Strings go through the hcl function, which
// writes a quoted HCL literal with ${ and %{ escaped, so no value can inject HCL or interpolation.
//
// Secrets never appear in Params: the jobspecs read them at run time from the job's Nomad
// Variable (nomadVar) in template blocks.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

//go:embed *.nomad.hcl
var embedded embed.FS

// Names of the jobspecs.
const (
	Production = "production"
	Dev        = "dev"
)

// Names lists the jobspecs every Set holds.
var Names = []string{Production, Dev}

// FileName is the file a jobspec is read from, embedded or in an override directory.
func FileName(name string) string { return name + ".nomad.hcl" }

// Params are the values a jobspec is filled with. None of them is secret.
type Params struct {
	// JobID is the Nomad job id, space-<slug>.
	JobID     string
	Namespace string
	// Region is empty for the agent's own region.
	Region     string
	Slug       string
	SpaceID    int64
	Generation int64
	// Domain is the space's public name, <slug>.<base domain>.
	Domain string
	// BaseDomain is the domain every space is served under; the production jobspec asks its
	// router for one wildcard certificate, *.BaseDomain, shared by every space.
	BaseDomain string
	// TLSResolver names the router's certificate resolver (Traefik's certificatesResolvers) that
	// obtains the wildcard certificate: a DNS-01 one, since a wildcard needs it.
	TLSResolver string
	// VariablePath is the Nomad Variable holding the space's secrets (nomad/jobs/<job id>).
	VariablePath string
	// VolumeName is the Nomad dynamic host volume holding the space's files, which the provisioner
	// creates before it registers the job (space-<slug>). Its host path on the node, known only
	// once it exists, is in the job's meta spaces_volume_path, set by the provisioner.
	VolumeName string

	// Database the space uses on the tenant database server, as reached from the job.
	DBHost string
	DBPort int
	DBName string
	DBUser string

	// AdminUser is the Nextcloud administrator the provisioner logs in as.
	AdminUser string
	// UserLimit is Nextcloud's one-click-instance.user-limit: the space's accounts limit plus the
	// accounts the service keeps in the space, which Nextcloud counts too.
	UserLimit int
	// StorageBytes is the space's storage limit, for templates that size a volume.
	StorageBytes int64
	// Maintenance puts Nextcloud in maintenance mode: the space is suspended. Its people see
	// Nextcloud's maintenance page (503), its sync clients wait, its data stays untouched.
	Maintenance bool

	// StandinBin is the stand-in binary the dev template runs.
	StandinBin string
	// Image is the Nextcloud image the production template runs.
	Image string
	// CPU (MHz) and MemoryMB are the resources reserved for the Nextcloud task.
	CPU      int
	MemoryMB int
	// MinHealthy is how long an allocation must pass its checks to count as healthy (a Go duration).
	MinHealthy string

	// Settings make the space ready to use: mail, defaults, theming, apps (see Settings).
	Settings
}

// Validate checks what the jobspecs rely on.
func (p Params) Validate() error {
	switch {
	case p.JobID == "" || p.Slug == "" || p.Domain == "" || p.VariablePath == "" || p.VolumeName == "":
		return errors.New("job id, slug, domain, variable path and volume name are required")
	case p.SpaceID <= 0 || p.Generation <= 0:
		return errors.New("space id and generation must be positive")
	case p.DBHost == "" || p.DBPort <= 0 || p.DBName == "" || p.DBUser == "":
		return errors.New("database host, port, name and user are required")
	case p.AdminUser == "" || p.UserLimit <= 0:
		return errors.New("admin user and a positive user limit are required")
	case !identifier.MatchString(p.JobID) || !identifier.MatchString(p.Slug) || !identifier.MatchString(p.VariablePath) ||
		!identifier.MatchString(p.VolumeName):
		return errors.New("job id, slug, variable path and volume name may hold only a-z, 0-9, -, _ and /")
	case !identifier.MatchString(p.Domain):
		return errors.New("domain may hold only a-z, 0-9, -, . ")
	case p.BaseDomain != "" && (!identifier.MatchString(p.BaseDomain) || !strings.HasSuffix(p.Domain, "."+p.BaseDomain)):
		return errors.New("base domain may hold only a-z, 0-9, -, . and must end the domain")
	case p.TLSResolver != "" && !resolverName.MatchString(p.TLSResolver):
		return errors.New("TLS resolver may hold only letters, digits, - and _")
	}
	return p.Settings.validate()
}

// identifier is what may be written unquoted inside a Nomad template string (the variable path)
// and in routing rules: no quotes, no braces, no spaces.
var identifier = regexp.MustCompile(`^[a-z0-9][a-z0-9/_.-]*$`)

// resolverName is what Traefik accepts as a certificate resolver's name in a tag.
var resolverName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// Set is a parsed collection of jobspec templates.
type Set struct {
	tpls   map[string]*template.Template
	origin map[string]string
}

// Load parses the embedded jobspecs, each replaced by the file of the same name in dir when dir
// is not empty and holds one. Any template that does not parse fails the load, so a broken
// override is reported at start.
func Load(dir string) (*Set, error) {
	s := &Set{tpls: map[string]*template.Template{}, origin: map[string]string{}}
	for _, name := range Names {
		file := FileName(name)
		body, err := fs.ReadFile(embedded, file)
		if err != nil {
			return nil, fmt.Errorf("read embedded jobspec %s: %w", file, err)
		}
		origin := "embedded:" + file
		if dir != "" {
			path := filepath.Join(dir, file)
			b, err := os.ReadFile(path)
			switch {
			case err == nil:
				body, origin = b, path
			case !errors.Is(err, fs.ErrNotExist):
				return nil, fmt.Errorf("read jobspec %s: %w", path, err)
			}
		}
		t, err := Parse(file, string(body))
		if err != nil {
			return nil, fmt.Errorf("parse jobspec %s: %w", origin, err)
		}
		s.tpls[name], s.origin[name] = t, origin
	}
	return s, nil
}

// Parse parses one jobspec template with the package's delimiters and functions.
func Parse(name, body string) (*template.Template, error) {
	return template.New(name).Delims("[[", "]]").Option("missingkey=error").Funcs(funcs).Parse(body)
}

// Origin tells where the named jobspec was read from, for logs.
func (s *Set) Origin(name string) string { return s.origin[name] }

// Render fills the named jobspec with p and returns HCL for Jobs().ParseHCL.
func (s *Set) Render(name string, p Params) (string, error) {
	t, ok := s.tpls[name]
	if !ok {
		return "", fmt.Errorf("render jobspec: unknown template %q (want production or dev)", name)
	}
	if err := p.Validate(); err != nil {
		return "", fmt.Errorf("render jobspec %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		return "", fmt.Errorf("render jobspec %s (%s): %w", name, s.origin[name], err)
	}
	return b.String(), nil
}

var funcs = template.FuncMap{
	"hcl":  HCLString,
	"env":  EnvText,
	"php":  PHPString,
	"json": JSONString,
	"join": strings.Join,
}

// HCLString writes s as a quoted HCL string literal: Go-style escapes, with the template
// sequences ${ and %{ doubled so HCL reads them literally.
func HCLString(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "${", "$${")
	q = strings.ReplaceAll(q, "%{", "%%{")
	return q
}

// EnvText makes free text safe as the value of a task's env block: Nomad interpolates ${…} in
// env values when the task starts (an association named "${NOMAD_META_…}" would show the job's
// meta), and has no escape for it, so "${" is written "$ {".
func EnvText(s string) string { return strings.ReplaceAll(s, "${", "$ {") }

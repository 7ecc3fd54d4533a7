package standin

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadEnv(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "pw")
	if err := os.WriteFile(secret, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"NEXTCLOUD_DATA_DIR": "/srv/nc/data", "POSTGRES_DB": "nc", "POSTGRES_USER": "nc"}
	tests := []struct {
		name     string
		env      map[string]string
		host     string
		port     uint16
		password string
		errVar   string
	}{
		{"host only", map[string]string{"POSTGRES_HOST": "db"}, "db", 5432, "", ""},
		{"host and port", map[string]string{"POSTGRES_HOST": "db:6543"}, "db", 6543, "", ""},
		{"ipv6", map[string]string{"POSTGRES_HOST": "[::1]:6543"}, "::1", 6543, "", ""},
		{"socket dir", map[string]string{"POSTGRES_HOST": "/run/postgresql"}, "/run/postgresql", 5432, "", ""},
		{"password file", map[string]string{"POSTGRES_HOST": "db", "POSTGRES_PASSWORD_FILE": secret}, "db", 5432, "from-file", ""},
		{"bad port", map[string]string{"POSTGRES_HOST": "db:99999"}, "", 0, "", "POSTGRES_HOST"},
		{"missing host", map[string]string{}, "", 0, "", "POSTGRES_HOST"},
		{"both password forms", map[string]string{"POSTGRES_HOST": "db", "POSTGRES_PASSWORD": "a", "POSTGRES_PASSWORD_FILE": secret}, "", 0, "", "POSTGRES_PASSWORD"},
		{"bad admin login", map[string]string{"POSTGRES_HOST": "db", "NEXTCLOUD_ADMIN_USER": "a/b", "NEXTCLOUD_ADMIN_PASSWORD": "x"}, "", 0, "", "NEXTCLOUD_ADMIN_USER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			e, err := LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if tt.errVar != "" {
				var ee *EnvError
				if !errors.As(err, &ee) || ee.Var != tt.errVar {
					t.Fatalf("err %v, want one naming %s", err, tt.errVar)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.PostgresHost != tt.host || e.PostgresPort != tt.port || e.PostgresPassword != tt.password || e.ConfigDir != "/srv/nc/config" {
				t.Errorf("got %+v", e)
			}
		})
	}
}

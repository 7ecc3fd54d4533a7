package provisioner

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/assospaces/spaces/provisioner/nomad"
)

// Keys of a space's Nomad Variable. The jobspecs read them by these names.
const (
	keyDBPassword      = "db_password"
	keyAdminPassword   = "admin_password"
	keyRedisPassword   = "redis_password"
	keyServerInfoToken = "serverinfo_token"
	// keyOwnerPassword is the first account's one-time password: kept so that a pass resumed
	// after the account was created still knows what to send.
	keyOwnerPassword = "owner_password"
	// keySMTPPassword is the operator's SMTP relay password, copied into every space's Variable
	// (the jobspec reads it into secrets/), kept equal to the setting by every pass.
	keySMTPPassword = "smtp_password"
)

// secretKeys are the secrets a space's job runs with, for its whole life.
var secretKeys = []string{keyDBPassword, keyAdminPassword, keyRedisPassword, keyServerInfoToken}

// provisioningKeys add the first account's one-time password, kept only until the space is active.
var provisioningKeys = append(append([]string{}, secretKeys...), keyOwnerPassword)

// newSecret is 160 random bits in lowercase base32: no character needs quoting in SQL, an env
// file or a URL.
func newSecret() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// ensureSecrets returns the space's secrets, creating the Nomad Variable with fresh ones when it
// does not exist. The variable is the one source of truth: it is written (check-and-set, so two
// passes agree on one set) before any role, job or account uses a secret, and everything else is
// made to match it. A key missing from an older variable is added the same way.
func (p *Provisioner) ensureSecrets(ctx context.Context, jobID string) (map[string]string, error) {
	return p.ensureKeys(ctx, jobID, secretKeys)
}

// ensureProvisioningSecrets is ensureSecrets with the first account's one-time password too, for
// the passes that may still create that account.
func (p *Provisioner) ensureProvisioningSecrets(ctx context.Context, jobID string) (map[string]string, error) {
	return p.ensureKeys(ctx, jobID, provisioningKeys)
}

// ensureKeys returns the space's Variable items, made or completed with fresh values for keys.
func (p *Provisioner) ensureKeys(ctx context.Context, jobID string, keys []string) (map[string]string, error) {
	path := nomad.VariablePath(jobID)
	for attempt := 0; attempt < 5; attempt++ {
		v, err := p.nomad.GetVariable(ctx, path)
		switch {
		case errors.Is(err, nomad.ErrNotFound):
			items := map[string]string{}
			for _, k := range keys {
				items[k] = newSecret()
			}
			p.operatorSecrets(items)
			v, err = p.nomad.CreateVariable(ctx, path, items)
			if errors.Is(err, nomad.ErrConflict) {
				continue // another pass created it: use theirs
			}
			if err != nil {
				return nil, err
			}
			return v.Items, nil
		case err != nil:
			return nil, err
		}
		missing := false
		for _, k := range keys {
			if v.Items[k] == "" {
				v.Items[k], missing = newSecret(), true
			}
		}
		if p.operatorSecrets(v.Items) {
			missing = true
		}
		if !missing {
			return v.Items, nil
		}
		v, err = p.nomad.UpdateVariable(ctx, v)
		if errors.Is(err, nomad.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return v.Items, nil
	}
	return nil, fmt.Errorf("write nomad variable %s: too many concurrent writers", path)
}

// forgetOwnerPassword removes the first account's one-time password from the space's Variable
// once the space is active: the welcome mail carries it (sealed in its job), and nothing reads it
// again. A missing key is fine; a concurrent writer is retried (check-and-set).
func (p *Provisioner) forgetOwnerPassword(ctx context.Context, jobID string) error {
	path := nomad.VariablePath(jobID)
	for attempt := 0; attempt < 5; attempt++ {
		v, err := p.nomad.GetVariable(ctx, path)
		if errors.Is(err, nomad.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, ok := v.Items[keyOwnerPassword]; !ok {
			return nil
		}
		delete(v.Items, keyOwnerPassword)
		_, err = p.nomad.UpdateVariable(ctx, v)
		if errors.Is(err, nomad.ErrConflict) {
			continue
		}
		return err
	}
	return fmt.Errorf("update nomad variable %s: too many concurrent writers", path)
}

// operatorSecrets puts in items the secrets the operators set for every space (the SMTP relay's
// password), or removes one no longer set; it reports whether items changed.
func (p *Provisioner) operatorSecrets(items map[string]string) bool {
	want := p.cfg.Space.SMTPPassword
	if items[keySMTPPassword] == want {
		return false
	}
	if want == "" {
		if _, ok := items[keySMTPPassword]; !ok {
			return false
		}
		delete(items, keySMTPPassword)
		return true
	}
	items[keySMTPPassword] = want
	return true
}

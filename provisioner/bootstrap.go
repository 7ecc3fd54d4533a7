package provisioner

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/assospaces/spaces/provisioner/nextcloud"
	"github.com/assospaces/spaces/tenants"
)

// Nextcloud returns a client for the space at addr, logged in as the provisioner's admin and
// sending the space's public name as Host (its only trusted domain).
func (p *Provisioner) Nextcloud(s tenants.Space, addr string, secrets map[string]string) (*nextcloud.Client, error) {
	return nextcloud.New("http://"+addr,
		nextcloud.WithBasicAuth(p.cfg.AdminUser, secrets[keyAdminPassword]),
		nextcloud.WithServerInfoToken(secrets[keyServerInfoToken]),
		nextcloud.WithHost(p.Domain(s.Slug)),
		nextcloud.WithHTTPClient(p.http))
}

// bootstrap gives the association its first account: an administrator whose login is the
// contact address, with the one-time password from the Nomad Variable and the space's whole
// storage as quota. The accounts limit is in the config file the jobspec renders. An account
// that exists already (an earlier pass) is kept and its quota set again.
func (p *Provisioner) bootstrap(ctx context.Context, s tenants.Space, addr string, secrets map[string]string) error {
	nc, err := p.Nextcloud(s, addr, secrets)
	if err != nil {
		return err
	}
	st, err := nc.Status(ctx)
	if err != nil {
		return err
	}
	if !st.Installed || st.Maintenance || st.NeedsDBUpgrade {
		return fmt.Errorf("nextcloud at %s is not ready (installed %v, maintenance %v, upgrade needed %v)",
			addr, st.Installed, st.Maintenance, st.NeedsDBUpgrade)
	}
	login := OwnerLogin(s)
	quota := strconv.FormatInt(s.Limits.StorageBytes, 10)
	_, err = nc.CreateUser(ctx, nextcloud.CreateUser{
		UserID: login, Password: secrets[keyOwnerPassword], DisplayName: s.AssociationName, Email: login,
		Groups: []string{"admin"}, Quota: quota, Language: s.Locale,
	})
	switch {
	case errors.Is(err, nextcloud.ErrUserExists):
		if err := nc.SetQuota(ctx, login, quota); err != nil {
			return err
		}
	case errors.Is(err, nextcloud.ErrUserLimit):
		return &PermanentError{Reason: "the accounts limit leaves no room for the first account", Err: err}
	case err != nil:
		return err
	}
	return nil
}

package provisioner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/assospaces/spaces/provisioner/nextcloud"
	"github.com/assospaces/spaces/quota"
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

// AssociationGroup is the Nextcloud group of the association's accounts. The first account is
// its sub-admin: it creates, edits, disables and deletes the association's accounts, within the
// accounts limit (the user limit in the config file the jobspec renders) and with quotas the
// service owns, but it is not an instance administrator: it cannot change the space's
// configuration, see or touch the service's own account, or raise a quota above the space's
// limit (files/max_quota).
const AssociationGroup = "association"

// bootstrap gives the association its first account: its login is the contact address, its
// one-time password comes from the Nomad Variable, it belongs to AssociationGroup and is that
// group's sub-admin. The storage plan for a space with this one account is applied at once
// (its quota, the default quota of accounts created before the next usage pass, and the
// maximum quota), so the limit holds from the first minute. Everything is idempotent: a
// resumed pass finds the group and the account and sets what is missing. A first account made
// an instance administrator by an earlier version leaves group admin.
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
	if err := nc.CreateGroup(ctx, AssociationGroup, s.AssociationName); err != nil && !errors.Is(err, nextcloud.ErrGroupExists) {
		return err
	}
	login := OwnerLogin(s)
	plan := quota.PlanStorage(quota.PlanInput{Limits: s.Limits, Accounts: []quota.Account{
		{ID: p.cfg.AdminUser, Service: true}, {ID: login}}})
	ownerQuota := quota.NextcloudQuotaString(plan.Quotas[login])
	maxQuota, defQuota := filesQuotas(plan)
	for _, q := range []filesQuota{maxQuota, defQuota} {
		if err := setFilesQuota(ctx, nc, q); err != nil {
			return err
		}
	}
	_, err = nc.CreateUser(ctx, nextcloud.CreateUser{
		UserID: login, Password: secrets[keyOwnerPassword], DisplayName: s.AssociationName, Email: strings.TrimSpace(s.ContactEmail),
		Groups: []string{AssociationGroup}, Quota: ownerQuota, Language: s.Locale,
	})
	switch {
	case errors.Is(err, nextcloud.ErrUserExists):
		owner, err := nc.UserDetails(ctx, login)
		if err != nil {
			return err
		}
		if slices.Contains(owner.Groups, "admin") {
			if err := nc.RemoveFromGroup(ctx, login, "admin"); err != nil {
				return err
			}
		}
		if !slices.Contains(owner.Groups, AssociationGroup) {
			if err := nc.AddToGroup(ctx, login, AssociationGroup); err != nil {
				return err
			}
		}
		if err := nc.SetQuota(ctx, login, ownerQuota); err != nil {
			return err
		}
	case errors.Is(err, nextcloud.ErrUserLimit):
		return &PermanentError{Reason: "the accounts limit leaves no room for the first account", Err: err}
	case err != nil:
		return err
	}
	if err := nc.AddSubAdmin(ctx, login, AssociationGroup); err != nil {
		return err
	}
	changed, err := p.applySettings(ctx, nc, s)
	if err != nil {
		return err
	}
	if len(changed) > 0 {
		p.logger.InfoContext(ctx, "space settings applied", "space", s.Slug, "settings", changed)
	}
	return p.putGuide(ctx, nc, s, secrets[keyOwnerPassword])
}

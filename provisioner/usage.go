package provisioner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/provisioner/nextcloud"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// Condition types of usage and limits.
const (
	CondUsageCollected      = "UsageCollected"
	CondStorageWithinLimit  = "StorageWithinLimit"
	CondAccountsWithinLimit = "AccountsWithinLimit"
)

// usageConcurrency bounds how many spaces a usage pass asks at once; each is bounded in time by
// Config.UsageTimeout (its status, its accounts page by page, serverinfo and the quota writes),
// after which it is given up for this pass and marked stale: a hung space never holds the others.
const usageConcurrency = 16

// LevelChange is a space's storage crossing a threshold (80 %, 90 %, full) up or down.
type LevelChange struct {
	Space    tenants.Space
	From, To quota.Level
	Used     int64
}

// LevelFunc runs in the transaction that records a level change: it enqueues the mail to the
// association, so that the mail goes once and only with the change.
type LevelFunc func(ctx context.Context, tx pgx.Tx, c LevelChange) error

// UsageReport says what a usage pass did.
type UsageReport struct {
	Collected, Failed int
	// QuotaWrites counts the account quotas (and default/max quotas) set in Nextcloud.
	QuotaWrites int
	// SettingsPutBack counts the service-owned settings (apps, app config) found changed and
	// put back.
	SettingsPutBack int
	Changes         []LevelChange
}

// CollectUsage measures up to limit active spaces whose collection is due: accounts (enabled,
// disabled), bytes used (the sum of every account's quota.used, as Nextcloud has no total),
// active users (serverinfo). It then applies the storage plan (quota.PlanStorage) to the
// space's accounts, moves the space's storage level with its audit entry and calls onLevel,
// and records the conditions StorageWithinLimit, AccountsWithinLimit and UsageCollected. A space
// that cannot be reached keeps its last figures, marked stale with the reason, and is asked
// again later with backoff. Nomad is asked once per pass, for every allocation's address.
func (p *Provisioner) CollectUsage(ctx context.Context, limit int, onLevel LevelFunc) (UsageReport, error) {
	var rep UsageReport
	spaces, err := tenants.SpacesDueForUsage(ctx, p.db, p.now(), limit)
	if err != nil || len(spaces) == 0 {
		return rep, err
	}
	allocs, err := p.nomad.ListAllocations(ctx, jobPrefix)
	if err != nil {
		return rep, err
	}
	byJob := map[string][]*nomadapi.AllocationListStub{}
	for _, a := range allocs {
		byJob[a.JobID] = append(byJob[a.JobID], a)
	}
	ids := make([]int64, len(spaces))
	for i, s := range spaces {
		ids[i] = s.ID
	}
	prevs, err := tenants.UsageOf(ctx, p.db, ids)
	if err != nil {
		return rep, err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, usageConcurrency)
	for _, s := range spaces {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			h := healthOf(byJob[JobID(s.Slug)])
			prev, ok := prevs[s.ID]
			if !ok {
				prev = tenants.Usage{SpaceID: s.ID}
			}
			sctx, cancel := context.WithTimeout(ctx, p.cfg.UsageTimeout)
			res, err := p.collectOne(sctx, s, prev, h)
			cancel()
			if err == nil {
				err = p.recordUsage(ctx, s, res, onLevel)
			}
			if err != nil {
				p.usageFailed(ctx, s, prev, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rep.Failed++
				return
			}
			rep.Collected++
			rep.QuotaWrites += res.writes
			rep.SettingsPutBack += len(res.settings)
			if res.change != nil {
				rep.Changes = append(rep.Changes, *res.change)
			}
		}()
	}
	wg.Wait()
	return rep, nil
}

// usageResult is one space's measurement.
type usageResult struct {
	usage  tenants.Usage
	plan   *quota.Plan // the plan now in force; nil when unchanged
	writes int
	// settings are the service-owned settings put back (applySettings).
	settings []string
	change   *LevelChange
	conds    []tenants.Condition
}

// collectOne measures one space, last measured as prev, and applies its storage plan.
func (p *Provisioner) collectOne(ctx context.Context, s tenants.Space, prev tenants.Usage, h allocHealth) (*usageResult, error) {
	if !h.ok || h.addr == "" {
		return nil, errors.New("no healthy allocation to ask (" + h.note + ")")
	}
	nc, err := p.spaceClient(ctx, s, h.addr)
	if err != nil {
		return nil, err
	}
	st, err := nc.Status(ctx)
	if err != nil {
		return nil, err
	}
	if st.Maintenance {
		return nil, errors.New("Nextcloud is in maintenance mode")
	}
	users, err := nc.AllUserDetails(ctx)
	if errors.Is(err, nextcloud.ErrUnauthorized) {
		// The secrets changed (a Variable made anew): read them again once.
		p.forgetSecrets(JobID(s.Slug))
		if nc, err = p.spaceClient(ctx, s, h.addr); err == nil {
			users, err = nc.AllUserDetails(ctx)
		}
	}
	if err != nil {
		return nil, err
	}
	info, err := nc.ServerInfo(ctx)
	if err != nil {
		return nil, err
	}

	res := &usageResult{usage: tenants.Usage{SpaceID: s.ID,
		ActiveUsersDay: int(info.ActiveUsers.Last24Hours), ActiveUsersMonth: int(info.ActiveUsers.Last1Month)}}
	accounts := make([]quota.Account, 0, len(users))
	now := p.now()
	for _, u := range users {
		service := u.ID == p.cfg.AdminUser
		if service {
			// serverinfo counts every account that logged in, the service's own included: it logs
			// in at every pass, so it is taken out of the association's active users.
			last := time.UnixMilli(u.LastLogin)
			if u.LastLogin > 0 && now.Sub(last) < 24*time.Hour {
				res.usage.ActiveUsersDay = max(res.usage.ActiveUsersDay-1, 0)
			}
			if u.LastLogin > 0 && now.Sub(last) < 30*24*time.Hour {
				res.usage.ActiveUsersMonth = max(res.usage.ActiveUsersMonth-1, 0)
			}
		}
		used := max(u.Quota.Used, 0)
		accounts = append(accounts, quota.Account{ID: u.ID, Used: used, Quota: u.Quota.Quota, Service: service})
		res.usage.UsedBytes += used
		switch {
		case service:
		case u.Enabled:
			res.usage.AccountsEnabled++
		default:
			res.usage.AccountsDisabled++
		}
	}

	var previous *quota.Plan
	if len(prev.Plan) > 0 {
		previous = &quota.Plan{}
		if err := json.Unmarshal(prev.Plan, previous); err != nil {
			previous = nil // an unreadable plan is made anew
		}
	}
	in := quota.PlanInput{Limits: s.Limits, Accounts: accounts, Previous: previous}
	if need, why := quota.NeedsReplan(in); need {
		plan := quota.PlanStorage(in)
		writes, err := p.applyPlan(ctx, nc, plan, accounts, previous)
		res.writes = writes
		if err != nil {
			return nil, fmt.Errorf("apply the storage plan (%s): %w", why, err)
		}
		res.plan = &plan
		p.logger.InfoContext(ctx, "storage plan applied", "space", s.Slug, "why", why, "quota_writes", writes,
			"used", res.usage.UsedBytes, "limit", s.Limits.StorageBytes)
	} else {
		writes, err := p.restoreFilesQuotas(ctx, s, nc, *previous)
		res.writes = writes
		if err != nil {
			return nil, fmt.Errorf("check the files app's quotas: %w", err)
		}
	}

	if res.settings, err = p.applySettings(ctx, nc, s); err != nil {
		return nil, fmt.Errorf("put back the space's settings: %w", err)
	}
	if len(res.settings) > 0 {
		p.logger.WarnContext(ctx, "space settings changed behind the service's back, put back", "space", s.Slug, "settings", res.settings)
	}

	level := quota.StorageLevel(prev.Level, res.usage.UsedBytes, s.Limits.StorageBytes)
	res.usage.Level = level
	if level != prev.Level {
		res.change = &LevelChange{Space: s, From: prev.Level, To: level, Used: res.usage.UsedBytes}
	}
	res.conds = usageConditions(s, res.usage)
	return res, nil
}

// filesQuota is one of the files app's settings a storage plan makes.
type filesQuota struct{ key, value string }

// filesQuotas are the files app's settings of plan, the maximum first: Nextcloud refuses any
// quota above it, so after a resize up the raised quotas would be refused were it set last.
func filesQuotas(plan quota.Plan) (maxQuota, defaultQuota filesQuota) {
	return filesQuota{"max_quota", quota.NextcloudQuotaString(plan.MaxQuota)},
		filesQuota{"default_quota", quota.NextcloudQuotaString(plan.DefaultQuota)}
}

func setFilesQuota(ctx context.Context, nc *nextcloud.Client, q filesQuota) error {
	return nc.SetAppValue(ctx, "files", q.key, q.value)
}

// applyPlan writes the files app's maximum quota first, then every account quota that differs
// from the plan (lowered ones first, so the space's total never rises meanwhile), then the
// default quota of accounts created before the next pass.
func (p *Provisioner) applyPlan(ctx context.Context, nc *nextcloud.Client, plan quota.Plan, accounts []quota.Account, previous *quota.Plan) (int, error) {
	writes := 0
	maxQuota, defQuota := filesQuotas(plan)
	if previous == nil || previous.MaxQuota != plan.MaxQuota {
		if err := setFilesQuota(ctx, nc, maxQuota); err != nil {
			return writes, err
		}
		writes++
	}
	for _, c := range plan.Changes(accounts) {
		if err := nc.SetQuota(ctx, c.ID, quota.NextcloudQuotaString(c.To)); err != nil {
			return writes, err
		}
		writes++
	}
	if previous == nil || previous.DefaultQuota != plan.DefaultQuota {
		if err := setFilesQuota(ctx, nc, defQuota); err != nil {
			return writes, err
		}
		writes++
	}
	return writes, nil
}

// restoreFilesQuotas puts back the files app's maximum and default quotas of plan when they were
// changed behind the service's back (by an administrator of the instance).
func (p *Provisioner) restoreFilesQuotas(ctx context.Context, s tenants.Space, nc *nextcloud.Client, plan quota.Plan) (int, error) {
	writes := 0
	maxQuota, defQuota := filesQuotas(plan)
	for _, q := range []filesQuota{maxQuota, defQuota} {
		got, err := nc.AppValue(ctx, "files", q.key)
		if err != nil {
			return writes, err
		}
		if got == q.value {
			continue
		}
		if err := setFilesQuota(ctx, nc, q); err != nil {
			return writes, err
		}
		writes++
		p.logger.InfoContext(ctx, "files quota put back", "space", s.Slug, "key", q.key, "found", got, "want", q.value)
	}
	return writes, nil
}

func usageConditions(s tenants.Space, u tenants.Usage) []tenants.Condition {
	pct := quota.Percent(u.UsedBytes, s.Limits.StorageBytes)
	storageMsg := fmt.Sprintf("%s of %s used (%.0f %%)", quota.FormatSize(u.UsedBytes), quota.FormatSize(s.Limits.StorageBytes), pct)
	var storage tenants.Condition
	switch u.Level {
	case quota.LevelFull:
		storage = cond(CondStorageWithinLimit, false, "OverQuota", storageMsg+": uploads are refused until usage goes down or the space is resized")
	case quota.LevelWarn90:
		storage = cond(CondStorageWithinLimit, true, "Above90Percent", storageMsg)
	case quota.LevelWarn80:
		storage = cond(CondStorageWithinLimit, true, "Above80Percent", storageMsg)
	default:
		storage = cond(CondStorageWithinLimit, true, "WithinLimit", storageMsg)
	}
	accountsMsg := fmt.Sprintf("%d of %d accounts enabled (%d disabled)", u.AccountsEnabled, s.Limits.Accounts, u.AccountsDisabled)
	accounts := cond(CondAccountsWithinLimit, u.AccountsEnabled <= s.Limits.Accounts, "WithinLimit", accountsMsg)
	if u.AccountsEnabled > s.Limits.Accounts {
		accounts.Reason = "OverLimit"
	}
	collected := cond(CondUsageCollected, true, "Collected", fmt.Sprintf("%d active users today, %d this month", u.ActiveUsersDay, u.ActiveUsersMonth))
	return []tenants.Condition{storage, accounts, collected}
}

// recordUsage stores one measurement, and a level change with its audit entry and onLevel, in
// one transaction.
func (p *Provisioner) recordUsage(ctx context.Context, s tenants.Space, res *usageResult, onLevel LevelFunc) error {
	now := p.now()
	if res.plan != nil {
		b, err := json.Marshal(res.plan)
		if err != nil {
			return err
		}
		res.usage.Plan = b
	}
	return pgx.BeginFunc(ctx, p.db, func(tx pgx.Tx) error {
		if err := tenants.RecordUsage(ctx, tx, res.usage, now, now.Add(p.cfg.UsageInterval)); err != nil {
			return err
		}
		// A steady space's conditions do not change: they are not written again.
		if (tenants.Observation{Conditions: res.conds}).Changes(s, now) {
			if err := tenants.RecordObservation(ctx, tx, s.ID, 0, res.conds, now); err != nil {
				return err
			}
		}
		c := res.change
		if c == nil {
			return nil
		}
		err := tenants.RecordAudit(ctx, tx, tenants.AuditEntry{Actor: tenants.ActorReconciler, Action: "space.storage_level",
			SubjectType: "space", SubjectID: s.ID, Detail: map[string]any{
				"from": c.From.String(), "to": c.To.String(), "used_bytes": c.Used, "limit_bytes": s.Limits.StorageBytes}})
		if err != nil {
			return err
		}
		p.logger.InfoContext(ctx, "storage level changed", "space", s.Slug, "from", c.From.String(), "to", c.To.String(),
			"used", c.Used, "limit", s.Limits.StorageBytes)
		if onLevel != nil {
			return onLevel(ctx, tx, *c)
		}
		return nil
	})
}

// usageFailed keeps the space's last figures (prev), marked stale with the reason, and backs off.
func (p *Provisioner) usageFailed(ctx context.Context, s tenants.Space, prev tenants.Usage, err error) {
	now := p.now()
	next := now.Add(min(p.cfg.UsageInterval<<min(prev.Failures, 6), time.Hour))
	reason := Reason(err)
	if werr := tenants.RecordUsageFailure(ctx, p.db, s.ID, reason, now, next); werr != nil {
		p.logger.WarnContext(ctx, "record usage failure", "space", s.Slug, "err", werr)
	}
	since := "now"
	if prev.Collected() {
		since = "figures from " + prev.CollectedAt.UTC().Format(time.RFC3339)
	}
	// Only the condition: a failed measure applied nothing, so it observes no generation (a resize
	// whose limits are not in Nextcloud yet stays for the reconciler to apply).
	c := cond(CondUsageCollected, false, "Unreachable", reason+" ("+since+")")
	if werr := tenants.RecordObservation(context.WithoutCancel(ctx), p.db, s.ID, 0, []tenants.Condition{c}, now); werr != nil {
		p.logger.WarnContext(ctx, "record conditions", "space", s.Slug, "err", werr)
	}
	p.logger.WarnContext(ctx, "usage not collected", "space", s.Slug, "err", err, "failures", prev.Failures+1, "next", next)
}

// spaceClient is a Nextcloud client for space s at addr, with its secrets from the Nomad Variable
// (read once and kept: a pass over many spaces asks Nomad for none of them).
func (p *Provisioner) spaceClient(ctx context.Context, s tenants.Space, addr string) (*nextcloud.Client, error) {
	jobID := JobID(s.Slug)
	p.secretsMu.Lock()
	items, ok := p.secrets[jobID]
	p.secretsMu.Unlock()
	if !ok {
		v, err := p.nomad.GetVariable(ctx, nomad.VariablePath(jobID))
		if err != nil {
			return nil, err
		}
		items = v.Items
		p.secretsMu.Lock()
		p.secrets[jobID] = items
		p.secretsMu.Unlock()
	}
	return p.Nextcloud(s, addr, items)
}

func (p *Provisioner) forgetSecrets(jobID string) {
	p.secretsMu.Lock()
	delete(p.secrets, jobID)
	p.secretsMu.Unlock()
}

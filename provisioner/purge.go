package provisioner

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/tenants"
)

// Purge removes everything a deleting space has outside the service's database: its Nomad job
// (stopped, its tasks waited for, then purged with its allocations), its data volume (its files),
// its database and role on the tenant server, and its Nomad Variable (its secrets), in that
// order, so that nothing still running uses what goes next. Each step is idempotent: a purge
// stopped halfway is simply run again. The caller then records the space as purged
// (tenants.MarkSpacePurged).
func (p *Provisioner) Purge(ctx context.Context, s tenants.Space) error {
	if s.State != tenants.SpaceDeleting {
		return fmt.Errorf("purge space %s: it is %s, not deleting", s.Slug, s.State)
	}
	jobID := JobID(s.Slug)
	if err := p.stopJobAndWait(ctx, jobID); err != nil {
		return &StepError{Step: "stop nomad job", Err: err}
	}
	if err := p.nomad.DeregisterJob(ctx, jobID, true); err != nil && !errors.Is(err, nomad.ErrNotFound) {
		return &StepError{Step: "purge nomad job", Err: err}
	}
	if err := p.deleteVolume(ctx, s); err != nil {
		return &StepError{Step: "delete data volume", Err: err}
	}
	if err := p.dropDatabase(ctx, s); err != nil {
		return &StepError{Step: "drop tenant database", Err: err}
	}
	if err := p.nomad.DeleteVariable(ctx, nomad.VariablePath(jobID)); err != nil && !errors.Is(err, nomad.ErrNotFound) {
		return &StepError{Step: "delete nomad variable", Err: err}
	}
	p.forgetSecrets(jobID)
	return nil
}

// dropDatabase drops the space's database (closing its connections) and its role.
func (p *Provisioner) dropDatabase(ctx context.Context, s tenants.Space) error {
	name := DatabaseName(s.Slug)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := p.tenant.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, ident)); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	if _, err := p.tenant.Exec(ctx, fmt.Sprintf(`DROP ROLE IF EXISTS %s`, ident)); err != nil {
		return fmt.Errorf("drop role %s: %w", name, err)
	}
	return nil
}

package provisioner

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
)

// Job meta keys: which space and generation a job was rendered for, and a hash of its jobspec.
const (
	MetaSpaceID    = "spaces_space_id"
	MetaGeneration = "spaces_generation"
	MetaSpecHash   = "spaces_spec_hash"
)

// ServiceAccounts is how many accounts the service itself keeps in every space (its
// administrator). Nextcloud counts them against its user limit, so the limit rendered is the
// association's accounts limit plus these: the association gets exactly its limit.
const ServiceAccounts = 1

// Params are the jobspec values of space s.
func (p *Provisioner) Params(s tenants.Space) templates.Params {
	minHealthy := "10s"
	if p.cfg.Template == templates.Dev {
		minHealthy = "1s"
	}
	return templates.Params{
		JobID: JobID(s.Slug), Namespace: p.cfg.Namespace, Region: p.cfg.Region, Slug: s.Slug,
		SpaceID: s.ID, Generation: s.Generation, Domain: p.Domain(s.Slug), BaseDomain: p.cfg.BaseDomain, TLSResolver: p.cfg.TLSResolver,
		VariablePath: nomad.VariablePath(JobID(s.Slug)), VolumeName: VolumeName(s.Slug),
		DBHost: p.dbHost, DBPort: p.dbPort, DBName: DatabaseName(s.Slug), DBUser: DatabaseName(s.Slug),
		AdminUser: p.cfg.AdminUser, UserLimit: s.Limits.Accounts + ServiceAccounts, StorageBytes: s.Limits.StorageBytes,
		StandinBin: p.cfg.StandinBin, Image: p.cfg.Image, CPU: p.cfg.CPU, MemoryMB: p.cfg.MemoryMB,
		MinHealthy: minHealthy, Maintenance: s.State == tenants.SpaceSuspended,
		Settings: p.spaceSettings(s),
	}
}

// ensureJob renders, parses and registers the space's job unless Nomad already runs exactly
// that jobspec on the data volume at volumePath (see MetaVolumePath), and returns the job
// version to wait for. A template that does not render, or a jobspec Nomad refuses, is a
// PermanentError.
func (p *Provisioner) ensureJob(ctx context.Context, s tenants.Space, volumePath string) (uint64, error) {
	jobID := JobID(s.Slug)
	hcl, err := p.cfg.Templates.Render(p.cfg.Template, p.Params(s))
	if err != nil {
		return 0, &PermanentError{Reason: "the jobspec template does not render", Err: err}
	}
	hash := SpecHash(hcl)

	existing, err := p.nomad.Job(ctx, jobID)
	switch {
	case errors.Is(err, nomad.ErrNotFound):
	case err != nil:
		return 0, err
	case existing.Stop == nil || !*existing.Stop:
		if existing.Meta[MetaSpecHash] == hash && existing.Meta[MetaSpaceID] == strconv.FormatInt(s.ID, 10) &&
			existing.Meta[MetaVolumePath] == volumePath {
			return *existing.Version, nil
		}
		if existing.Meta[MetaSpaceID] != strconv.FormatInt(s.ID, 10) {
			return 0, &PermanentError{Reason: "the Nomad job id is taken",
				Err: fmt.Errorf("job %s belongs to space %q, not %d", jobID, existing.Meta[MetaSpaceID], s.ID)}
		}
	}

	job, err := p.nomad.ParseJob(ctx, hcl)
	if errors.Is(err, nomad.ErrInvalidJob) {
		return 0, &PermanentError{Reason: "Nomad refuses the jobspec from template " + p.cfg.Templates.Origin(p.cfg.Template), Err: err}
	}
	if err != nil {
		return 0, err
	}
	if job.ID == nil || *job.ID != jobID {
		return 0, &PermanentError{Reason: "the jobspec template names the wrong job",
			Err: fmt.Errorf("want job id %s, the template makes %v", jobID, derefString(job.ID))}
	}
	if job.Meta == nil {
		job.Meta = map[string]string{}
	}
	job.Meta[MetaSpaceID] = strconv.FormatInt(s.ID, 10)
	job.Meta[MetaGeneration] = strconv.FormatInt(s.Generation, 10)
	job.Meta[MetaSpecHash] = hash
	job.Meta[MetaVolumePath] = volumePath
	if _, err := p.nomad.RegisterJob(ctx, job); err != nil {
		if errors.Is(err, nomad.ErrInvalidJob) {
			return 0, &PermanentError{Reason: "Nomad refuses the job", Err: err}
		}
		return 0, err
	}
	// Read back the version Nomad gave it: allocations of older versions do not count.
	registered, err := p.nomad.Job(ctx, jobID)
	if err != nil {
		return 0, err
	}
	p.logger.InfoContext(ctx, "job registered", "job", jobID, "version", *registered.Version, "template", p.cfg.Templates.Origin(p.cfg.Template))
	return *registered.Version, nil
}

func derefString(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

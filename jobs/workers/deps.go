package workers

import (
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/tenants/notify"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// Deps are what the workers need. Fields left nil disable the workers that need them, which lets
// tests build a client without every dependency.
type Deps struct {
	Logger *slog.Logger

	// Pool is the service's database, for workers that read or write it (purge).
	Pool *pgxpool.Pool
	// Mailer composes and sends mail; nil disables the mail worker.
	Mailer *notify.Mailer
	// Box opens the sealed part of mail jobs.
	Box *secretbox.Box
	// Retention is how long rejected and withdrawn applications are kept; 0 disables the purge.
	Retention time.Duration
	// StaleAfter is how long an application waits for its applicant's answer before the purge
	// closes it (SPACES_STALE_AFTER); 0 never closes one.
	StaleAfter time.Duration

	// Provisioner runs the provisioning steps; nil disables the provisioning and admission
	// workers (they also need Pool, and Box to seal the first account's password).
	Provisioner *provisioner.Provisioner
	// PublicURL is the service's address, used in the mail a space is ready.
	PublicURL string

	// ExportDir is where the archives of space exports are written (SPACES_EXPORT_DIR); empty
	// disables the export workers (they also need Pool and Provisioner).
	ExportDir string
	// ExportRetention is how long a finished archive is kept (DefaultExportRetention when 0).
	ExportRetention time.Duration
}

// logger is the workers' logger: Logger, or slog's default.
func (d Deps) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.Default()
	}
	return d.Logger
}

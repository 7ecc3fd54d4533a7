package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/tenants"
)

// DefaultDeleteGrace is how long a deleted space can be restored before it is purged.
const DefaultDeleteGrace = 30 * 24 * time.Hour

// Decisions records the operators' decisions about spaces (resize, suspend, resume, delete,
// restore), each in one transaction with its audit entry, the wake-up of the reconciler that
// applies it, the mail to the association, and, for a deletion, an admission pass for the place
// it frees. Nothing here talks to Nomad or Nextcloud: the reconciler does.
type Decisions struct {
	Pool   *pgxpool.Pool
	Client *Client
	// BaseDomain and PublicURL are for the mail: the space's address and the service's.
	BaseDomain string
	PublicURL  string
	// DeleteGrace is how long a deleted space can be restored (DefaultDeleteGrace when 0).
	DeleteGrace time.Duration
	// Now is the clock; tests set it.
	Now func() time.Time
}

func (d *Decisions) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Decisions) grace() time.Duration {
	if d.DeleteGrace > 0 {
		return d.DeleteGrace
	}
	return DefaultDeleteGrace
}

// ErrReasonRequired refuses a suspension or deletion without a reason: the association is told it.
var ErrReasonRequired = errors.New("a reason is required: the association is told it")

// decide runs fn in a transaction and wakes the reconciler in it.
func (d *Decisions) decide(ctx context.Context, what string, id int64, fn func(tx pgx.Tx) (tenants.Space, error)) (tenants.Space, error) {
	var out tenants.Space
	err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		s, err := fn(tx)
		if err != nil {
			return err
		}
		out = s
		return KickReconcile(ctx, tx, d.Client)
	})
	if err != nil {
		return tenants.Space{}, fmt.Errorf("%s space %d: %w", what, id, err)
	}
	return out, nil
}

// Resize changes a space's limits (see tenants.ResizeSpace).
func (d *Decisions) Resize(ctx context.Context, id int64, r tenants.Resize, actor tenants.Actor) (tenants.Space, error) {
	return d.decide(ctx, "resize", id, func(tx pgx.Tx) (tenants.Space, error) {
		_, after, err := tenants.ResizeSpace(ctx, tx, id, r, actor)
		return after, err
	})
}

// Suspend suspends an active space and tells the association why.
func (d *Decisions) Suspend(ctx context.Context, id int64, reason string, actor tenants.Actor) (tenants.Space, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return tenants.Space{}, ErrReasonRequired
	}
	return d.decide(ctx, "suspend", id, func(tx pgx.Tx) (tenants.Space, error) {
		s, err := tenants.SuspendSpace(ctx, tx, id, reason, actor)
		if err != nil {
			return s, err
		}
		return s, d.mail(ctx, tx, s, "space_suspended", map[string]string{"Reason": reason})
	})
}

// Resume brings a suspended space back and tells the association.
func (d *Decisions) Resume(ctx context.Context, id int64, actor tenants.Actor) (tenants.Space, error) {
	return d.decide(ctx, "resume", id, func(tx pgx.Tx) (tenants.Space, error) {
		s, err := tenants.ResumeSpace(ctx, tx, id, actor)
		if err != nil {
			return s, err
		}
		return s, d.mail(ctx, tx, s, "space_resumed", nil)
	})
}

// Delete deletes a space softly for the grace period, frees its place under the capacity
// ceiling for the next space waiting, and tells the association until when it can be restored.
func (d *Decisions) Delete(ctx context.Context, id int64, reason string, actor tenants.Actor) (tenants.Space, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return tenants.Space{}, ErrReasonRequired
	}
	return d.decide(ctx, "delete", id, func(tx pgx.Tx) (tenants.Space, error) {
		before, s, err := tenants.DeleteSpace(ctx, tx, id, reason, d.grace(), d.now(), actor)
		if err != nil {
			return s, err
		}
		if err := KickAdmission(ctx, tx, d.Client); err != nil {
			return s, err
		}
		if before.State == tenants.SpaceQueued {
			// It never existed for the association beyond its approval mail; nothing to tell.
			return s, nil
		}
		return s, d.mail(ctx, tx, s, "space_deleted", map[string]string{"Reason": reason,
			"DeleteAfter": localDate(*s.DeleteAfter, s.Locale == "fr")})
	})
}

// Restore brings a deleting space back to the state it had and tells the association.
func (d *Decisions) Restore(ctx context.Context, id int64, actor tenants.Actor) (tenants.Space, error) {
	return d.decide(ctx, "restore", id, func(tx pgx.Tx) (tenants.Space, error) {
		s, err := tenants.RestoreSpace(ctx, tx, id, d.now(), actor)
		if err != nil {
			return s, err
		}
		if s.State == tenants.SpaceQueued {
			return s, KickAdmission(ctx, tx, d.Client)
		}
		return s, d.mail(ctx, tx, s, "space_restored", nil)
	})
}

// mail enqueues template to the space's contact in tx.
func (d *Decisions) mail(ctx context.Context, tx pgx.Tx, s tenants.Space, template string, data map[string]string) error {
	all := map[string]string{"AssociationName": s.AssociationName, "Address": "https://" + s.Slug + "." + d.BaseDomain, "PublicURL": d.PublicURL}
	for k, v := range data {
		all[k] = v
	}
	_, err := d.Client.InsertTx(ctx, tx, SendMailArgs{To: s.ContactEmail, Locale: s.Locale, Template: template, Data: all}, nil)
	return err
}

// localDate writes a day as its reader expects it: "30 December 2026", "30 décembre 2026".
func localDate(t time.Time, fr bool) string {
	if !fr {
		return t.Format("2 January 2006")
	}
	months := [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
	return fmt.Sprintf("%d %s %d", t.Day(), months[t.Month()-1], t.Year())
}

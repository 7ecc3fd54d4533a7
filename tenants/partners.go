package tenants

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Partner is a partner host: another service that gives associations what this one gives, which
// applicants are offered when the intake is closed and while their space waits for room.
type Partner struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// URL is where an association goes to apply there.
	URL string `json:"url"`
	// OfferFR and OfferEN say what it offers; when one is empty the other is shown in both
	// languages.
	OfferFR string `json:"offer_fr"`
	OfferEN string `json:"offer_en"`
	// Open is false while the partner takes no one either (full): it is then not offered.
	Open bool `json:"open"`
	// Forwarding is true when the partner runs this same software and takes applications through
	// its JSON API at ForwardURL (see forward.go); the token it gave is kept sealed and never read
	// into a Partner.
	Forwarding bool      `json:"forwarding"`
	ForwardURL string    `json:"forward_url,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Offer is what the partner offers in lang (fr or en), or in the other language when only that
// one is written.
func (p Partner) Offer(lang string) string {
	first, other := p.OfferFR, p.OfferEN
	if lang == "en" {
		first, other = other, first
	}
	if first != "" {
		return first
	}
	return other
}

// Longest partner fields, in characters.
const (
	MaxPartnerName  = 120
	MaxPartnerURL   = 500
	MaxPartnerOffer = 1000
)

// ErrPartnerNameTaken is returned when another partner has the same name (in any case).
var ErrPartnerNameTaken = errors.New("a partner host with this name exists already")

const partnerColumns = `id, name, url, offer_fr, offer_en, open, created_at, updated_at, coalesce(forward_url, '')`

func scanPartner(row pgx.Row) (Partner, error) {
	var p Partner
	err := row.Scan(&p.ID, &p.Name, &p.URL, &p.OfferFR, &p.OfferEN, &p.Open, &p.CreatedAt, &p.UpdatedAt, &p.ForwardURL)
	p.Forwarding = p.ForwardURL != ""
	return p, err
}

// ListPartners lists the partner hosts by name; only the open ones when openOnly.
func ListPartners(ctx context.Context, db DB, openOnly bool) ([]Partner, error) {
	rows, err := db.Query(ctx, `SELECT `+partnerColumns+` FROM partners WHERE open OR NOT $1 ORDER BY lower(name), id`, openOnly)
	if err != nil {
		return nil, fmt.Errorf("list partner hosts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Partner, error) { return scanPartner(r) })
	if err != nil {
		return nil, fmt.Errorf("list partner hosts: %w", err)
	}
	return out, nil
}

// GetPartner reads one partner host.
func GetPartner(ctx context.Context, db DB, id int64) (Partner, error) {
	p, err := scanPartner(db.QueryRow(ctx, `SELECT `+partnerColumns+` FROM partners WHERE id = $1`, id))
	if err != nil {
		return Partner{}, fmt.Errorf("get partner host %d: %w", id, notFound(err))
	}
	return p, nil
}

// checkPartner normalises a partner's fields and checks them, returning the first field refused.
func checkPartner(p Partner) (Partner, error) {
	var err error
	if p.Name, err = checkText("name", p.Name, false, MaxPartnerName); err != nil {
		return p, err
	}
	if p.Name == "" {
		return p, &InvalidField{Field: "name", Code: "required"}
	}
	p.URL = strings.TrimSpace(p.URL)
	if p.URL == "" {
		return p, &InvalidField{Field: "url", Code: "required"}
	}
	u, perr := url.Parse(p.URL)
	if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		len(p.URL) > MaxPartnerURL || strings.ContainsAny(p.URL, " \t\r\n\"<>") {
		return p, &InvalidField{Field: "url", Code: "url"}
	}
	if p.OfferFR, err = checkText("offer_fr", p.OfferFR, true, MaxPartnerOffer); err != nil {
		return p, err
	}
	if p.OfferEN, err = checkText("offer_en", p.OfferEN, true, MaxPartnerOffer); err != nil {
		return p, err
	}
	if p.OfferFR == "" && p.OfferEN == "" {
		return p, &InvalidField{Field: "offer_fr", Code: "required"}
	}
	return p, nil
}

func partnerDetail(p Partner) map[string]any {
	return map[string]any{"name": p.Name, "url": p.URL, "open": p.Open}
}

// AddPartner records a new partner host and audits it (partner.create).
func AddPartner(ctx context.Context, db DB, p Partner, actor Actor) (Partner, error) {
	p, err := checkPartner(p)
	if err != nil {
		return Partner{}, err
	}
	var out Partner
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var err error
		out, err = scanPartner(tx.QueryRow(ctx, `INSERT INTO partners (name, url, offer_fr, offer_en, open)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+partnerColumns, p.Name, p.URL, p.OfferFR, p.OfferEN, p.Open))
		if isUniqueViolation(err, "partners_name_idx") {
			return ErrPartnerNameTaken
		}
		if err != nil {
			return err
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "partner.create", SubjectType: "partner",
			SubjectID: out.ID, ToState: openState(out.Open), Detail: partnerDetail(out)})
	})
	if err != nil {
		return Partner{}, fmt.Errorf("add partner host: %w", err)
	}
	return out, nil
}

func openState(open bool) string {
	if open {
		return "open"
	}
	return "full"
}

// PartnerChange is what changes in a partner host; nil fields stay as they are.
type PartnerChange struct {
	Name, URL, OfferFR, OfferEN *string
	Open                        *bool
}

// UpdatePartner changes a partner host and audits it (partner.update, from and to open or
// full, with the fields that changed). A change to what is already recorded records nothing.
func UpdatePartner(ctx context.Context, db DB, id int64, c PartnerChange, actor Actor) (Partner, error) {
	var out Partner
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		was, err := scanPartner(tx.QueryRow(ctx, `SELECT `+partnerColumns+` FROM partners WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return notFound(err)
		}
		p := was
		for _, f := range []struct {
			dst *string
			v   *string
		}{{&p.Name, c.Name}, {&p.URL, c.URL}, {&p.OfferFR, c.OfferFR}, {&p.OfferEN, c.OfferEN}} {
			if f.v != nil {
				*f.dst = *f.v
			}
		}
		if c.Open != nil {
			p.Open = *c.Open
		}
		if p, err = checkPartner(p); err != nil {
			return err
		}
		if p == was {
			out = was
			return nil
		}
		out, err = scanPartner(tx.QueryRow(ctx, `UPDATE partners SET name = $2, url = $3, offer_fr = $4, offer_en = $5,
			open = $6, updated_at = now() WHERE id = $1 RETURNING `+partnerColumns, id, p.Name, p.URL, p.OfferFR, p.OfferEN, p.Open))
		if isUniqueViolation(err, "partners_name_idx") {
			return ErrPartnerNameTaken
		}
		if err != nil {
			return err
		}
		detail := partnerDetail(out)
		var changed []string
		for _, f := range []struct {
			name string
			diff bool
		}{{"name", was.Name != out.Name}, {"url", was.URL != out.URL}, {"offer_fr", was.OfferFR != out.OfferFR},
			{"offer_en", was.OfferEN != out.OfferEN}, {"open", was.Open != out.Open}} {
			if f.diff {
				changed = append(changed, f.name)
			}
		}
		detail["changed"] = strings.Join(changed, ", ")
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "partner.update", SubjectType: "partner", SubjectID: id,
			FromState: openState(was.Open), ToState: openState(out.Open), Detail: detail})
	})
	if err != nil {
		return Partner{}, fmt.Errorf("update partner host %d: %w", id, err)
	}
	return out, nil
}

// RemovePartner deletes a partner host and audits it (partner.remove, with its name and address).
func RemovePartner(ctx context.Context, db DB, id int64, actor Actor) (Partner, error) {
	var out Partner
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var err error
		out, err = scanPartner(tx.QueryRow(ctx, `DELETE FROM partners WHERE id = $1 RETURNING `+partnerColumns, id))
		if err != nil {
			return notFound(err)
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "partner.remove", SubjectType: "partner", SubjectID: id,
			FromState: openState(out.Open), Detail: partnerDetail(out)})
	})
	if err != nil {
		return Partner{}, fmt.Errorf("remove partner host %d: %w", id, err)
	}
	return out, nil
}

package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/tenants/secretbox"
)

// Forwarding: a partner host running this same software takes applications through its JSON API
// (POST /api/v1/applications with a token of scope forward it gave us). While the intake here is
// closed, an applicant may ask, with their consent, that their application be sent there: a
// forward is recorded with what they typed (the payload) and a River job sends it. Once the
// partner took it, refused it, or it could not be sent, the payload (personal data) is cleared;
// the row keeps the partner, the association's name, the state and the times.

// ForwardState is where a forward is.
type ForwardState string

// The states of a forward.
const (
	ForwardQueued    ForwardState = "queued"    // waiting to be sent, or being retried
	ForwardDelivered ForwardState = "delivered" // the partner took it (and mailed the applicant)
	ForwardRefused   ForwardState = "refused"   // the partner answered that it cannot take it
	ForwardFailed    ForwardState = "failed"    // it could not be sent, after every attempt
)

// ForwardStates lists the states, in their order.
var ForwardStates = []ForwardState{ForwardQueued, ForwardDelivered, ForwardRefused, ForwardFailed}

// Valid tells whether s is one of the states.
func (s ForwardState) Valid() bool {
	for _, v := range ForwardStates {
		if s == v {
			return true
		}
	}
	return false
}

// ForwardPayload is the application as the partner's API takes it (POST /api/v1/applications):
// the form's fields, already checked here, the applicant's language, and SubmissionKey, a random
// key of this forward that makes a second delivery land on the first application there.
type ForwardPayload struct {
	AssociationName  string `json:"association_name"`
	LegalID          string `json:"legal_id"`
	Slug             string `json:"slug"`
	ContactName      string `json:"contact_name"`
	ContactEmail     string `json:"contact_email"`
	Purpose          string `json:"purpose"`
	Activities       string `json:"activities"`
	ExpectedAccounts int    `json:"expected_accounts"`
	Locale           string `json:"locale"`
	SubmissionKey    string `json:"submission_key"`
}

// Forward is one application sent, or being sent, to a partner host.
type Forward struct {
	ID int64 `json:"id"`
	// PartnerID is nil once the partner was removed; PartnerName stays.
	PartnerID       *int64       `json:"partner_id"`
	PartnerName     string       `json:"partner_name"`
	AssociationName string       `json:"association_name"`
	State           ForwardState `json:"state"`
	// Answer is the partner's answer to a refusal, or why sending failed; empty otherwise.
	Answer     string     `json:"answer"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at"`
	// Payload is what is sent, while the forward is queued; nil afterwards, and never in lists.
	Payload *ForwardPayload `json:"-"`
}

// Longest partner answer kept, in characters.
const maxForwardAnswer = 2000

const forwardColumns = `id, partner_id, partner_name, association_name, state, answer, created_at, finished_at`

func scanForward(row pgx.Row) (Forward, error) {
	var f Forward
	var state string
	err := row.Scan(&f.ID, &f.PartnerID, &f.PartnerName, &f.AssociationName, &state, &f.Answer, &f.CreatedAt, &f.FinishedAt)
	f.State = ForwardState(state)
	return f, err
}

// Errors of forwarding.
var (
	// ErrNoForwarding is returned for a partner that is full or takes no forwarded application.
	ErrNoForwarding = errors.New("this partner host takes no forwarded application now")
	// ErrForwardFinished is returned by FinishForward for a forward that is not queued any more.
	ErrForwardFinished = errors.New("this forward is finished already")
)

// forwardTokenContext binds a sealed forward token to its partner: a token sealed for one partner
// does not open as another's.
func forwardTokenContext(partnerID int64) string {
	return "partner-forward-token/" + strconv.FormatInt(partnerID, 10)
}

// MaxForwardToken is the longest forward token taken, in bytes.
const MaxForwardToken = 500

// ForwardingChange is a change to a partner's forwarding; nil fields stay as they are. URL ""
// turns forwarding off (the token is forgotten); a URL needs a token, given now or kept.
type ForwardingChange struct {
	URL   *string
	Token *string
}

// CheckForwarding checks a forwarding change's values on their own (the address's form, the
// token's characters), returning the first field refused (forward_url, forward_token) as an
// *InvalidField; it says nothing of what the partner has already.
func CheckForwarding(c ForwardingChange) (ForwardingChange, error) {
	if c.URL != nil {
		u := strings.TrimSpace(*c.URL)
		c.URL = &u
		if u != "" {
			pu, err := url.Parse(u)
			if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || pu.User != nil ||
				pu.RawQuery != "" || pu.Fragment != "" || len(u) > MaxPartnerURL || strings.ContainsAny(u, " \t\r\n\"<>") {
				return c, &InvalidField{Field: "forward_url", Code: "url"}
			}
		}
	}
	if c.Token != nil {
		t := strings.TrimSpace(*c.Token)
		c.Token = &t
		switch {
		case t == "":
			return c, &InvalidField{Field: "forward_token", Code: "required"}
		case len(t) > MaxForwardToken:
			return c, &InvalidField{Field: "forward_token", Code: "too_long", Max: MaxForwardToken}
		}
		for _, r := range t {
			if r > unicode.MaxASCII || !unicode.IsGraphic(r) || unicode.IsSpace(r) {
				return c, &InvalidField{Field: "forward_token", Code: RuleTextInvalid}
			}
		}
	}
	return c, nil
}

// SetPartnerForwarding changes how applications are forwarded to a partner: its API address and
// the token it gave, sealed with box before it is stored. Audited as partner.forwarding (on or
// off, the address; never the token). A change to what is already set records nothing.
func SetPartnerForwarding(ctx context.Context, db DB, box *secretbox.Box, id int64, c ForwardingChange, actor Actor) (Partner, error) {
	c, err := CheckForwarding(c)
	if err != nil {
		return Partner{}, err
	}
	var out Partner
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		was, err := scanPartner(tx.QueryRow(ctx, `SELECT `+partnerColumns+` FROM partners WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return notFound(err)
		}
		out = was
		address := was.ForwardURL
		if c.URL != nil {
			address = *c.URL
		}
		if address == "" {
			if c.Token != nil {
				return &InvalidField{Field: "forward_url", Code: "required"}
			}
			if !was.Forwarding {
				return nil
			}
			out, err = scanPartner(tx.QueryRow(ctx, `UPDATE partners SET forward_url = NULL, forward_token_sealed = NULL,
				updated_at = now() WHERE id = $1 RETURNING `+partnerColumns, id))
			if err != nil {
				return err
			}
			return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "partner.forwarding", SubjectType: "partner", SubjectID: id,
				FromState: "forwarding", ToState: "not_forwarding", Detail: map[string]any{"name": out.Name}})
		}
		if c.Token == nil {
			if !was.Forwarding {
				return &InvalidField{Field: "forward_token", Code: "required"}
			}
			if address == was.ForwardURL {
				return nil
			}
			out, err = scanPartner(tx.QueryRow(ctx, `UPDATE partners SET forward_url = $2, updated_at = now()
				WHERE id = $1 RETURNING `+partnerColumns, id, address))
		} else {
			sealed := box.Seal([]byte(*c.Token), forwardTokenContext(id))
			out, err = scanPartner(tx.QueryRow(ctx, `UPDATE partners SET forward_url = $2, forward_token_sealed = $3,
				updated_at = now() WHERE id = $1 RETURNING `+partnerColumns, id, address, sealed))
		}
		if err != nil {
			return err
		}
		from := "not_forwarding"
		if was.Forwarding {
			from = "forwarding"
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "partner.forwarding", SubjectType: "partner", SubjectID: id,
			FromState: from, ToState: "forwarding", Detail: map[string]any{"name": out.Name, "forward_url": out.ForwardURL,
				"token_changed": c.Token != nil}})
	})
	if err != nil {
		return Partner{}, fmt.Errorf("set forwarding of partner host %d: %w", id, err)
	}
	return out, nil
}

// ForwardTarget is where and how a forward is sent: the partner as recorded now, and the token
// opened from its seal.
type ForwardTarget struct {
	Partner Partner
	Token   string
}

// GetForwardTarget reads the partner a forward goes to, with its token opened. ErrNoForwarding
// when the partner was removed or takes no forwarded application any more.
func GetForwardTarget(ctx context.Context, db DB, box *secretbox.Box, partnerID int64) (ForwardTarget, error) {
	var sealed *string
	row := db.QueryRow(ctx, `SELECT `+partnerColumns+`, forward_token_sealed FROM partners WHERE id = $1`, partnerID)
	var p Partner
	err := row.Scan(&p.ID, &p.Name, &p.URL, &p.OfferFR, &p.OfferEN, &p.Open, &p.CreatedAt, &p.UpdatedAt, &p.ForwardURL, &sealed)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && sealed == nil) {
		return ForwardTarget{}, ErrNoForwarding
	}
	if err != nil {
		return ForwardTarget{}, fmt.Errorf("read partner host %d: %w", partnerID, err)
	}
	p.Forwarding = true
	token, err := box.Open(*sealed, forwardTokenContext(partnerID))
	if err != nil {
		return ForwardTarget{}, fmt.Errorf("open the forward token of partner host %d: %w", partnerID, err)
	}
	return ForwardTarget{Partner: p, Token: string(token)}, nil
}

// NewForward is what QueueForward records: the partner, the application as checked by the form,
// and the form's one-time key (a second POST of the same form finds the first forward).
type NewForward struct {
	PartnerID     int64
	Payload       ForwardPayload
	FormKey       string
	ConsentedText string // the consent sentence the applicant ticked, kept in the audit entry
}

// QueueForward records a forward to a partner that is open and takes forwarded applications, and
// its audit entry (forward.create, by the applicant), then calls then in the same transaction
// (to insert the job that sends it). The same form sent twice returns the first forward and
// ErrAlreadySubmitted, calling nothing.
func QueueForward(ctx context.Context, db DB, n NewForward, then func(ctx context.Context, tx pgx.Tx, f Forward) error) (Forward, error) {
	if n.Payload.Locale != "en" {
		n.Payload.Locale = "fr"
	}
	n.Payload.SubmissionKey = NewSecret("fwd_")
	payload, err := json.Marshal(n.Payload)
	if err != nil {
		return Forward{}, fmt.Errorf("queue forward: %w", err)
	}
	var out Forward
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var name string
		var open, forwarding bool
		err := tx.QueryRow(ctx, `SELECT name, open, forward_url IS NOT NULL FROM partners WHERE id = $1 FOR SHARE`, n.PartnerID).
			Scan(&name, &open, &forwarding)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && (!open || !forwarding)) {
			return ErrNoForwarding
		}
		if err != nil {
			return err
		}
		out, err = scanForward(tx.QueryRow(ctx, `INSERT INTO forwards (partner_id, partner_name, association_name, payload, submission_hash)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (submission_hash) DO NOTHING RETURNING `+forwardColumns,
			n.PartnerID, name, n.Payload.AssociationName, payload, HashSecret(n.FormKey)))
		if errors.Is(err, pgx.ErrNoRows) {
			out, err = scanForward(tx.QueryRow(ctx, `SELECT `+forwardColumns+` FROM forwards WHERE submission_hash = $1`, HashSecret(n.FormKey)))
			if err != nil {
				return err
			}
			return ErrAlreadySubmitted
		}
		if err != nil {
			return err
		}
		if err := RecordAudit(ctx, tx, AuditEntry{Actor: ActorApplicant, Action: "forward.create", SubjectType: "forward",
			SubjectID: out.ID, ToState: string(ForwardQueued), Detail: map[string]any{"partner_id": n.PartnerID,
				"partner_name": name, "consent": n.ConsentedText}}); err != nil {
			return err
		}
		if then != nil {
			return then(ctx, tx, out)
		}
		return nil
	})
	if errors.Is(err, ErrAlreadySubmitted) {
		return out, err
	}
	if err != nil {
		return Forward{}, fmt.Errorf("queue forward: %w", err)
	}
	return out, nil
}

// GetForward reads one forward, with its payload while it is queued.
func GetForward(ctx context.Context, db DB, id int64) (Forward, error) {
	var payload []byte
	row := db.QueryRow(ctx, `SELECT `+forwardColumns+`, payload FROM forwards WHERE id = $1`, id)
	var f Forward
	var state string
	err := row.Scan(&f.ID, &f.PartnerID, &f.PartnerName, &f.AssociationName, &state, &f.Answer, &f.CreatedAt, &f.FinishedAt, &payload)
	if err != nil {
		return Forward{}, fmt.Errorf("get forward %d: %w", id, notFound(err))
	}
	f.State = ForwardState(state)
	if payload != nil {
		f.Payload = &ForwardPayload{}
		if err := json.Unmarshal(payload, f.Payload); err != nil {
			return Forward{}, fmt.Errorf("get forward %d: read its payload: %w", id, err)
		}
	}
	return f, nil
}

// FinishForward records how a queued forward ended (delivered, refused or failed) with the
// partner's answer, clears its payload, audits it (forward.delivered, forward.refused,
// forward.failed, by the system), and calls then in the same transaction with the forward as it
// was, payload included (to mail the applicant). ErrForwardFinished when it is not queued.
func FinishForward(ctx context.Context, db DB, id int64, state ForwardState, answer string,
	then func(ctx context.Context, tx pgx.Tx, f Forward) error) (Forward, error) {
	if state == ForwardQueued || !state.Valid() {
		return Forward{}, fmt.Errorf("finish forward %d: %q is not an end state", id, state)
	}
	if r := []rune(strings.ToValidUTF8(answer, "?")); len(r) > maxForwardAnswer {
		answer = string(r[:maxForwardAnswer])
	} else {
		answer = string(r)
	}
	var out Forward
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var was Forward
		var payload []byte
		var st string
		err := tx.QueryRow(ctx, `SELECT `+forwardColumns+`, payload FROM forwards WHERE id = $1 FOR UPDATE`, id).
			Scan(&was.ID, &was.PartnerID, &was.PartnerName, &was.AssociationName, &st, &was.Answer, &was.CreatedAt, &was.FinishedAt, &payload)
		if err != nil {
			return notFound(err)
		}
		if ForwardState(st) != ForwardQueued {
			return ErrForwardFinished
		}
		was.State = ForwardQueued
		was.Payload = &ForwardPayload{}
		if err := json.Unmarshal(payload, was.Payload); err != nil {
			return fmt.Errorf("read its payload: %w", err)
		}
		out, err = scanForward(tx.QueryRow(ctx, `UPDATE forwards SET state = $2, answer = $3, payload = NULL, finished_at = now()
			WHERE id = $1 RETURNING `+forwardColumns, id, string(state), answer))
		if err != nil {
			return err
		}
		detail := map[string]any{"partner_name": out.PartnerName}
		if answer != "" {
			detail["answer"] = answer
		}
		if err := RecordAudit(ctx, tx, AuditEntry{Actor: ActorSystem, Action: "forward." + string(state), SubjectType: "forward",
			SubjectID: id, FromState: string(ForwardQueued), ToState: string(state), Detail: detail}); err != nil {
			return err
		}
		if then != nil {
			return then(ctx, tx, was)
		}
		return nil
	})
	if err != nil {
		return Forward{}, fmt.Errorf("finish forward %d: %w", id, err)
	}
	return out, nil
}

// ForwardFilter narrows ListForwards; zero values do not filter. Limit is 50 when 0.
type ForwardFilter struct {
	PartnerID int64
	State     ForwardState
	Limit     int
}

// ListForwards lists forwards, the most recent first, without their payloads.
func ListForwards(ctx context.Context, db DB, f ForwardFilter) ([]Forward, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, err := db.Query(ctx, `SELECT `+forwardColumns+` FROM forwards
		WHERE ($1 = 0 OR partner_id = $1) AND ($2 = '' OR state = $2)
		ORDER BY created_at DESC, id DESC LIMIT $3`, f.PartnerID, string(f.State), f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list forwards: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Forward, error) { return scanForward(r) })
	if err != nil {
		return nil, fmt.Errorf("list forwards: %w", err)
	}
	if out == nil {
		out = []Forward{}
	}
	return out, nil
}

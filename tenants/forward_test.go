package tenants_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
	"github.com/assospaces/spaces/tenants/secretbox"
)

func TestPartnerForwardingIsSealedAndAudited(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	box, _ := secretbox.New(make([]byte, secretbox.KeySize))
	p, err := tenants.AddPartner(ctx, pool, tenants.Partner{Name: "Chatons", URL: "https://c.example", OfferFR: "x", Open: true}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	for name, tc := range map[string]struct {
		c     tenants.ForwardingChange
		field string
	}{
		"url without a token": {tenants.ForwardingChange{URL: str("https://api.c.example")}, "forward_token"},
		"token without a url": {tenants.ForwardingChange{Token: str("spt_x")}, "forward_url"},
		"ftp url":             {tenants.ForwardingChange{URL: str("ftp://c.example"), Token: str("spt_x")}, "forward_url"},
		"url with a query":    {tenants.ForwardingChange{URL: str("https://c.example/?a=b"), Token: str("spt_x")}, "forward_url"},
		"token with a space":  {tenants.ForwardingChange{URL: str("https://c.example"), Token: str("spt x")}, "forward_token"},
		"empty token":         {tenants.ForwardingChange{URL: str("https://c.example"), Token: str(" ")}, "forward_token"},
	} {
		_, err := tenants.SetPartnerForwarding(ctx, pool, box, p.ID, tc.c, tenants.ActorSystem)
		var inv *tenants.InvalidField
		if !errors.As(err, &inv) || inv.Field != tc.field {
			t.Errorf("%s: %v, want a refusal of %s", name, err, tc.field)
		}
	}

	const secret = "spt_thepartnerssecret"
	got, err := tenants.SetPartnerForwarding(ctx, pool, box, p.ID, tenants.ForwardingChange{URL: str(" https://api.c.example "), Token: str(secret)}, tenants.ActorSystem)
	if err != nil || !got.Forwarding || got.ForwardURL != "https://api.c.example" {
		t.Fatalf("set forwarding: %+v %v", got, err)
	}
	var sealed string
	if err := pool.QueryRow(ctx, `SELECT forward_token_sealed FROM partners WHERE id = $1`, p.ID).Scan(&sealed); err != nil || strings.Contains(sealed, secret) {
		t.Fatalf("the token is stored in clear: %q %v", sealed, err)
	}
	target, err := tenants.GetForwardTarget(ctx, pool, box, p.ID)
	if err != nil || target.Token != secret || target.Partner.ForwardURL != "https://api.c.example" {
		t.Fatalf("forward target: %+v %v", target, err)
	}
	// A box with another key does not open it.
	other, _ := secretbox.New([]byte(strings.Repeat("k", secretbox.KeySize)))
	if _, err := tenants.GetForwardTarget(ctx, pool, other, p.ID); err == nil {
		t.Error("another key opened the token")
	}
	// The address alone changes; the token stays.
	if got, err = tenants.SetPartnerForwarding(ctx, pool, box, p.ID, tenants.ForwardingChange{URL: str("https://api2.c.example")}, tenants.ActorSystem); err != nil || got.ForwardURL != "https://api2.c.example" {
		t.Fatalf("change the address: %+v %v", got, err)
	}
	if target, err = tenants.GetForwardTarget(ctx, pool, box, p.ID); err != nil || target.Token != secret {
		t.Fatalf("the token after the address changed: %v", err)
	}
	// The same again records nothing; off forgets the token.
	if _, err := tenants.SetPartnerForwarding(ctx, pool, box, p.ID, tenants.ForwardingChange{URL: str("https://api2.c.example")}, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	if got, err = tenants.SetPartnerForwarding(ctx, pool, box, p.ID, tenants.ForwardingChange{URL: str("")}, tenants.ActorSystem); err != nil || got.Forwarding {
		t.Fatalf("turn off: %+v %v", got, err)
	}
	if _, err := tenants.GetForwardTarget(ctx, pool, box, p.ID); !errors.Is(err, tenants.ErrNoForwarding) {
		t.Errorf("target after off: %v", err)
	}
	trail, err := tenants.AuditTrail(ctx, pool, "partner", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var moves []string
	for _, e := range trail {
		if e.Action == "partner.forwarding" {
			moves = append(moves, e.FromState+">"+e.ToState)
		}
	}
	if strings.Join(moves, " ") != "not_forwarding>forwarding forwarding>forwarding forwarding>not_forwarding" {
		t.Errorf("forwarding audit: %v", moves)
	}
	var audit string
	if err := pool.QueryRow(ctx, `SELECT string_agg(detail::text, ' ') FROM audit_log`).Scan(&audit); err != nil || strings.Contains(audit, secret) {
		t.Errorf("the audit log holds the token (%v)", err)
	}
}

func TestForwardQueueFinishAndList(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	box, _ := secretbox.New(make([]byte, secretbox.KeySize))
	open, err := tenants.AddPartner(ctx, pool, tenants.Partner{Name: "Chatons", URL: "https://c.example", OfferFR: "x", Open: true}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := tenants.AddPartner(ctx, pool, tenants.Partner{Name: "Sans API", URL: "https://s.example", OfferFR: "x", Open: true}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	addr, token := "https://api.c.example", "spt_x"
	if _, err := tenants.SetPartnerForwarding(ctx, pool, box, open.ID, tenants.ForwardingChange{URL: &addr, Token: &token}, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	payload := tenants.ForwardPayload{AssociationName: "Les Amis", LegalID: "W751234567", Slug: "amis", ContactName: "Sacha",
		ContactEmail: "sacha@amis.example", Purpose: "p", Activities: "a", ExpectedAccounts: 3, Locale: "en"}
	called := 0
	then := func(ctx context.Context, tx pgx.Tx, f tenants.Forward) error { called++; return nil }

	if _, err := tenants.QueueForward(ctx, pool, tenants.NewForward{PartnerID: plain.ID, Payload: payload, FormKey: "sub_1"}, then); !errors.Is(err, tenants.ErrNoForwarding) {
		t.Errorf("a partner without forwarding: %v", err)
	}
	f, err := tenants.QueueForward(ctx, pool, tenants.NewForward{PartnerID: open.ID, Payload: payload, FormKey: "sub_2", ConsentedText: "I agree"}, then)
	if err != nil || f.State != tenants.ForwardQueued || called != 1 {
		t.Fatalf("queue: %+v %v (then called %d)", f, err, called)
	}
	again, err := tenants.QueueForward(ctx, pool, tenants.NewForward{PartnerID: open.ID, Payload: payload, FormKey: "sub_2"}, then)
	if !errors.Is(err, tenants.ErrAlreadySubmitted) || again.ID != f.ID || called != 1 {
		t.Errorf("the same form again: %+v %v (then called %d)", again, err, called)
	}
	got, err := tenants.GetForward(ctx, pool, f.ID)
	if err != nil || got.Payload == nil || got.Payload.ContactEmail != "sacha@amis.example" || !strings.HasPrefix(got.Payload.SubmissionKey, "fwd_") {
		t.Fatalf("get: %+v %v", got, err)
	}

	var seen tenants.Forward
	done, err := tenants.FinishForward(ctx, pool, f.ID, tenants.ForwardRefused, "422 invalid_value (slug): taken",
		func(ctx context.Context, tx pgx.Tx, was tenants.Forward) error { seen = was; return nil })
	if err != nil || done.State != tenants.ForwardRefused || done.Answer != "422 invalid_value (slug): taken" || done.FinishedAt == nil {
		t.Fatalf("finish: %+v %v", done, err)
	}
	if seen.Payload == nil || seen.Payload.ContactEmail != "sacha@amis.example" {
		t.Errorf("then did not get the payload to mail: %+v", seen)
	}
	if got, _ = tenants.GetForward(ctx, pool, f.ID); got.Payload != nil {
		t.Errorf("the payload is kept: %+v", got.Payload)
	}
	if _, err := tenants.FinishForward(ctx, pool, f.ID, tenants.ForwardDelivered, "", nil); !errors.Is(err, tenants.ErrForwardFinished) {
		t.Errorf("finish twice: %v", err)
	}
	if _, err := tenants.FinishForward(ctx, pool, f.ID, tenants.ForwardQueued, "", nil); err == nil {
		t.Error("finished as queued")
	}

	// Removing the partner keeps the forward, with its name.
	if _, err := tenants.RemovePartner(ctx, pool, open.ID, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter tenants.ForwardFilter
		n      int
	}{{tenants.ForwardFilter{}, 1}, {tenants.ForwardFilter{State: tenants.ForwardRefused}, 1},
		{tenants.ForwardFilter{State: tenants.ForwardDelivered}, 0}, {tenants.ForwardFilter{PartnerID: plain.ID}, 0}} {
		fs, err := tenants.ListForwards(ctx, pool, tc.filter)
		if err != nil || len(fs) != tc.n {
			t.Errorf("list %+v: %d %v, want %d", tc.filter, len(fs), err, tc.n)
		}
		if len(fs) == 1 && (fs[0].PartnerName != "Chatons" || fs[0].PartnerID != nil || fs[0].Payload != nil) {
			t.Errorf("list %+v: %+v", tc.filter, fs[0])
		}
	}
	trail, _ := tenants.AuditTrail(ctx, pool, "forward", f.ID)
	if len(trail) != 2 || trail[0].Action != "forward.create" || trail[0].Detail["consent"] != "I agree" || trail[1].Action != "forward.refused" {
		t.Errorf("trail: %+v", trail)
	}
}

func TestForwardTokenScope(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	tok, secret, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "Espaces du Nord", Scope: tenants.ScopeForward}, tenants.ActorSystem)
	if err != nil || tok.Scope != tenants.ScopeForward || tok.CanOperate() {
		t.Fatalf("forward token: %+v %v", tok, err)
	}
	if got, err := tenants.AuthenticateAPIToken(ctx, pool, secret); err != nil || got.Scope != tenants.ScopeForward {
		t.Errorf("authenticate: %+v %v", got, err)
	}
	if _, _, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "x", Scope: "admin"}, tenants.ActorSystem); err == nil {
		t.Error("scope admin accepted")
	}
}

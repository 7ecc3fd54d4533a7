package tenants_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// intakeTrail lists the actions audited about the intake, oldest first.
func intakeTrail(t *testing.T, db tenants.DB) []tenants.AuditEntry {
	t.Helper()
	trail, err := tenants.AuditTrail(context.Background(), db, "intake", 1)
	if err != nil {
		t.Fatal(err)
	}
	return trail
}

func TestIntakePauseResumeAndMessages(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	tok, _, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	actor := tenants.TokenActor(tok.ID)

	st, err := tenants.GetIntake(ctx, pool)
	if err != nil || st.Closed || st.Paused || st.WaitingListThreshold != 0 || st.UpdatedBy != "" || !st.UpdatedAt.IsZero() {
		t.Fatalf("a new service's intake: %+v, %v; want open, never changed", st, err)
	}

	// One message, in French: shown in both languages.
	st, err = tenants.PauseIntake(ctx, pool, "  Nous rouvrons lundi.\r\nMerci !  ", "", actor)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Closed || st.ClosedBy != tenants.IntakePaused || st.MessageFR != "Nous rouvrons lundi.\nMerci !" ||
		st.Message("en") != st.MessageFR || st.UpdatedBy != actor || st.UpdatedByName != "ops" || st.UpdatedAt.IsZero() {
		t.Fatalf("paused: %+v", st)
	}
	// Pausing again with the same message changes nothing and records nothing.
	if _, err := tenants.PauseIntake(ctx, pool, "Nous rouvrons lundi.\nMerci !", "", actor); err != nil {
		t.Fatal(err)
	}
	// A message in each language: each page its own.
	st, err = tenants.PauseIntake(ctx, pool, "Fermé jusqu'à lundi.", "Closed until Monday.", actor)
	if err != nil || st.Message("fr") != "Fermé jusqu'à lundi." || st.Message("en") != "Closed until Monday." {
		t.Fatalf("two messages: %+v %v", st, err)
	}
	st, err = tenants.ResumeIntake(ctx, pool, actor)
	if err != nil || st.Closed || st.Paused {
		t.Fatalf("resumed: %+v %v", st, err)
	}
	// Resuming an open intake records nothing.
	if _, err := tenants.ResumeIntake(ctx, pool, actor); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range intakeTrail(t, pool) {
		got = append(got, fmt.Sprintf("%s %s→%s %s", e.Action, e.FromState, e.ToState, e.Actor))
	}
	want := []string{
		"intake.pause open→paused " + string(actor),
		"intake.message paused→paused " + string(actor),
		"intake.resume paused→open " + string(actor),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit trail\n%q\nwant\n%q", got, want)
	}
	if d := intakeTrail(t, pool)[0].Detail; d["message_fr"] != "Nous rouvrons lundi.\nMerci !" || d["message_en"] != "" {
		t.Errorf("the pause's entry keeps the message it showed: %v", d)
	}

	// Refused: a message too long, with a control or an invisible character; nothing at all.
	long := make([]rune, tenants.MaxIntakeMessage+1)
	for i := range long {
		long[i] = 'a'
	}
	for name, tc := range map[string]struct {
		fr, en      string
		field, code string
	}{
		"too long":  {string(long), "", "message_fr", "too_long"},
		"control":   {"ok", "bell\a", "message_en", tenants.RuleTextInvalid},
		"invisible": {"a\u202eb", "", "message_fr", tenants.RuleTextInvisible},
	} {
		_, err := tenants.PauseIntake(ctx, pool, tc.fr, tc.en, actor)
		var inv *tenants.InvalidField
		if !errors.As(err, &inv) || inv.Field != tc.field || inv.Code != tc.code {
			t.Errorf("%s: %v, want %s refused with %s", name, err, tc.field, tc.code)
		}
	}
	if _, err := tenants.UpdateIntake(ctx, pool, tenants.IntakeChange{}, actor); !errors.Is(err, tenants.ErrNothingToChange) {
		t.Errorf("an empty change: %v", err)
	}
	if st, _ := tenants.GetIntake(ctx, pool); st.Closed {
		t.Errorf("a refused pause closed the intake: %+v", st)
	}
}

// TestIntakeClosesWhileTheWaitingListIsLong: the form closes by itself while the waiting list
// holds the threshold's number of spaces or more, and opens again when it goes back under.
func TestIntakeClosesWhileTheWaitingListIsLong(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	actor := tenants.ModeratorActor(1)
	var ids []int64
	for i := range 3 {
		s, err := tenants.CreateSpace(ctx, pool, tenants.NewSpace{Slug: fmt.Sprintf("wait%d", i), AssociationName: "A",
			ContactEmail: "a@example.org", Limits: quota.DefaultLimits}, actor)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	if st, _ := tenants.GetIntake(ctx, pool); st.Closed || st.WaitingList != 3 {
		t.Fatalf("no threshold: %+v; want open with 3 spaces waiting", st)
	}
	st, err := tenants.SetWaitingListThreshold(ctx, pool, 3, actor)
	if err != nil || !st.Closed || st.ClosedBy != tenants.IntakeWaitingList || st.Paused {
		t.Fatalf("threshold 3 with 3 waiting: %+v %v; want closed by the waiting list", st, err)
	}
	// One space starts: the list goes under the threshold and the form opens again.
	if _, adm, err := tenants.AdmitSpace(ctx, pool, ids[0], 0, tenants.ActorReconciler); err != nil || !adm.Admitted {
		t.Fatal(adm, err)
	}
	if st, _ := tenants.GetIntake(ctx, pool); st.Closed || st.WaitingList != 2 {
		t.Errorf("2 waiting under a threshold of 3: %+v; want open", st)
	}
	// A pause wins over the waiting list, and says so.
	if _, err := tenants.SetWaitingListThreshold(ctx, pool, 1, actor); err != nil {
		t.Fatal(err)
	}
	if st, _ := tenants.PauseIntake(ctx, pool, "", "", actor); st.ClosedBy != tenants.IntakePaused {
		t.Errorf("paused with a long waiting list: closed by %q", st.ClosedBy)
	}
	// 0 turns it off.
	tenants.ResumeIntake(ctx, pool, actor) //nolint:errcheck
	if st, _ := tenants.SetWaitingListThreshold(ctx, pool, 0, actor); st.Closed {
		t.Errorf("threshold 0: %+v; want open", st)
	}
	for _, n := range []int{-1, tenants.MaxWaitingListThreshold + 1} {
		var inv *tenants.InvalidField
		if _, err := tenants.SetWaitingListThreshold(ctx, pool, n, actor); !errors.As(err, &inv) || inv.Field != "waiting_list_threshold" {
			t.Errorf("threshold %d: %v", n, err)
		}
	}
	var thresholds []string
	for _, e := range intakeTrail(t, pool) {
		if e.Action == "intake.threshold" {
			thresholds = append(thresholds, fmt.Sprint(e.Detail["from"], "→", e.Detail["to"]))
		}
	}
	if fmt.Sprint(thresholds) != "[0→3 3→1 1→0]" {
		t.Errorf("threshold entries %v", thresholds)
	}
}

func TestPartners(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	actor := tenants.ModeratorActor(7)
	a, err := tenants.AddPartner(ctx, pool, tenants.Partner{Name: " Chatons du Sud ", URL: "https://chatons-sud.example/asso",
		OfferFR: "Nextcloud pour associations, 10 Go.", Open: true}, actor)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Chatons du Sud" || a.Offer("en") != "Nextcloud pour associations, 10 Go." {
		t.Errorf("added: %+v", a)
	}
	b, err := tenants.AddPartner(ctx, pool, tenants.Partner{Name: "Alpha Cloud", URL: "http://alpha.example",
		OfferFR: "Stockage partagé", OfferEN: "Shared storage", Open: false}, actor)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.AddPartner(ctx, pool, tenants.Partner{Name: "chatons DU sud", URL: "https://x.example", OfferFR: "x"}, actor); !errors.Is(err, tenants.ErrPartnerNameTaken) {
		t.Errorf("same name in another case: %v", err)
	}
	for name, tc := range map[string]struct {
		p           tenants.Partner
		field, code string
	}{
		"no name":      {tenants.Partner{URL: "https://x.example", OfferFR: "x"}, "name", "required"},
		"no url":       {tenants.Partner{Name: "X", OfferFR: "x"}, "url", "required"},
		"not a url":    {tenants.Partner{Name: "X", URL: "x.example", OfferFR: "x"}, "url", "url"},
		"javascript":   {tenants.Partner{Name: "X", URL: "javascript:alert(1)", OfferFR: "x"}, "url", "url"},
		"no offer":     {tenants.Partner{Name: "X", URL: "https://x.example"}, "offer_fr", "required"},
		"name on two":  {tenants.Partner{Name: "X\nY", URL: "https://x.example", OfferFR: "x"}, "name", tenants.RuleTextInvalid},
		"offer hidden": {tenants.Partner{Name: "X", URL: "https://x.example", OfferEN: "a\u200bb"}, "offer_en", tenants.RuleTextInvisible},
	} {
		var inv *tenants.InvalidField
		if _, err := tenants.AddPartner(ctx, pool, tc.p, actor); !errors.As(err, &inv) || inv.Field != tc.field || inv.Code != tc.code {
			t.Errorf("%s: %v, want %s refused with %s", name, err, tc.field, tc.code)
		}
	}
	all, err := tenants.ListPartners(ctx, pool, false)
	if err != nil || len(all) != 2 || all[0].ID != b.ID || all[1].ID != a.ID {
		t.Fatalf("all partners by name: %+v %v", all, err)
	}
	if open, _ := tenants.ListPartners(ctx, pool, true); len(open) != 1 || open[0].ID != a.ID {
		t.Errorf("open partners: %+v", open)
	}
	full := false
	en := "Nextcloud for associations, 10 GB."
	up, err := tenants.UpdatePartner(ctx, pool, a.ID, tenants.PartnerChange{Open: &full, OfferEN: &en}, actor)
	if err != nil || up.Open || up.Offer("en") != en || up.Name != "Chatons du Sud" {
		t.Fatalf("updated: %+v %v", up, err)
	}
	if open, _ := tenants.ListPartners(ctx, pool, true); len(open) != 0 {
		t.Errorf("a full partner is offered: %+v", open)
	}
	// The same values again record nothing.
	if _, err := tenants.UpdatePartner(ctx, pool, a.ID, tenants.PartnerChange{Open: &full}, actor); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.UpdatePartner(ctx, pool, 9999, tenants.PartnerChange{Open: &full}, actor); !errors.Is(err, tenants.ErrNotFound) {
		t.Errorf("update of an unknown partner: %v", err)
	}
	if _, err := tenants.RemovePartner(ctx, pool, b.ID, actor); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.RemovePartner(ctx, pool, b.ID, actor); !errors.Is(err, tenants.ErrNotFound) {
		t.Errorf("removed twice: %v", err)
	}
	trail, _ := tenants.AuditTrail(ctx, pool, "partner", a.ID)
	if len(trail) != 2 || trail[0].Action != "partner.create" || trail[1].Action != "partner.update" ||
		trail[1].FromState != "open" || trail[1].ToState != "full" || trail[1].Detail["changed"] != "offer_en, open" || trail[1].Actor != actor {
		t.Errorf("audit of partner a: %+v", trail)
	}
	trail, _ = tenants.AuditTrail(ctx, pool, "partner", b.ID)
	if len(trail) != 2 || trail[1].Action != "partner.remove" || trail[1].Detail["name"] != "Alpha Cloud" {
		t.Errorf("audit of partner b: %+v", trail)
	}
}

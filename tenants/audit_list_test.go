package tenants

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// auditFixture is a small history: an application approved by a moderator into a space, a token
// that retried that space, the reconciler warning about another space, and a CLI user.
type auditFixture struct {
	mod   Moderator
	tok   APIToken
	app   Application
	space Space
	other Space
}

func newAuditFixture(t *testing.T, db DB) auditFixture {
	t.Helper()
	ctx := context.Background()
	var f auditFixture
	var err error
	if f.mod, err = CreateModerator(ctx, db, "alex@example.org", "Alex Martin", "a long enough password", ActorSystem); err != nil {
		t.Fatal(err)
	}
	if f.tok, _, err = CreateAPIToken(ctx, db, NewAPIToken{Name: "ops", Scope: ScopeOperator}, Actor("cli:camille")); err != nil {
		t.Fatal(err)
	}
	if f.app, err = SubmitApplication(ctx, db, newApp("1"), nil); err != nil {
		t.Fatal(err)
	}
	if _, f.space, err = ApproveApplication(ctx, db, f.app.ID, Approval{Decider: Decider{ModeratorID: f.mod.ID}, Limits: quota.DefaultLimits}); err != nil {
		t.Fatal(err)
	}
	if f.other, err = CreateSpace(ctx, db, NewSpace{Slug: "other", AssociationName: "Other", ContactEmail: "o@example.org",
		Limits: quota.DefaultLimits}, ActorSystem); err != nil {
		t.Fatal(err)
	}
	for _, e := range []AuditEntry{
		{Actor: TokenActor(f.tok.ID), Action: "space.retry", SubjectType: "space", SubjectID: f.space.ID, FromState: "failed", ToState: "queued"},
		{Actor: ActorReconciler, Action: "space.storage_level", SubjectType: "space", SubjectID: f.other.ID,
			Detail: map[string]any{"from": "ok", "to": "80%", "used_bytes": 34 * quota.GB, "limit_bytes": 40 * quota.GB}},
	} {
		if err := RecordAudit(ctx, db, e); err != nil {
			t.Fatal(err)
		}
	}
	// The application was sent ten days ago.
	if _, err := db.Exec(ctx, `UPDATE audit_log SET at = now() - interval '10 days' WHERE action = 'application.submit'`); err != nil {
		t.Fatal(err)
	}
	return f
}

func actions(items []AuditItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Action
	}
	return out
}

func TestListAudit(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	f := newAuditFixture(t, pool)
	var total int
	pool.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&total) //nolint:errcheck

	all, err := ListAudit(ctx, pool, AuditFilter{Limit: MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != total || !slices.IsSortedFunc(all, func(a, b AuditItem) int { return int(b.ID - a.ID) }) {
		t.Fatalf("all: %d of %d entries, newest first? %v", len(all), total, actions(all))
	}
	byAction := map[string]AuditItem{}
	for _, it := range all {
		byAction[it.Action] = it
	}
	// Names: a token's, a moderator's; raw actors stay as they are, with no name.
	for action, want := range map[string][3]string{
		"space.retry":         {string(TokenActor(f.tok.ID)), "ops", "asso-1"},
		"application.approve": {string(ModeratorActor(f.mod.ID)), "Alex Martin", "asso-1"},
		"space.create":        {string(ModeratorActor(f.mod.ID)), "Alex Martin", "asso-1"},
		"application.submit":  {"applicant", "", "asso-1"},
		"space.storage_level": {"system:reconciler", "", "other"},
		"token.create":        {"cli:camille", "", "ops"},
		"moderator.create":    {"system", "", "alex@example.org"},
	} {
		it, ok := byAction[action]
		if !ok {
			t.Errorf("no %s entry in %v", action, actions(all))
			continue
		}
		if string(it.Actor) != want[0] || it.ActorName != want[1] || it.SubjectName != want[2] {
			t.Errorf("%s: actor %q named %q, subject %q; want %q", action, it.Actor, it.ActorName, it.SubjectName, want)
		}
	}
	if d := byAction["space.storage_level"].Detail; d["used_bytes"] != float64(34*quota.GB) {
		t.Errorf("detail: %v", d)
	}

	for name, tc := range map[string]struct {
		f    AuditFilter
		want []string
	}{
		"space and its application": {AuditFilter{SpaceID: f.space.ID},
			[]string{"space.retry", "space.create", "application.approve", "application.submit"}},
		"other space":          {AuditFilter{SpaceID: f.other.ID}, []string{"space.storage_level", "space.create"}},
		"token":                {AuditFilter{Actors: []Actor{TokenActor(f.tok.ID)}}, []string{"space.retry"}},
		"moderator":            {AuditFilter{Actors: []Actor{ModeratorActor(f.mod.ID)}}, []string{"space.create", "application.approve"}},
		"either":               {AuditFilter{Actors: []Actor{TokenActor(f.tok.ID), ActorApplicant}}, []string{"space.retry", "application.submit"}},
		"space by actor":       {AuditFilter{SpaceID: f.space.ID, Actors: []Actor{ActorApplicant}}, []string{"application.submit"}},
		"since 7 days":         {AuditFilter{SpaceID: f.space.ID, Since: time.Now().Add(-7 * 24 * time.Hour)}, []string{"space.retry", "space.create", "application.approve"}},
		"since 11 days":        {AuditFilter{SpaceID: f.space.ID, Since: time.Now().Add(-11 * 24 * time.Hour)}, []string{"space.retry", "space.create", "application.approve", "application.submit"}},
		"since in the future":  {AuditFilter{Since: time.Now().Add(time.Hour)}, []string{}},
		"an actor never seen":  {AuditFilter{Actors: []Actor{"token:999"}}, []string{}},
		"limit keeps newest":   {AuditFilter{SpaceID: f.space.ID, Limit: 2}, []string{"space.retry", "space.create"}},
		"after the newest two": {AuditFilter{SpaceID: f.space.ID, AfterID: byAction["space.create"].ID}, []string{"application.approve", "application.submit"}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ListAudit(ctx, pool, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(actions(got), tc.want) {
				t.Errorf("got %v, want %v", actions(got), tc.want)
			}
		})
	}

	// Keyset pages, one entry at a time, give every entry once.
	var paged []AuditItem
	for after := int64(0); ; {
		page, err := ListAudit(ctx, pool, AuditFilter{AfterID: after, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[0].ID
	}
	if !slices.Equal(actions(paged), actions(all)) {
		t.Errorf("paged %v, want %v", actions(paged), actions(all))
	}
	for _, bad := range []int{-1, MaxAuditLimit + 1} {
		if _, err := ListAudit(ctx, pool, AuditFilter{Limit: bad}); err == nil {
			t.Errorf("limit %d accepted", bad)
		}
	}
}

func TestResolveActor(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	f := newAuditFixture(t, pool)
	// Two tokens may share a name: the name stands for both.
	again, _, err := CreateAPIToken(ctx, pool, NewAPIToken{Name: "ops", Scope: ScopeRead}, ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string][]Actor{
		"ops":               {TokenActor(f.tok.ID), TokenActor(again.ID)},
		"Alex@Example.org":  {ModeratorActor(f.mod.ID)},
		"token:999":         {"token:999"},
		"moderator:5":       {"moderator:5"},
		"applicant":         {ActorApplicant},
		"system":            {ActorSystem},
		"system:reconciler": {ActorReconciler},
		"cli:camille":       {"cli:camille"},
	} {
		got, err := ResolveActor(ctx, pool, in)
		slices.Sort(got)
		slices.Sort(want)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ResolveActor(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"nobody", "Alex Martin", "token:", "token:x", "OPS"} {
		if got, err := ResolveActor(ctx, pool, in); !errors.Is(err, ErrNotFound) {
			t.Errorf("ResolveActor(%q) = %v, %v; want ErrNotFound", in, got, err)
		}
	}
}

package quota

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// applied returns the accounts as they are once the plan's changes are written.
func applied(p Plan, accounts []Account) []Account {
	out := slices.Clone(accounts)
	for i, a := range out {
		if q, ok := p.Quotas[a.ID]; ok {
			out[i].Quota = q
		}
	}
	return out
}

func TestPlanStorage(t *testing.T) {
	tb := func(x float64) int64 { v, _ := tenthsBytes(int64(x*10), GB); return v } // x.y GB as Nextcloud reads it
	tests := []struct {
		name     string
		limits   Limits
		accounts []Account
		quotas   map[string]int64
		def, max int64
	}{
		{
			// U = 5 GB, R = 5 GB; two free slots share 1 GB; 4 GB: 1 GB each evenly, 2 GB by use (3:1).
			name:     "room shared",
			limits:   Limits{StorageBytes: 10 * GB, Accounts: 4},
			accounts: []Account{{ID: "svc", Used: GB, Service: true}, {ID: "alice", Used: 3 * GB}, {ID: "bob", Used: GB}},
			quotas:   map[string]int64{"svc": GB, "alice": 5*GB + GB/2, "bob": 2*GB + GB/2},
			def:      GB / 2, max: 10 * GB,
		},
		{
			// No free slot: no reserve, 5 GB: 1.25 GB each evenly, 2.5 GB by use; rounded down to tenths.
			name:     "no free slot",
			limits:   Limits{StorageBytes: 10 * GB, Accounts: 2},
			accounts: []Account{{ID: "svc", Used: GB, Service: true}, {ID: "alice", Used: 3 * GB}, {ID: "bob", Used: GB}},
			quotas:   map[string]int64{"svc": GB, "alice": tb(6.1), "bob": tb(2.8)},
			def:      0, max: 10 * GB,
		},
		{
			// Over the accounts limit (disabled accounts count): still no free slot.
			name:     "more accounts than the limit",
			limits:   Limits{StorageBytes: 10 * GB, Accounts: 1},
			accounts: []Account{{ID: "alice", Used: 2 * GB}, {ID: "bob", Used: 2 * GB}},
			quotas:   map[string]int64{"alice": 5 * GB, "bob": 5 * GB},
			def:      0, max: 10 * GB,
		},
		{
			// A new space: 8 GB kept for 50 slots (163.84 MB each, rounded to 163.8 MB).
			name:     "new space",
			limits:   DefaultLimits,
			accounts: []Account{{ID: "svc", Service: true, Quota: -3}},
			quotas:   map[string]int64{"svc": 0},
			def:      171756749, max: 40 * GB,
		},
		{
			// Nobody uses anything: all evenly, 32 GB over 4 accounts.
			name:     "nothing used",
			limits:   Limits{StorageBytes: 40 * GB, Accounts: 5},
			accounts: []Account{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}},
			quotas:   map[string]int64{"a": 8 * GB, "b": 8 * GB, "c": 8 * GB, "d": 8 * GB},
			def:      8 * GB, max: 40 * GB,
		},
		{
			// Full: every quota is its usage rounded down, nothing for new accounts.
			name:     "full",
			limits:   Limits{StorageBytes: 10 * GB, Accounts: 50},
			accounts: []Account{{ID: "svc", Used: GB, Service: true}, {ID: "alice", Used: 6 * GB}, {ID: "bob", Used: 3*GB + 12345}},
			quotas:   map[string]int64{"svc": GB, "alice": 6 * GB, "bob": 3 * GB},
			def:      0, max: 10 * GB,
		},
		{
			// The limit lowered below usage: the same, nobody can grow.
			name:     "limit below usage",
			limits:   Limits{StorageBytes: 5 * GB, Accounts: 50},
			accounts: []Account{{ID: "svc", Used: 2 * GB, Service: true, Quota: GB}, {ID: "alice", Used: 4 * GB, Quota: 8 * GB}},
			quotas:   map[string]int64{"svc": 2 * GB, "alice": 4 * GB},
			def:      0, max: 5 * GB,
		},
		{
			// One account alone over the limit: capped at MaxQuota, which Nextcloud would
			// enforce anyway, and which stops growth just as well.
			name:     "one account over the limit",
			limits:   Limits{StorageBytes: 10 * GB, Accounts: 5},
			accounts: []Account{{ID: "svc", Service: true}, {ID: "alice", Used: 20 * GB}, {ID: "bob", Used: GB}},
			quotas:   map[string]int64{"svc": 0, "alice": 10 * GB, "bob": GB},
			def:      0, max: 10 * GB,
		},
		{
			// A limit Nextcloud cannot store exactly: MaxQuota is rounded down, or a quota set to it
			// could be stored above the limit.
			name:     "odd limit",
			limits:   Limits{StorageBytes: 1500000000, Accounts: 1},
			accounts: []Account{{ID: "alice", Used: -7}},
			quotas:   map[string]int64{"alice": tb(1.3)},
			def:      0, max: tb(1.3),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanStorage(PlanInput{Limits: tt.limits, Accounts: tt.accounts})
			if !reflect.DeepEqual(p.Quotas, tt.quotas) {
				t.Errorf("quotas %v, want %v", p.Quotas, tt.quotas)
			}
			if p.DefaultQuota != tt.def || p.MaxQuota != tt.max {
				t.Errorf("default %d max %d, want %d %d", p.DefaultQuota, p.MaxQuota, tt.def, tt.max)
			}
			if p.Limits != tt.limits {
				t.Errorf("limits %+v, want %+v", p.Limits, tt.limits)
			}
		})
	}
}

// randomInput makes a space of any size, often full or over its limit.
func randomInput(rng *rand.Rand) PlanInput {
	limit := 1 + rng.Int64N(int64(1)<<(10+rng.IntN(37))) // up to 64 TB
	if rng.IntN(10) == 0 {
		limit = 40 * GB
	}
	in := PlanInput{Limits: Limits{StorageBytes: limit, Accounts: 1 + rng.IntN(60)}}
	n := rng.IntN(70)
	// Spread so that usage is sometimes well under the limit, sometimes well over.
	scale := limit / int64(max(n, 1)) * int64(1+rng.IntN(3))
	for i := range n {
		a := Account{ID: "u" + string(rune('A'+i%26)) + string(rune('a'+i/26)), Quota: -3}
		switch rng.IntN(4) {
		case 0:
		case 1:
			a.Used = rng.Int64N(1024)
		default:
			a.Used = rng.Int64N(max(scale, 1))
		}
		a.Service = rng.IntN(15) == 0
		in.Accounts = append(in.Accounts, a)
	}
	return in
}

// The plan's promise: whatever the accounts do until the next pass, filling their quotas and
// each free slot filling the default quota, the space stays within its limit; once usage is
// at or over the limit, nobody can grow.
func TestPlanStorageInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 20000 {
		in := randomInput(rng)
		p := PlanStorage(in)
		var used, sum int64
		assoc := 0
		for _, a := range in.Accounts {
			used += max(a.Used, 0)
			q := p.Quotas[a.ID]
			sum += q
			if q < 0 || NextcloudRoundDown(q) != q {
				t.Fatalf("%+v: quota %d of %s is not one Nextcloud keeps", in, q, a.ID)
			}
			if q < min(NextcloudRoundDown(max(a.Used, 0)), p.MaxQuota) {
				t.Fatalf("%+v: quota %d of %s is under its usage %d", in, q, a.ID, a.Used)
			}
			if q > p.MaxQuota {
				t.Fatalf("%+v: quota %d of %s over the max quota %d", in, q, a.ID, p.MaxQuota)
			}
			if a.Service && q != min(NextcloudRoundDown(a.Used), p.MaxQuota) {
				t.Fatalf("%+v: service account %s given room: %d for %d used", in, a.ID, q, a.Used)
			}
			if !a.Service {
				assoc++
			}
		}
		free := int64(max(in.Limits.Accounts-assoc, 0))
		if len(p.Quotas) != len(in.Accounts) || p.DefaultQuota < 0 || NextcloudRoundDown(p.DefaultQuota) != p.DefaultQuota {
			t.Fatalf("%+v: plan %+v", in, p)
		}
		if free == 0 && p.DefaultQuota != 0 {
			t.Fatalf("%+v: default quota %d with no free slot", in, p.DefaultQuota)
		}
		if p.MaxQuota != NextcloudRoundDown(in.Limits.StorageBytes) {
			t.Fatalf("%+v: max quota %d", in, p.MaxQuota)
		}
		if used <= in.Limits.StorageBytes {
			if total := sum + free*p.DefaultQuota; total > in.Limits.StorageBytes {
				t.Fatalf("%+v: quotas %d + %d × default %d = %d over the limit %d", in, sum, free, p.DefaultQuota, total, in.Limits.StorageBytes)
			}
			continue
		}
		if p.DefaultQuota != 0 {
			t.Fatalf("%+v: over the limit, default quota %d", in, p.DefaultQuota)
		}
		for _, a := range in.Accounts {
			if q := p.Quotas[a.ID]; q != min(NextcloudRoundDown(a.Used), p.MaxQuota) {
				t.Fatalf("%+v: over the limit, %s has quota %d for %d used", in, a.ID, q, a.Used)
			}
		}
	}
}

// What rounding costs: in the default space the plan hands out nearly all the room.
func TestPlanStorageUsesTheRoom(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 200 {
		in := PlanInput{Limits: DefaultLimits}
		for i := range 1 + rng.IntN(50) {
			in.Accounts = append(in.Accounts, Account{ID: string(rune('a' + i)), Used: rng.Int64N(500 * MB)})
		}
		p := PlanStorage(in)
		var sum int64
		for _, q := range p.Quotas {
			sum += q
		}
		sum += int64(DefaultLimits.Accounts-len(in.Accounts)) * p.DefaultQuota
		if sum < DefaultLimits.StorageBytes*95/100 {
			t.Fatalf("%d accounts: %s of %s handed out", len(in.Accounts), FormatSize(sum), FormatSize(DefaultLimits.StorageBytes))
		}
	}
}

func TestPlanJSON(t *testing.T) {
	p := PlanStorage(PlanInput{Limits: DefaultLimits, Accounts: []Account{{ID: "svc", Used: 5, Service: true}, {ID: "alice", Used: GB}}})
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"quotas":`, `"default_quota":`, `"max_quota":`, `"limits":{"storage_bytes":`, `"used":`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("%s lacks %s", b, key)
		}
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, p) {
		t.Fatalf("plan %+v came back as %+v (%v)", p, back, err)
	}
	b, _ = json.Marshal(PlanStorage(PlanInput{Limits: DefaultLimits}))
	if !strings.Contains(string(b), `"quotas":{}`) {
		t.Errorf("an empty space's plan: %s", b)
	}
}

func TestChanges(t *testing.T) {
	p := Plan{Quotas: map[string]int64{"a": 5 * GB, "b": GB, "c": 2 * GB, "d": 3 * GB, "e": 0}}
	accounts := []Account{
		{ID: "d", Quota: GB},      // raised
		{ID: "a", Quota: 5 * GB},  // unchanged
		{ID: "c", Quota: -3},      // unlimited → lowered
		{ID: "b", Quota: 2 * GB},  // lowered
		{ID: "x", Quota: 9 * GB},  // not in the plan
		{ID: "e", Quota: 0},       // unchanged
		{ID: "aa", Quota: 7 * GB}, // not in the plan
	}
	want := []QuotaChange{{"b", 2 * GB, GB}, {"c", -3, 2 * GB}, {"d", GB, 3 * GB}}
	if got := p.Changes(accounts); !reflect.DeepEqual(got, want) {
		t.Fatalf("changes %+v, want %+v", got, want)
	}
	if got := p.Changes(applied(p, accounts)); len(got) != 0 {
		t.Fatalf("changes once applied: %+v", got)
	}
}

func TestNeedsReplan(t *testing.T) {
	limits := Limits{StorageBytes: 10 * GB, Accounts: 4}
	base := []Account{{ID: "svc", Used: GB, Service: true}, {ID: "alice", Used: 3 * GB}, {ID: "bob", Used: GB}}
	plan := PlanStorage(PlanInput{Limits: limits, Accounts: base})
	steady := applied(plan, base)
	// alice: 3 GB used, quota 5.5 GB, so 2.5 GB of room; bob: 1 GB used, 1.5 GB of room.
	with := func(f func(a []Account) []Account) []Account { return f(slices.Clone(steady)) }

	fullLimits := Limits{StorageBytes: 5 * GB, Accounts: 4}
	fullBase := []Account{{ID: "svc", Used: GB, Service: true}, {ID: "alice", Used: 3*GB + 12345}, {ID: "bob", Used: GB}}
	fullPlan := PlanStorage(PlanInput{Limits: fullLimits, Accounts: fullBase})
	full := applied(fullPlan, fullBase) // alice's quota is 3 GB, under her usage

	tests := []struct {
		name     string
		limits   Limits
		accounts []Account
		prev     *Plan
		want     string // "" for no replan
	}{
		{"first pass", limits, steady, nil, "no plan yet"},
		{"steady", limits, steady, &plan, ""},
		{"growth under half the room", limits, with(func(a []Account) []Account { a[1].Used += GB; a[2].Used += 700 * MB; return a }), &plan, ""},
		{"alice used half its room", limits, with(func(a []Account) []Account { a[1].Used += GB + GB/4 + 1; return a }), &plan, "alice used half its room"},
		{"service account grows", limits, with(func(a []Account) []Account { a[0].Used += 10; return a }), &plan, ""},
		{"changed behind our back", limits, with(func(a []Account) []Account { a[2].Quota = 8 * GB; return a }), &plan, "account bob changed behind our back"},
		{"set unlimited", limits, with(func(a []Account) []Account { a[2].Quota = -3; return a }), &plan, "account bob changed behind our back: quota unlimited"},
		{"new account", limits, with(func(a []Account) []Account { return append(a, Account{ID: "carol", Quota: plan.DefaultQuota}) }), &plan, "new account carol"},
		{"account gone", limits, with(func(a []Account) []Account { return a[:2] }), &plan, "account bob is gone"},
		{"storage limit changed", Limits{StorageBytes: 20 * GB, Accounts: 4}, steady, &plan, "limit changed"},
		{"accounts limit changed", Limits{StorageBytes: 10 * GB, Accounts: 9}, steady, &plan, "limit changed"},
		{"small clean-up", limits, with(func(a []Account) []Account { a[1].Used -= GB; return a }), &plan, ""},
		{"big clean-up", limits, with(func(a []Account) []Account { a[1].Used -= 3 * GB; return a }), &plan, "space freed"},
		{"full and steady", fullLimits, full, &fullPlan, ""},
		{"full, a file deleted", fullLimits, with2(full, func(a []Account) { a[1].Used -= MB }), &fullPlan, ""},
		{"full, space freed", fullLimits, with2(full, func(a []Account) { a[1].Used -= GB }), &fullPlan, "space freed"},
		{"plan without usage", limits, steady, &Plan{Quotas: plan.Quotas, Limits: limits}, "does not say what account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := NeedsReplan(PlanInput{Limits: tt.limits, Accounts: tt.accounts, Previous: tt.prev})
			if got != (tt.want != "") || !strings.Contains(why, tt.want) {
				t.Fatalf("NeedsReplan = %t %q, want %q", got, why, tt.want)
			}
			if got && why == "" {
				t.Fatal("replan without a reason")
			}
		})
	}
}

func with2(accounts []Account, f func([]Account)) []Account {
	out := slices.Clone(accounts)
	f(out)
	return out
}

// Passes of the reconciler over a space whose accounts keep filling their quotas, new members
// arriving and files being deleted: usage never passes the limit, and a pass after which
// nothing happened writes nothing.
func TestPlanOverPasses(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for run := range 300 {
		limits := Limits{StorageBytes: 1 + rng.Int64N(64*GB), Accounts: 1 + rng.IntN(20)}
		accounts := []Account{{ID: "svc", Used: rng.Int64N(MB), Service: true, Quota: -3}}
		var prev *Plan
		busy := true
		for pass := range 300 {
			in := PlanInput{Limits: limits, Accounts: accounts, Previous: prev}
			need, why := NeedsReplan(in)
			if need && !busy {
				t.Fatalf("run %d pass %d: nothing happened, yet a replan: %s", run, pass, why)
			}
			if need {
				p := PlanStorage(in)
				accounts = applied(p, accounts)
				prev = &p
			}
			// Between passes, on some: accounts grow, stopped by their quotas; some delete
			// files; members join with the default quota while slots are free; the space is
			// resized now and then.
			busy = rng.IntN(3) != 0
			if !busy {
				continue
			}
			if rng.IntN(10) == 0 {
				limits.StorageBytes = max(1, limits.StorageBytes+rng.Int64N(GB)-GB/2)
			}
			assoc := len(accounts) - 1
			if assoc < limits.Accounts && rng.IntN(4) == 0 {
				accounts = append(accounts, Account{ID: "m" + string(rune('a'+assoc)), Quota: prev.DefaultQuota})
			}
			for i := range accounts {
				a := &accounts[i]
				switch rng.IntN(8) {
				case 0:
					a.Used -= rng.Int64N(a.Used/2 + 1)
				case 1:
					a.Used = max(a.Used, a.Quota) // filled up
				case 2, 3:
					if room := a.Quota - a.Used; room > 0 {
						a.Used += rng.Int64N(room/3 + 1)
					}
				}
			}
			var used int64
			for _, a := range accounts {
				used += a.Used
			}
			if used > prev.Limits.StorageBytes && used > prevUsed(prev) {
				t.Fatalf("run %d pass %d: %d used over the limit %d", run, pass, used, prev.Limits.StorageBytes)
			}
		}
	}
}

// prevUsed is what the space used when the plan was made: a space already over its limit (the
// service's own account alone may pass a tiny limit) may stay there but not grow.
func prevUsed(p *Plan) int64 {
	var s int64
	for _, u := range p.Used {
		s += u
	}
	return s
}

// A small space filled past its limit behind the quotas' back (files written on disk), then
// cleaned up: each step replans, the full space blocks growth, and the clean-up opens it again
// although no account has room left to half use.
func TestFullSpaceOpensAfterCleanUp(t *testing.T) {
	limits := Limits{StorageBytes: 10 * MB, Accounts: 2}
	accounts := []Account{{ID: "admin", Service: true, Quota: -3}, {ID: "alice", Used: 5, Quota: -3}}
	var prev *Plan
	pass := func(aliceUsed int64, wantReplan string) {
		t.Helper()
		accounts[1].Used = aliceUsed
		in := PlanInput{Limits: limits, Accounts: accounts, Previous: prev}
		need, why := NeedsReplan(in)
		if need != (wantReplan != "") || !strings.Contains(why, wantReplan) {
			t.Fatalf("at %s: NeedsReplan = %t %q, want %q", FormatSize(aliceUsed), need, why, wantReplan)
		}
		if need {
			p := PlanStorage(in)
			accounts = applied(p, accounts)
			prev = &p
		}
	}
	pass(5, "no plan yet")
	pass(5, "")
	pass(82*MB/10, "alice used half its room")
	pass(92*MB/10, "alice used half its room")
	pass(102*MB/10, "alice used half its room")
	if q := accounts[1].Quota; q > accounts[1].Used || prev.DefaultQuota != 0 {
		t.Fatalf("full space: quota %d for %d used, default %d", q, accounts[1].Used, prev.DefaultQuota)
	}
	pass(102*MB/10, "")
	pass(82*MB/10, "space freed")
	if room := accounts[1].Quota - accounts[1].Used; room < MB {
		t.Fatalf("after the clean-up alice has %d bytes of room", room)
	}
	pass(82*MB/10, "")
}

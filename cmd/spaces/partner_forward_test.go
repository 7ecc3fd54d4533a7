package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

func TestPartnerForwardingCommandsUsageErrors(t *testing.T) {
	env := []string{"SPACES_ADDR=http://127.0.0.1:1", "SPACES_TOKEN=spt_x"}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no-forward and url":   {[]string{"partner", "set", "3", "--no-forward", "--forward-url", "https://a.example"}, "--no-forward cannot be combined with --forward-url or --forward-token-file"},
		"empty forward url":    {[]string{"partner", "set", "3", "--forward-url", ""}, "--forward-url is empty"},
		"empty token file":     {[]string{"partner", "set", "3", "--forward-token-file", ""}, "--forward-token-file is empty"},
		"forwards bad state":   {[]string{"partner", "forwards", "--state", "lost"}, `--state "lost" is not a state; use queued, delivered, refused, failed`},
		"forwards bad limit":   {[]string{"partner", "forwards", "--limit", "0"}, "--limit must be from 1 to 500, got 0"},
		"forwards bad partner": {[]string{"partner", "forwards", "--partner", "-2"}, "--partner must be a partner host's number"},
	} {
		t.Run(name, func(t *testing.T) { wantUsageError(t, env, tc.want, tc.args...) })
	}
	out, err := spacesCommand(t, nil, "partner", "forwards", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Examples:\n  spaces partner forwards") {
		t.Errorf("partner forwards --help: %v\n%s", err, out)
	}
}

// TestPartnerForwardingCommands: a forward token is made for a partner, and the token a partner
// gave is set from a file or standard input and never printed, listed or answered back;
// partner forwards lists what was forwarded.
func TestPartnerForwardingCommands(t *testing.T) {
	pool, dbURL := pgtest.New(t)
	srv := apiServer(t, pool)
	ctx := context.Background()
	_, token, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"SPACES_ADDR=" + srv.URL, "SPACES_TOKEN=" + token, "TZ=UTC"}
	ok := func(stdin string, args ...string) string {
		t.Helper()
		cmd := spacesCommand(t, env, args...)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() != 0 {
			t.Fatalf("spaces %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}

	// The receiving side: a token of scope forward, for the partner that sends here.
	out, errOut, code := runSpaces(t, []string{"SPACES_DATABASE_URL=" + dbURL}, "token", "create", "Espaces du Nord", "--scope", "forward")
	if code != 0 || !strings.Contains(out, "scope forward") || errOut != "" {
		t.Fatalf("token create --scope forward: %d\n%s%s", code, out, errOut)
	}

	// The sending side: the partner's token from a file, then from standard input.
	ok("", "partner", "add", "Chatons du Sud", "--url", "https://chatons-sud.example", "--offer", "Nextcloud")
	const secret = "spt_secretgivenbythepartner0123456789"
	file := filepath.Join(t.TempDir(), "token.txt")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = ok("", "partner", "set", "1", "--forward-url", "https://api.chatons-sud.example", "--forward-token-file", file)
	if !strings.Contains(out, "Forwarding:  to https://api.chatons-sud.example/api/v1/applications (its token is kept sealed)") ||
		!strings.Contains(out, "State:       open, forwarding") {
		t.Errorf("set forwarding printed:\n%s", out)
	}
	out += ok(secret+"\n", "partner", "set", "1", "--forward-token-file", "-", "--output", "json")
	out += ok("", "partner", "list")
	out += ok("", "partner", "list", "--output", "json")
	if strings.Contains(out, secret) {
		t.Errorf("the token is printed:\n%s", out)
	}
	var sealed string
	if err := pool.QueryRow(ctx, `SELECT forward_token_sealed FROM partners WHERE id = 1`).Scan(&sealed); err != nil || sealed == "" || strings.Contains(sealed, secret) {
		t.Errorf("stored token: %q %v", sealed, err)
	}
	// An empty file is a usage error naming the flag; a missing one is an error.
	empty := filepath.Join(t.TempDir(), "empty.txt")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runSpaces(t, env, "partner", "set", "1", "--forward-token-file", empty); code != 2 || !strings.Contains(errOut, "holds no token") {
		t.Errorf("empty token file: %d %s", code, errOut)
	}
	if _, errOut, code := runSpaces(t, env, "partner", "set", "1", "--forward-token-file", empty+".missing"); code != 1 || !strings.Contains(errOut, "--forward-token-file") {
		t.Errorf("missing token file: %d %s", code, errOut)
	}

	if out := ok("", "partner", "forwards"); out != "no forwarded applications\n" {
		t.Errorf("forwards before any: %q", out)
	}
	f, err := tenants.QueueForward(ctx, pool, tenants.NewForward{PartnerID: 1, FormKey: "sub_1",
		Payload: tenants.ForwardPayload{AssociationName: "Les Amis du Verger", ContactEmail: "sacha@verger.example"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.FinishForward(ctx, pool, f.ID, tenants.ForwardRefused, "503 intake_closed: full", nil); err != nil {
		t.Fatal(err)
	}
	rows := tableRows(ok("", "partner", "forwards", "--state", "refused", "--partner", "1"))
	if r := rows["1"]; len(r) != 6 || r[2] != "Chatons du Sud" || r[3] != "Les Amis du Verger" || r[4] != "refused" || r[5] != "503 intake_closed: full" {
		t.Errorf("forwards row: %q", r)
	}
	if out := ok("", "partner", "forwards", "--state", "delivered"); out != "no forwarded applications\n" {
		t.Errorf("no delivered: %q", out)
	}
	var page struct {
		Forwards []map[string]any `json:"forwards"`
	}
	raw := ok("", "partner", "forwards", "--output", "json")
	if err := json.Unmarshal([]byte(raw), &page); err != nil || len(page.Forwards) != 1 || page.Forwards[0]["state"] != "refused" ||
		strings.Contains(raw, "sacha@verger.example") {
		t.Errorf("forwards json: %v\n%s", err, raw)
	}
}

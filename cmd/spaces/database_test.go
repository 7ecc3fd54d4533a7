package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/assospaces/spaces/tenants/pgtest"
)

// TestOpenDatabaseBoundsStatementsAndSizesThePool: the service's connections have a statement
// timeout and an idle-in-transaction timeout, and the pool is sized for its workers, unless the
// database URL says otherwise.
func TestOpenDatabaseBoundsStatementsAndSizesThePool(t *testing.T) {
	_, dbURL := pgtest.New(t)
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	sep := "?"
	if strings.Contains(dbURL, "?") {
		sep = "&"
	}
	for name, tc := range map[string]struct {
		url                    string
		maxConns               int32
		statement, idleInTrans string
	}{
		"defaults":     {dbURL, dbMaxConns, "30s", "1min"},
		"from the URL": {dbURL + sep + "pool_max_conns=3&statement_timeout=5s", 3, "5s", "1min"},
		"options -c …": {dbURL + sep + "options=-c%20idle_in_transaction_session_timeout%3D10s", dbMaxConns, "30s", "10s"},
	} {
		t.Run(name, func(t *testing.T) {
			pool, err := openDatabase(ctx, &Config{DatabaseURL: tc.url}, logger)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			if got := pool.Config().MaxConns; got != tc.maxConns {
				t.Errorf("max connections %d, want %d", got, tc.maxConns)
			}
			var statement, idle string
			if err := pool.QueryRow(ctx, `SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')`).
				Scan(&statement, &idle); err != nil {
				t.Fatal(err)
			}
			if statement != tc.statement || idle != tc.idleInTrans {
				t.Errorf("statement_timeout %s, idle_in_transaction_session_timeout %s; want %s and %s", statement, idle, tc.statement, tc.idleInTrans)
			}
		})
	}
}

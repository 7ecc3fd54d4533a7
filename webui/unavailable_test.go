package webui

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// The errors a database that cannot serve gives are 503s; the request's own faults and the
// code's are not (make faults shows each on a real server).
func TestUnavailableSortsDatabaseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"disk full", &pgconn.PgError{Code: "53100"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"refused, wrapped", fmt.Errorf("submit application: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), true},
		{"unique violation", fmt.Errorf("submit application: %w", &pgconn.PgError{Code: "23505"}), false},
		{"check violation", &pgconn.PgError{Code: "23514"}, false},
		{"plain error", errors.New("render apply: no such template"), false},
		{"nil", nil, false},
	} {
		if got := unavailable(tc.err); got != tc.want {
			t.Errorf("%s: unavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// Package faults holds the fault tests (build tag faults, run by make faults): each starts real
// servers of its own with devenv — a PostgreSQL cluster, a persistent Nomad agent — beside the
// service's own code, then restarts them, stops them or fills their disk under traffic, and
// checks that the service answers clearly meanwhile and comes back by itself, with nothing lost,
// doubled or half-written. The package has no code of its own.
package faults

// Package quota knows what a space may use and what it does use: limits on storage and accounts,
// sizes written the way Nextcloud writes them, the account quotas that hold a space to its
// storage limit, and the policy that turns usage into warnings.
//
// Nextcloud has only per-account quotas, while a space's limit L is shared by all its accounts,
// so the service owns every account's quota and plans them (PlanStorage) so that the accounts
// together cannot pass L whatever they do between two passes of the reconciler. With U the
// space's usage and R = max(0, L−U) its room: the service's own accounts get no room (quota =
// usage); a fifth of R is kept for accounts created before the next pass, split over the free
// account slots as files/default_quota (or given back when no slot is free); the association's
// accounts share the rest, half evenly so that a quiet or new member can still work, half in
// proportion to usage so that those who store most get most headroom. Every quota is rounded
// down to a value Nextcloud stores exactly (NextcloudRoundDown), so while U ≤ L the quotas plus
// the default quota of each free slot never exceed L: even all accounts filling up at once stay
// within it. Once U ≥ L every quota is its account's usage, which stops growth without deleting
// anything.
// A plan is rewritten only when it no longer holds (NeedsReplan): other limits, an account new,
// gone or changed behind our back, an account that used half the room it was given (so the
// next pass comes before the room runs out), or space freed worth handing out again. A steady
// space gets no writes.
//
// What the plan cannot bound: an account deleted and another created in its place before the
// next pass gets the default quota, which may exceed what the deleted one had; and free slots
// are counted against all association accounts, enabled or not, while Nextcloud's own user
// limit counts only enabled ones. A pass soon after account changes keeps such gaps short.
package quota

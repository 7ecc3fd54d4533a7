package standin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned by the store when a user does not exist.
var ErrNotFound = errors.New("standin: not found")

// errUserExists is returned by createUser when the id (compared case-insensitively) is taken.
var errUserExists = errors.New("standin: user exists")

// errUserLimit is returned by createUser when the user limit is reached.
var errUserLimit = errors.New("standin: user limit reached")

// User is one account as the stand-in stores it.
type User struct {
	ID           string
	DisplayName  string
	Email        string
	PasswordHash string
	Enabled      bool
	// Quota is stored the Nextcloud way: "default", "none" or a human size ("5 GB").
	Quota    string
	Language string
	Groups   []string
	// Subadmin lists the groups this account is a sub-admin of (oc_group_admin).
	Subadmin []string
	// LastLogin is zero until the user first logs in.
	LastLogin time.Time
	Created   time.Time
}

// store keeps users, groups and app config in the tenant's Postgres database, in tables named
// like Nextcloud's (prefix oc_) inside one schema.
type store struct {
	pool   *pgxpool.Pool
	schema string
}

func (s *store) t(name string) string {
	return pgx.Identifier{s.schema, name}.Sanitize()
}

// migrate creates the schema and tables when missing; it is safe to run at every start and from
// several processes at once.
func (s *store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "nextcloud-standin:"+s.schema); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	stmts := []string{
		`CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{s.schema}.Sanitize(),
		`CREATE TABLE IF NOT EXISTS ` + s.t("oc_users") + ` (
			uid          text PRIMARY KEY,
			uid_lower    text NOT NULL UNIQUE,
			displayname  text NOT NULL DEFAULT '',
			email        text NOT NULL DEFAULT '',
			password     text NOT NULL,
			enabled      boolean NOT NULL DEFAULT true,
			quota        text NOT NULL DEFAULT 'default',
			lang         text NOT NULL DEFAULT '',
			last_login   timestamptz,
			created_at   timestamptz NOT NULL DEFAULT now()
		)`,
		`CREATE TABLE IF NOT EXISTS ` + s.t("oc_groups") + ` (
			gid         text PRIMARY KEY,
			displayname text NOT NULL DEFAULT ''
		)`,
		`CREATE TABLE IF NOT EXISTS ` + s.t("oc_group_user") + ` (
			gid text NOT NULL REFERENCES ` + s.t("oc_groups") + ` ON DELETE CASCADE,
			uid text NOT NULL REFERENCES ` + s.t("oc_users") + ` ON DELETE CASCADE ON UPDATE CASCADE,
			PRIMARY KEY (gid, uid)
		)`,
		// Nextcloud's oc_group_admin: who is sub-admin of which group. Rows go with the user or the
		// group, as SubAdmin::post_deleteUser and post_deleteGroup remove them.
		`CREATE TABLE IF NOT EXISTS ` + s.t("oc_group_admin") + ` (
			gid text NOT NULL REFERENCES ` + s.t("oc_groups") + ` ON DELETE CASCADE,
			uid text NOT NULL REFERENCES ` + s.t("oc_users") + ` ON DELETE CASCADE ON UPDATE CASCADE,
			PRIMARY KEY (gid, uid)
		)`,
		`CREATE TABLE IF NOT EXISTS ` + s.t("oc_appconfig") + ` (
			appid       text NOT NULL,
			configkey   text NOT NULL,
			configvalue text NOT NULL,
			PRIMARY KEY (appid, configkey)
		)`,
		// Not Nextcloud's: the stand-in's record of every app config write (occ, OCS or its own
		// cron), so that tests can count what a provisioning pass asked of the space.
		`CREATE TABLE IF NOT EXISTS ` + s.t("standin_appconfig_writes") + ` (
			id          bigserial PRIMARY KEY,
			written_at  timestamptz NOT NULL DEFAULT now(),
			appid       text NOT NULL,
			configkey   text NOT NULL,
			configvalue text NOT NULL
		)`,
	}
	for _, st := range stmts {
		if _, err := tx.Exec(ctx, st); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

const userColumns = `u.uid, u.displayname, u.email, u.password, u.enabled, u.quota, u.lang, u.last_login, u.created_at,
	COALESCE((SELECT array_agg(g.gid ORDER BY g.gid) FROM %[1]s g WHERE g.uid = u.uid), '{}'),
	COALESCE((SELECT array_agg(a.gid ORDER BY a.gid) FROM %[2]s a WHERE a.uid = u.uid), '{}')`

func (s *store) userSelect() string {
	return `SELECT ` + fmt.Sprintf(userColumns, s.t("oc_group_user"), s.t("oc_group_admin")) + ` FROM ` + s.t("oc_users") + ` u`
}

func scanUser(row pgx.Row) (*User, error) {
	var u User
	var last *time.Time
	if err := row.Scan(&u.ID, &u.DisplayName, &u.Email, &u.PasswordHash, &u.Enabled, &u.Quota, &u.Language,
		&last, &u.Created, &u.Groups, &u.Subadmin); err != nil {
		return nil, err
	}
	if last != nil {
		u.LastLogin = *last
	}
	return &u, nil
}

// user loads one user by id, case-insensitively like Nextcloud's database backend.
func (s *store) user(ctx context.Context, id string) (*User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, s.userSelect()+` WHERE u.uid_lower = lower($1)`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	return u, nil
}

// users lists users whose id, display name or email contains search, by id, with limit (<= 0:
// all) and offset.
func (s *store) users(ctx context.Context, search string, limit, offset int) ([]*User, error) {
	q := s.userSelect() + ` WHERE ($1 = '' OR u.uid_lower LIKE $2 OR lower(u.displayname) LIKE $2 OR lower(u.email) LIKE $2)
		ORDER BY u.uid_lower OFFSET $3`
	args := []any{search, "%" + likeEscape(strings.ToLower(search)) + "%", max(offset, 0)}
	if limit > 0 {
		q += ` LIMIT $4`
		args = append(args, limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// createUser inserts a user and its group memberships. When limit > 0, it first counts enabled
// users under a lock, as Nextcloud's Registry::delegateIsHardUserLimitReached does, and refuses
// with errUserLimit when count >= limit.
func (s *store) createUser(ctx context.Context, u *User, limit int) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "nextcloud-standin-users:"+s.schema); err != nil {
		return fmt.Errorf("create user: lock: %w", err)
	}
	if limit > 0 {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+s.t("oc_users")+` WHERE enabled`).Scan(&n); err != nil {
			return fmt.Errorf("create user: count: %w", err)
		}
		if n >= limit {
			return errUserLimit
		}
	}
	var last *time.Time
	if !u.LastLogin.IsZero() {
		last = &u.LastLogin
	}
	_, err = tx.Exec(ctx, `INSERT INTO `+s.t("oc_users")+` (uid, uid_lower, displayname, email, password, enabled, quota, lang, last_login)
		VALUES ($1, lower($1), $2, $3, $4, $5, $6, $7, $8)`,
		u.ID, u.DisplayName, u.Email, u.PasswordHash, u.Enabled, u.Quota, u.Language, last)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return errUserExists
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	for _, g := range u.Groups {
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.t("oc_group_user")+` (gid, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING`, g, u.ID); err != nil {
			return fmt.Errorf("create user: add to group %s: %w", g, err)
		}
	}
	for _, g := range u.Subadmin {
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.t("oc_group_admin")+` (gid, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING`, g, u.ID); err != nil {
			return fmt.Errorf("create user: make sub-admin of %s: %w", g, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("create user: commit: %w", err)
	}
	return nil
}

// countEnabled counts enabled users: the ones the user limit counts.
func (s *store) countEnabled(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+s.t("oc_users")+` WHERE enabled`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// setUserField updates one column of a user; column is one of a fixed set.
func (s *store) setUserField(ctx context.Context, id, column string, value any) error {
	switch column {
	case "displayname", "email", "password", "enabled", "quota", "lang", "last_login":
	default:
		return fmt.Errorf("set user field: unknown column %q", column)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE `+s.t("oc_users")+` SET `+column+` = $2 WHERE uid = $1`, id, value)
	if err != nil {
		return fmt.Errorf("set user %s: %w", column, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *store) deleteUser(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.t("oc_users")+` WHERE uid = $1`, id)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *store) groupExists(ctx context.Context, gid string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+s.t("oc_groups")+` WHERE gid = $1)`, gid).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("group exists: %w", err)
	}
	return ok, nil
}

// createGroup creates a group whose display name is displayName, or its id when that is empty
// (Nextcloud's Database group backend stores the id as display name); created is false when it
// already existed.
func (s *store) createGroup(ctx context.Context, gid, displayName string) (created bool, err error) {
	if displayName == "" {
		displayName = gid
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO `+s.t("oc_groups")+` (gid, displayname) VALUES ($1, $2) ON CONFLICT DO NOTHING`, gid, displayName)
	if err != nil {
		return false, fmt.Errorf("create group: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// groups lists group ids whose id or display name contains search, by id, with limit (<= 0:
// all) and offset.
func (s *store) groups(ctx context.Context, search string, limit, offset int) ([]string, error) {
	q := `SELECT gid FROM ` + s.t("oc_groups") + ` WHERE ($1 = '' OR lower(gid) LIKE $2 OR lower(displayname) LIKE $2)
		ORDER BY gid OFFSET $3`
	args := []any{search, "%" + likeEscape(strings.ToLower(search)) + "%", max(offset, 0)}
	if limit > 0 {
		q += ` LIMIT $4`
		args = append(args, limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// groupMembers lists the ids of a group's members, by id, as the Database group backend's
// usersInGroup does.
func (s *store) groupMembers(ctx context.Context, gid string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT uid FROM `+s.t("oc_group_user")+` WHERE gid = $1 ORDER BY uid`, gid)
	if err != nil {
		return nil, fmt.Errorf("list group members: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// groupSubAdmins lists the ids of a group's sub-admins.
func (s *store) groupSubAdmins(ctx context.Context, gid string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT uid FROM `+s.t("oc_group_admin")+` WHERE gid = $1 ORDER BY uid`, gid)
	if err != nil {
		return nil, fmt.Errorf("list group sub-admins: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// usersInGroup lists the members of a group matching search, by id, with limit (<= 0: all) and
// offset: what a sub-admin sees of one of their groups.
func (s *store) usersInGroup(ctx context.Context, gid, search string, limit, offset int) ([]*User, error) {
	q := s.userSelect() + ` WHERE EXISTS (SELECT 1 FROM ` + s.t("oc_group_user") + ` m WHERE m.uid = u.uid AND m.gid = $1)
		AND ($2 = '' OR u.uid_lower LIKE $3 OR lower(u.displayname) LIKE $3 OR lower(u.email) LIKE $3)
		ORDER BY u.uid_lower OFFSET $4`
	args := []any{gid, search, "%" + likeEscape(strings.ToLower(search)) + "%", max(offset, 0)}
	if limit > 0 {
		q += ` LIMIT $5`
		args = append(args, limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list users of group %s: %w", gid, err)
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users of group %s: %w", gid, err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// setMembership adds (member true) or removes a row of oc_group_user (table "oc_group_user") or
// oc_group_admin; adding twice or removing what is absent is not an error.
func (s *store) setMembership(ctx context.Context, table, gid, uid string, member bool) error {
	if table != "oc_group_user" && table != "oc_group_admin" {
		return fmt.Errorf("set membership: unknown table %q", table)
	}
	var err error
	if member {
		_, err = s.pool.Exec(ctx, `INSERT INTO `+s.t(table)+` (gid, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING`, gid, uid)
	} else {
		_, err = s.pool.Exec(ctx, `DELETE FROM `+s.t(table)+` WHERE gid = $1 AND uid = $2`, gid, uid)
	}
	if err != nil {
		return fmt.Errorf("update %s of %s in %s: %w", table, uid, gid, err)
	}
	return nil
}

// appValue reads oc_appconfig; ok is false when unset.
func (s *store) appValue(ctx context.Context, app, key string) (string, bool, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT configvalue FROM `+s.t("oc_appconfig")+` WHERE appid = $1 AND configkey = $2`, app, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read app config %s/%s: %w", app, key, err)
	}
	return v, true, nil
}

func (s *store) setAppValue(ctx context.Context, app, key, value string) error {
	_, err := s.pool.Exec(ctx, `WITH recorded AS (
			INSERT INTO `+s.t("standin_appconfig_writes")+` (appid, configkey, configvalue) VALUES ($1, $2, $3))
		INSERT INTO `+s.t("oc_appconfig")+` (appid, configkey, configvalue) VALUES ($1, $2, $3)
		ON CONFLICT (appid, configkey) DO UPDATE SET configvalue = EXCLUDED.configvalue`, app, key, value)
	if err != nil {
		return fmt.Errorf("write app config %s/%s: %w", app, key, err)
	}
	return nil
}

// appKeys lists the keys an app has set, sorted, as IAppConfig::getKeys does; apps lists the apps
// that have keys, sorted, as IAppConfig::getApps does.
func (s *store) appKeys(ctx context.Context, app string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT configkey FROM `+s.t("oc_appconfig")+` WHERE appid = $1 ORDER BY configkey`, app)
	if err != nil {
		return nil, fmt.Errorf("list app config keys of %s: %w", app, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (s *store) apps(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT appid FROM `+s.t("oc_appconfig")+` ORDER BY appid`)
	if err != nil {
		return nil, fmt.Errorf("list apps with config: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (s *store) deleteAppValue(ctx context.Context, app, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM `+s.t("oc_appconfig")+` WHERE appid = $1 AND configkey = $2`, app, key)
	if err != nil {
		return fmt.Errorf("delete app config %s/%s: %w", app, key, err)
	}
	return nil
}

// userStats are the counts serverinfo reports.
type userStats struct {
	LoggedIn, Disabled                                int
	Last5m, Last1h, Last24h, Last7d, Last1mo, Last3mo int
	Last6mo, LastYear                                 int
}

func (s *store) stats(ctx context.Context) (userStats, error) {
	var st userStats
	err := s.pool.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE last_login IS NOT NULL),
		count(*) FILTER (WHERE NOT enabled),
		count(*) FILTER (WHERE last_login > now() - interval '5 minutes'),
		count(*) FILTER (WHERE last_login > now() - interval '1 hour'),
		count(*) FILTER (WHERE last_login > now() - interval '24 hours'),
		count(*) FILTER (WHERE last_login > now() - interval '7 days'),
		count(*) FILTER (WHERE last_login > now() - interval '30 days'),
		count(*) FILTER (WHERE last_login > now() - interval '90 days'),
		count(*) FILTER (WHERE last_login > now() - interval '180 days'),
		count(*) FILTER (WHERE last_login > now() - interval '365 days')
		FROM `+s.t("oc_users")).Scan(&st.LoggedIn, &st.Disabled, &st.Last5m, &st.Last1h, &st.Last24h,
		&st.Last7d, &st.Last1mo, &st.Last3mo, &st.Last6mo, &st.LastYear)
	if err != nil {
		return st, fmt.Errorf("user stats: %w", err)
	}
	return st, nil
}

// database reports the server version and the database's size in bytes.
func (s *store) database(ctx context.Context) (version string, size int64, err error) {
	// Nextcloud's serverinfo sizes its whole database (DatabaseStatistics: pg_database_size).
	// An instance that shares a database with others, one schema each (serve-many), sizes its
	// own schema instead: that is what its database would weigh on its own.
	q := `SELECT current_setting('server_version'), pg_database_size(current_database())`
	args := []any{}
	if s.schema != "public" {
		q = `SELECT current_setting('server_version'), coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')`
		args = append(args, s.schema)
	}
	err = s.pool.QueryRow(ctx, q, args...).Scan(&version, &size)
	if err != nil {
		return "", 0, fmt.Errorf("database info: %w", err)
	}
	return version, size, nil
}

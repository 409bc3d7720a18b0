/* The schema migrations, written once for both engines: store-schema.c includes this list twice,
 * with the SQL_* words defined for SQLite and then for PostgreSQL (the differences are listed
 * there). steps[i] brings version i to version i+1. Append only; never edit a released step.
 * No include guard: it is meant to be included more than once. */
/* 0 -> 1 */
SQL_FIRST "CREATE TABLE admin_tokens("
          "  id " SQL_KEY ","
          "  name TEXT NOT NULL,"
          "  token_hash TEXT NOT NULL UNIQUE,"
          "  created TEXT NOT NULL,"
          "  last_used TEXT);"
          "CREATE TABLE sync_configs("
          "  app_id TEXT PRIMARY KEY,"
          "  name TEXT NOT NULL,"
          "  secret_hash TEXT NOT NULL UNIQUE,"
          "  settings TEXT NOT NULL DEFAULT '{}',"
          "  created TEXT NOT NULL,"
          "  modified TEXT NOT NULL,"
          "  secret_rotated TEXT);"
          /* userName is unique ignoring (ASCII) case: the column's NOCASE collation makes the
           * index, the uniqueness and every comparison in filters case-insensitive. */
          "CREATE TABLE users("
          "  seq " SQL_KEY ","
          "  id TEXT NOT NULL UNIQUE,"
          "  user_name " SQL_CI_TEXT " NOT NULL" SQL_NOCASE ","
          "  external_id TEXT,"
          "  provider TEXT NOT NULL,"
          "  active INTEGER NOT NULL,"
          "  data TEXT NOT NULL,"
          "  version " SQL_BIGINT " NOT NULL,"
          "  created TEXT NOT NULL,"
          "  modified TEXT NOT NULL);"
          "CREATE UNIQUE INDEX users_user_name ON users(user_name);"
          "CREATE INDEX users_external_id ON users(external_id);"
          "CREATE INDEX users_provider ON users(provider, external_id);"
          "CREATE TABLE runs("
          "  seq " SQL_KEY ","
          "  run_id TEXT NOT NULL UNIQUE,"
          "  app_id TEXT NOT NULL,"
          "  source TEXT NOT NULL,"
          "  dry_run INTEGER NOT NULL,"
          "  status TEXT NOT NULL,"
          "  stats TEXT NOT NULL DEFAULT '{}',"
          "  errors TEXT NOT NULL DEFAULT '[]',"
          "  error_count " SQL_BIGINT " NOT NULL DEFAULT 0,"
          "  created TEXT NOT NULL,"
          "  started TEXT,"
          "  finished TEXT,"
          "  updated TEXT NOT NULL,"
          "  agent_id TEXT);"
          "CREATE INDEX runs_app_id ON runs(app_id, seq);"
          "CREATE TABLE audit("
          "  seq " SQL_KEY ","
          "  at TEXT NOT NULL,"
          "  actor TEXT NOT NULL,"
          "  action TEXT NOT NULL,"
          "  target TEXT,"
          "  detail TEXT);",
    /* 1 -> 2: the web console's administrator accounts (store-sessions.h, store-admins.h). Times
     * of sessions are Unix seconds: they are compared with the idle and absolute limits. */
    "CREATE TABLE admin_accounts("
    "  id " SQL_KEY ","
    "  name " SQL_CI_TEXT " NOT NULL UNIQUE" SQL_NOCASE ","
    "  password_hash TEXT NOT NULL,"
    "  created TEXT NOT NULL,"
    "  password_changed TEXT NOT NULL,"
    "  last_sign_in TEXT);"
    "CREATE TABLE console_sessions("
    "  token_hash TEXT PRIMARY KEY,"
    "  account_id " SQL_BIGINT " NOT NULL,"
    "  created " SQL_BIGINT " NOT NULL,"
    "  last_seen " SQL_BIGINT " NOT NULL,"
    "  client TEXT);"
    "CREATE INDEX console_sessions_account ON console_sessions(account_id);",
    /* 2 -> 3: the provider index without external_id. Each commit rewrites every index page it
     * touches into the WAL; (provider, external_id) takes entries in random order (entryUUIDs),
     * so a Bulk of 1,000 creates touched ~1,000 of its pages. (provider) alone is ordered by
     * rowid, so new users append to its last page. Lookups by provider and externalId use
     * users_external_id, which is as selective. */
    ("DROP INDEX users_provider;"
     "CREATE INDEX users_provider ON users(provider);"),
    /* 3 -> 4: throttling counters (store-throttle.h) in the database, so that every instance
     * on one database counts the same failures and a restart forgets nothing. Unix seconds. */
    "CREATE TABLE throttle("
    "  key TEXT PRIMARY KEY,"
    "  count " SQL_BIGINT " NOT NULL,"
    "  first " SQL_BIGINT " NOT NULL,"
    "  last " SQL_BIGINT " NOT NULL);"
    "CREATE INDEX throttle_last ON throttle(last);",
    /* 4 -> 5: the full-sync schedule and live changes (docs/product.md section 9).
     * next_sync_at (Unix seconds, NULL = not computed yet) is claimed with a compare-and-set
     * (store-schedule.h), so that of several instances on one database exactly one queues a
     * due sync. run_trigger says why a run started; earlier runs get the trigger their source
     * implies. live_status holds what the agent last reported about live changes. */
    ("ALTER TABLE sync_configs ADD COLUMN sync_interval_minutes " SQL_BIGINT " NOT NULL DEFAULT 60;"
     "ALTER TABLE sync_configs ADD COLUMN next_sync_at " SQL_BIGINT ";"
     "ALTER TABLE runs ADD COLUMN run_trigger TEXT NOT NULL DEFAULT 'manual';"
     "UPDATE runs SET run_trigger = CASE source WHEN 'imp' THEN 'imp' WHEN 'agent' THEN "
     "'startup' ELSE 'manual' END;"
     "CREATE TABLE live_status("
     "  app_id TEXT PRIMARY KEY,"
     "  watch TEXT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  changes_applied " SQL_BIGINT " NOT NULL DEFAULT 0,"
     "  last_change TEXT,"
     "  last_change_at TEXT,"
     "  detail TEXT,"
     "  reported TEXT NOT NULL);"),
    /* 5 -> 6: groups (docs/product.md section 10). Members live in a table of their own, one
     * row per membership, keyed both ways: by group (the members of a group, a PATCH that adds
     * or removes one) and by member (the groups of a user, forgetting a deleted user), so a
     * change to a group of 100,000 members touches one row, never the whole group.
     * member_count is kept with every change so that a listing needs no count per group. */
    "CREATE TABLE groups("
    "  seq " SQL_KEY ","
    "  id TEXT NOT NULL UNIQUE,"
    "  display_name " SQL_CI_TEXT " NOT NULL" SQL_NOCASE ","
    "  external_id TEXT,"
    "  provider TEXT NOT NULL,"
    "  member_count " SQL_BIGINT " NOT NULL DEFAULT 0,"
    "  version " SQL_BIGINT " NOT NULL,"
    "  created TEXT NOT NULL,"
    "  modified TEXT NOT NULL);"
    "CREATE INDEX groups_display_name ON groups(display_name);"
    "CREATE INDEX groups_external_id ON groups(external_id);"
    "CREATE INDEX groups_provider ON groups(provider);"
    "CREATE TABLE group_members("
    "  group_id TEXT NOT NULL,"
    "  member_id TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  PRIMARY KEY(group_id, member_id))" SQL_WITHOUT_ROWID ";"
    "CREATE INDEX group_members_member ON group_members(member_id, group_id);",
    /* 6 -> 7: sign-in throttling of /api/v1/login (store-login-throttle.h, api/throttle.h):
     * locks that grow, a leaky bucket per account and familiar addresses need more than a
     * count per key. Unix seconds. */
    "CREATE TABLE login_throttle("
    "  key TEXT PRIMARY KEY,"
    "  failures " SQL_BIGINT " NOT NULL,"
    "  window_start " SQL_BIGINT " NOT NULL,"
    "  locked_until " SQL_BIGINT " NOT NULL,"
    "  lockouts " SQL_BIGINT " NOT NULL,"
    "  updated " SQL_BIGINT " NOT NULL);"
    "CREATE INDEX login_throttle_updated ON login_throttle(updated);",
    /* 7 -> 8: userName unique after Unicode case folding: the folded key of every name beyond
     * ASCII (store-users.c explains why not of every name). */
    "CREATE TABLE user_name_folds("
    "  key TEXT PRIMARY KEY,"
    "  id TEXT NOT NULL);"
    "CREATE INDEX user_name_folds_id ON user_name_folds(id);",
    /* 8 -> 9: several instances on one PostgreSQL database (api/cluster.h): which agent is
     * connected to which instance, and the commands queued for an agent wherever it is
     * connected. Unused by a single SQLite process, which keeps both in memory. */
    "CREATE TABLE agent_presence("
    "  agent_id TEXT PRIMARY KEY,"
    "  app_id TEXT NOT NULL,"
    "  instance TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  connected_since TEXT NOT NULL,"
    "  last_seen " SQL_BIGINT " NOT NULL);"
    "CREATE INDEX agent_presence_app ON agent_presence(app_id);"
    "CREATE TABLE agent_commands("
    "  id " SQL_KEY ","
    "  app_id TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  run_id TEXT,"
    "  dry_run INTEGER NOT NULL,"
    "  created " SQL_BIGINT " NOT NULL,"
    "  claimed_by TEXT,"
    "  claimed_at " SQL_BIGINT ");"
    "CREATE INDEX agent_commands_run ON agent_commands(run_id);",
    /* 9 -> 10: one queued or running run per configuration, enforced by the store for every
     * instance of the database (docs/product.md section 11; older duplicates left by earlier
     * versions fail first). Several instances (api/cluster.h, api/cluster-check.h): each
     * instance's public key for sealed password checks and its liveness (Unix seconds), and the
     * password checks handed from one instance to another (sealed to the target's key; the row
     * goes once answered; Unix milliseconds). */
    "UPDATE runs SET status = 'failed', finished = updated WHERE status IN ('queued', "
    "'running') AND seq NOT IN (SELECT max(seq) FROM runs WHERE status IN ('queued', "
    "'running') GROUP BY app_id);"
    "CREATE UNIQUE INDEX runs_one_active ON runs(app_id) WHERE status IN ('queued', "
    "'running');"
    "CREATE TABLE cluster_instances("
    "  instance TEXT PRIMARY KEY,"
    "  public_key TEXT NOT NULL,"
    "  started " SQL_BIGINT " NOT NULL,"
    "  seen " SQL_BIGINT " NOT NULL);"
    "CREATE TABLE login_checks("
    "  id TEXT PRIMARY KEY,"
    "  app_id TEXT NOT NULL,"
    "  user_name TEXT NOT NULL,"
    "  origin TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  sealed TEXT,"
    "  created " SQL_BIGINT " NOT NULL,"
    "  deadline " SQL_BIGINT " NOT NULL,"
    "  outcome TEXT,"
    "  reason TEXT,"
    "  retry INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX login_checks_target ON login_checks(target);",
    /* 10 -> 11: users' externalId index kept beside the table and filled in sorted batches
     * (store-users.h, "The externalId index"). externalIds come in random order (entryUUIDs,
     * objectGUIDs): the index on the column took each create of a Bulk onto a page of its own,
     * and each commit wrote all those pages into the WAL, the largest cost of a first import of
     * 1,000,000 users (docs/BENCHMARKS.md). Users above the mark are found by their seq. */
    ("CREATE TABLE user_external_ids("
     "  external_id TEXT NOT NULL,"
     "  seq " SQL_BIGINT " NOT NULL,"
     "  PRIMARY KEY(external_id, seq))" SQL_WITHOUT_ROWID ";"
     "CREATE TABLE index_marks("
     "  name TEXT PRIMARY KEY,"
     "  seq " SQL_BIGINT " NOT NULL);"
     "INSERT INTO user_external_ids(external_id, seq) SELECT external_id, seq FROM users "
     "WHERE external_id IS NOT NULL;"
     "INSERT INTO index_marks(name, seq) VALUES ('user_external_ids', "
     "(SELECT coalesce(max(seq), 0) FROM users));"
     "DROP INDEX users_external_id;"),

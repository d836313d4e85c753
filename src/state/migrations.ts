// The bot's own tables, in their own Postgres schema (default `scrypath_bot`). Migrations are
// applied in order, once, under an advisory lock, by `scrypath-bot migrate` (a migration role,
// before a rollout; two runs at once migrate once); the running bot only reads the version and
// refuses mutations while one is pending. Nothing but src/state writes these tables.
import type pg from "pg";
import { transaction } from "../backends/postgres.ts";

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

export function stateSchema(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`invalid state schema name ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** Each entry is one migration; never edit a released one, append a new one. */
const MIGRATIONS: ((s: string) => string)[] = [
  (s) => `
    CREATE TABLE ${s}.audit_log (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT now(),
      actor text NOT NULL,
      action text NOT NULL,
      schema_module text,
      index_uid text,
      target jsonb NOT NULL DEFAULT '{}',
      outcome text NOT NULL,
      reason text,
      details jsonb NOT NULL DEFAULT '{}',
      context jsonb NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_log_at_index ON ${s}.audit_log (at DESC);
    CREATE INDEX audit_log_schema_at_index ON ${s}.audit_log (schema_module, at DESC);

    CREATE TABLE ${s}.replay_links (
      id bigserial PRIMARY KEY,
      failed_job_id bigint NOT NULL,
      replay_job_id bigint NOT NULL,
      schema_module text NOT NULL,
      requested_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX replay_links_failed_job_index ON ${s}.replay_links (failed_job_id, created_at DESC);

    CREATE TABLE ${s}.settings_changes (
      id bigserial PRIMARY KEY,
      schema_module text NOT NULL,
      index_uid text NOT NULL,
      keys text[] NOT NULL,
      previous jsonb NOT NULL,
      applied jsonb NOT NULL,
      task_uid bigint,
      status text NOT NULL,
      requested_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      reverted_at timestamptz,
      reverted_by text,
      revert_task_uid bigint
    );`,
  // Confirmation requests for mutations started from Slack: single use, expiring.
  (s) => `
    CREATE TABLE ${s}.confirmations (
      id text PRIMARY KEY,
      kind text NOT NULL,
      schema_module text,
      request jsonb NOT NULL,
      requested_by text NOT NULL,
      team_id text,
      channel_id text NOT NULL,
      message_ts text,
      thread_ts text,
      status text NOT NULL DEFAULT 'pending',
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      decided_by text,
      decided_at timestamptz,
      result jsonb
    );
    CREATE INDEX confirmations_pending_index ON ${s}.confirmations (expires_at) WHERE status = 'pending';`,
  // Scheduled digest slots: one row per digest and slot, claimed by exactly one replica.
  (s) => `
    CREATE TABLE ${s}.digest_slots (
      id bigserial PRIMARY KEY,
      digest text NOT NULL,
      slot_key text NOT NULL,
      slot_at timestamptz NOT NULL,
      claimed_by text NOT NULL,
      claimed_at timestamptz NOT NULL,
      attempts integer NOT NULL DEFAULT 1,
      status text NOT NULL DEFAULT 'claimed'
        CHECK (status IN ('claimed', 'posted', 'skipped', 'failed')),
      late boolean NOT NULL DEFAULT false,
      content jsonb,
      content_hash text,
      channel text,
      message_ts text[] NOT NULL DEFAULT '{}',
      reason text,
      finished_at timestamptz,
      UNIQUE (digest, slot_key)
    );
    CREATE INDEX digest_slots_digest_at_index ON ${s}.digest_slots (digest, slot_at DESC);`,
  // Digest posts are written ahead: `posting` is the message whose chat.postMessage was sent but
  // whose ts is not stored yet (it may or may not be in Slack), since `posting_at`. A slot whose
  // parent may be out but cannot be confirmed is 'unconfirmed'; an old half-posted-or-not slot that
  // a later slot overtook before anything was posted is 'superseded'.
  (s) => `
    ALTER TABLE ${s}.digest_slots
      ADD COLUMN posting integer,
      ADD COLUMN posting_at timestamptz,
      DROP CONSTRAINT digest_slots_status_check,
      ADD CONSTRAINT digest_slots_status_check
        CHECK (status IN ('claimed', 'posted', 'skipped', 'failed', 'unconfirmed', 'superseded'));`,
  // Hot-applies whose answer was lost: the newest Meilisearch task uid before the PATCH, so its
  // task can be found afterwards, and the statuses a change can have (not_applied: the answer
  // was lost and the bot later established that the change had not been applied).
  (s) => `
    ALTER TABLE ${s}.settings_changes ADD COLUMN task_floor bigint;
    ALTER TABLE ${s}.settings_changes ADD CONSTRAINT settings_changes_status_check
      CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled', 'unconfirmed', 'not_applied'));`,
  // Replay links are keyed by the Oban prefix as well as the failed job's id: job ids are per
  // prefix, so two prefixes sharing one state schema must not see each other's replays. Existing
  // rows take the prefix whose oban_jobs holds their replay job (its meta names the failed job);
  // a row whose replay job is gone keeps Oban's default prefix, public.
  (s) => `
    ALTER TABLE ${s}.replay_links ADD COLUMN oban_prefix text NOT NULL DEFAULT 'public';
    DO $backfill$
    DECLARE prefix text;
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM ${s}.replay_links) THEN RETURN; END IF;
      FOR prefix IN
        SELECT table_schema FROM information_schema.tables
        WHERE table_name = 'oban_jobs' AND table_schema <> 'public' ORDER BY table_schema
      LOOP
        BEGIN
          EXECUTE format(
            'UPDATE %s.replay_links l SET oban_prefix = %L WHERE l.oban_prefix = ''public''
               AND EXISTS (SELECT 1 FROM %I.oban_jobs j WHERE j.id = l.replay_job_id
                 AND j.meta->''scrypath_bot''->>''replay_of'' = l.failed_job_id::text)',
            '${s}', prefix, prefix);
        EXCEPTION WHEN insufficient_privilege OR undefined_table THEN NULL;
        END;
      END LOOP;
    END
    $backfill$;
    DROP INDEX ${s}.replay_links_failed_job_index;
    CREATE INDEX replay_links_prefix_failed_job_index
      ON ${s}.replay_links (oban_prefix, failed_job_id, created_at DESC);`,
  // What following a replay established (src/operator/verify.ts): the verdict of the strongest
  // final observation any replica recorded, and when it was recorded. Null: nobody followed it to
  // the end (a CLI retry, or a bot that stopped), so only the replay job's Oban state is known.
  (s) => `
    ALTER TABLE ${s}.replay_links
      ADD COLUMN verification text
        CHECK (verification IN ('unknown', 'timed_out', 'failed', 'queue_only_completed', 'verified')),
      ADD COLUMN verification_at timestamptz;
    CREATE INDEX replay_links_prefix_replay_job_index ON ${s}.replay_links (oban_prefix, replay_job_id);`,
  // 8: alert subscriptions made from Slack (/scrypath watch); YAML ones live in the configuration.
  (s) => `
    CREATE TABLE ${s}.alert_subscriptions (
      id bigserial PRIMARY KEY,
      channel text NOT NULL,
      -- a module name, or '*' for every configured schema
      schema_module text NOT NULL,
      conditions text[] NOT NULL
        CHECK (conditions <@ ARRAY['failures', 'drift', 'unreadable', 'stuck'] AND cardinality(conditions) > 0),
      min_failures integer NOT NULL DEFAULT 1 CHECK (min_failures > 0),
      mention text,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      -- the last /scrypath watch that changed it (null: as created)
      updated_by text,
      updated_at timestamptz,
      UNIQUE (channel, schema_module)
    );`,
  // 9: live alerts. One check lease per schema (one replica reads each schema per interval) with
  // the last observation and the unreadable streak; one row per alert card, open until resolved,
  // at most one open per (channel, schema, condition).
  (s) => `
    CREATE TABLE ${s}.alert_checks (
      schema_module text PRIMARY KEY,
      claimed_by text,
      lease_until timestamptz,
      checked_at timestamptz,
      fingerprint text,
      observation jsonb,
      failed_checks integer NOT NULL DEFAULT 0,
      failing_since timestamptz
    );
    CREATE TABLE ${s}.alerts (
      id bigserial PRIMARY KEY,
      channel text NOT NULL,
      schema_module text NOT NULL,
      alias text,
      index_uid text,
      condition text NOT NULL CHECK (condition IN ('failures', 'drift', 'unreadable', 'stuck')),
      status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
      opened_at timestamptz NOT NULL,
      clearing_since timestamptz,
      resolved_at timestamptz,
      checked_at timestamptz NOT NULL,
      evidence jsonb NOT NULL,
      mention text,
      -- the recent count the next "doubled" timeline line compares with
      recent_baseline integer,
      acked_by text,
      acked_at timestamptz,
      snoozed_until timestamptz,
      snoozed_until_resolved boolean NOT NULL DEFAULT false,
      snoozed_by text,
      -- the card as it should read, and as Slack shows it (the last post or edit that succeeded)
      content_hash text NOT NULL,
      posted_hash text,
      message_ts text,
      -- write-ahead of the first post and of each edit: a crash between them and their record is repaired
      posting_at timestamptz,
      editing_hash text,
      editing_at timestamptz,
      -- timeline lines waiting for the rate limit, and what went out already
      timeline jsonb NOT NULL DEFAULT '[]',
      timeline_posted_at timestamptz,
      timeline_posts integer NOT NULL DEFAULT 0,
      -- bumped by every change of the decided fields: a check and a click never overwrite each other
      version integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX alerts_open_index ON ${s}.alerts (channel, schema_module, condition) WHERE status = 'open';
    CREATE INDEX alerts_unsynced_index ON ${s}.alerts (id) WHERE posted_hash IS DISTINCT FROM content_hash;
    CREATE INDEX alerts_timeline_index ON ${s}.alerts (id) WHERE timeline <> '[]'::jsonb;`,
];

export const STATE_VERSION = MIGRATIONS.length;

/** Where a state schema stands: the version it is at and the latest this release knows. */
export interface StateVersion {
  /** The highest migration applied (0: the schema or its migrations table does not exist). */
  current: number;
  latest: number;
}

/** What `migrateState` did: the versions before and after (equal when nothing was pending). */
export interface MigrationRun {
  from: number;
  to: number;
}

const migrated = new WeakMap<pg.Pool, Map<string, Promise<MigrationRun>>>();

/**
 * Create or upgrade the state schema (idempotent; safe from several processes at once), once per
 * pool: for tests and dev set-up. The migrate command calls `migrateState`; the bot never does.
 */
export function ensureState(db: pg.Pool, schemaName: string): Promise<MigrationRun> {
  const byName = migrated.get(db) ?? new Map<string, Promise<MigrationRun>>();
  migrated.set(db, byName);
  let done = byName.get(schemaName);
  if (!done) {
    done = migrateState(db, schemaName);
    done.catch(() => byName.delete(schemaName));
    byName.set(schemaName, done);
  }
  return done;
}

/** Apply every pending migration in one transaction, under the migration advisory lock. */
export async function migrateState(db: pg.Pool, schemaName: string): Promise<MigrationRun> {
  const s = stateSchema(schemaName);
  return transaction(db, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('scrypath_bot:migrate:' || $1))", [schemaName]);
    // A schema created ahead for the migration role (its owner) needs no CREATE on the database:
    // CREATE SCHEMA IF NOT EXISTS checks that privilege even when the schema exists.
    const { rows: found } = await client.query("SELECT to_regnamespace($1) IS NOT NULL AS exists", [s]);
    if (!found[0]?.exists) await client.query(`CREATE SCHEMA ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
      version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ v: number | null }>(
      `SELECT max(version) AS v FROM ${s}.schema_migrations`,
    );
    const current = rows[0]?.v ?? 0;
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      await client.query((MIGRATIONS[version - 1] as (s: string) => string)(s));
      await client.query(`INSERT INTO ${s}.schema_migrations (version) VALUES ($1)`, [version]);
    }
    return { from: current, to: Math.max(current, MIGRATIONS.length) };
  });
}

/** The version a state schema is at, read only (no DDL, no lock): 0 when it does not exist. */
export async function stateVersion(db: pg.Pool | pg.PoolClient, schemaName: string): Promise<StateVersion> {
  const { rows } = await db.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [
    `${stateSchema(schemaName)}.schema_migrations`,
  ]);
  if (rows[0]?.t == null) return { current: 0, latest: STATE_VERSION };
  const version = await db.query<{ v: number | null }>(
    `SELECT max(version) AS v FROM ${stateSchema(schemaName)}.schema_migrations`,
  );
  return { current: version.rows[0]?.v ?? 0, latest: STATE_VERSION };
}

/** Whether the state tables exist yet (the read side never creates them). */
export async function stateExists(db: pg.Pool | pg.PoolClient, schemaName: string): Promise<boolean> {
  const { rows } = await db.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [
    `${stateSchema(schemaName)}.replay_links`,
  ]);
  return rows[0]?.t != null;
}

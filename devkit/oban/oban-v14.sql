-- Oban's tables exactly as Oban's Postgres migrations V01..V14 leave them (Oban 2.21+), for tests and
-- the local demo. See spec meilisearch-and-oban §B1. `{{prefix}}` is replaced by a validated schema name
-- ([a-z_][a-z0-9_]*). Idempotent: safe to run again on a database that already has these objects.
-- Column order follows the order in which the migrations add the columns.

-- The whole file runs as one (implicit) transaction; the lock serializes concurrent runs for one prefix.
SELECT pg_advisory_xact_lock(hashtext('scrypath-bot/oban-schema/{{prefix}}'));

CREATE SCHEMA IF NOT EXISTS "{{prefix}}";

-- V01 creates the enum, V09 adds 'cancelled', V14 adds 'suspended' before 'scheduled'.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type
                 WHERE typname = 'oban_job_state'
                   AND typnamespace = '"{{prefix}}"'::regnamespace::oid) THEN
    CREATE TYPE "{{prefix}}".oban_job_state AS ENUM (
      'available',
      'suspended',
      'scheduled',
      'executing',
      'retryable',
      'completed',
      'discarded',
      'cancelled'
    );
  ELSIF NOT ('{suspended}' <@ enum_range(NULL::"{{prefix}}".oban_job_state)::text[]) THEN
    ALTER TYPE "{{prefix}}".oban_job_state ADD VALUE 'suspended' BEFORE 'scheduled';
  END IF;
END$$;

CREATE TABLE IF NOT EXISTS "{{prefix}}".oban_jobs (
  id bigserial PRIMARY KEY,                                                -- V01
  state "{{prefix}}".oban_job_state NOT NULL DEFAULT 'available',          -- V01
  queue text NOT NULL DEFAULT 'default',                                   -- V01
  worker text NOT NULL,                                                    -- V01
  args jsonb NOT NULL DEFAULT '{}'::jsonb,                                 -- V01, default since V10
  errors jsonb[] NOT NULL DEFAULT ARRAY[]::jsonb[],                        -- V01
  attempt integer NOT NULL DEFAULT 0,                                      -- V01
  max_attempts integer NOT NULL DEFAULT 20,                                -- V01
  inserted_at timestamp without time zone NOT NULL DEFAULT timezone('UTC', now()),  -- V01
  scheduled_at timestamp without time zone NOT NULL DEFAULT timezone('UTC', now()), -- V01
  attempted_at timestamp without time zone,                                -- V01
  completed_at timestamp without time zone,                                -- V01
  attempted_by text[],                                                     -- V03
  discarded_at timestamp without time zone,                                -- V08
  priority integer NOT NULL DEFAULT 0,                                     -- V08, NOT NULL since V10
  tags text[] DEFAULT ARRAY[]::text[],                                     -- V08
  meta jsonb DEFAULT '{}'::jsonb,                                          -- V09
  cancelled_at timestamp without time zone,                                -- V09
  CONSTRAINT worker_length CHECK (char_length(worker) > 0 AND char_length(worker) < 128),  -- V02
  CONSTRAINT queue_length CHECK (char_length(queue) > 0 AND char_length(queue) < 128),     -- V02
  CONSTRAINT positive_max_attempts CHECK (max_attempts > 0),                               -- V10
  CONSTRAINT attempt_range CHECK (attempt BETWEEN 0 AND max_attempts)                      -- V10
);

-- V12 replaces `priority_range` with `non_negative_priority`, added NOT VALID (as Oban does).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint
                 WHERE conname = 'non_negative_priority'
                   AND conrelid = '"{{prefix}}".oban_jobs'::regclass) THEN
    ALTER TABLE "{{prefix}}".oban_jobs
      ADD CONSTRAINT non_negative_priority CHECK (priority >= 0) NOT VALID;
  END IF;
END$$;

-- V08/V09: the fetch and stage index.
CREATE INDEX IF NOT EXISTS oban_jobs_state_queue_priority_scheduled_at_id_index
  ON "{{prefix}}".oban_jobs (state, queue, priority, scheduled_at, id);
-- V10: keep unique checks fast.
CREATE INDEX IF NOT EXISTS oban_jobs_args_index ON "{{prefix}}".oban_jobs USING gin (args);
CREATE INDEX IF NOT EXISTS oban_jobs_meta_index ON "{{prefix}}".oban_jobs USING gin (meta);
-- V13.
CREATE INDEX IF NOT EXISTS oban_jobs_state_cancelled_at_index ON "{{prefix}}".oban_jobs (state, cancelled_at);
CREATE INDEX IF NOT EXISTS oban_jobs_state_discarded_at_index ON "{{prefix}}".oban_jobs (state, discarded_at);

-- V11: leadership (UNLOGGED).
CREATE UNLOGGED TABLE IF NOT EXISTS "{{prefix}}".oban_peers (
  name text NOT NULL PRIMARY KEY,
  node text NOT NULL,
  started_at timestamp without time zone NOT NULL,
  expires_at timestamp without time zone NOT NULL
);

-- V12 dropped the `oban_notify` trigger and `oban_jobs_notify()`; nothing to create.

-- Oban records the migrated version as the table comment.
COMMENT ON TABLE "{{prefix}}".oban_jobs IS '14';

// Alert subscriptions made from Slack (`/scrypath watch`): one row per (channel, schema), the
// schema a module name or '*' for every configured schema. YAML subscriptions are not stored here
// (they live in the configuration, src/config.ts). The operator writes a change and its audit row in
// one transaction, under a lock on (channel, schema), so two watches at once leave one row.
import type { Queryable } from "../backends/postgres.ts";
import type { AlertCondition } from "../core/alertTypes.ts";
import { stateSchema } from "./migrations.ts";

/** The stored value for "every configured schema". */
export const ALL_SCHEMAS = "*";

export interface StoredSubscription {
  id: number;
  channel: string;
  /** A module name, or ALL_SCHEMAS. */
  schema: string;
  conditions: AlertCondition[];
  minFailures: number;
  mention: string | null;
  createdBy: string;
  createdAt: Date;
  updatedBy: string | null;
  updatedAt: Date | null;
}

export interface SubscriptionFields {
  channel: string;
  schema: string;
  conditions: AlertCondition[];
  minFailures: number;
  mention: string | null;
}

const COLUMNS = `id, channel, schema_module, conditions, min_failures, mention, created_by, created_at,
  updated_by, updated_at`;

function fromRow(r: Record<string, unknown>): StoredSubscription {
  return {
    id: Number(r.id),
    channel: String(r.channel),
    schema: String(r.schema_module),
    conditions: r.conditions as AlertCondition[],
    minFailures: Number(r.min_failures),
    mention: (r.mention as string | null) ?? null,
    createdBy: String(r.created_by),
    createdAt: r.created_at as Date,
    updatedBy: (r.updated_by as string | null) ?? null,
    updatedAt: (r.updated_at as Date | null) ?? null,
  };
}

/** Whether the table exists yet (migration 8 applied); the read side never creates it. */
export async function subscriptionsExist(db: Queryable, stateName: string): Promise<boolean> {
  const { rows } = await db.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [
    `${stateSchema(stateName)}.alert_subscriptions`,
  ]);
  return rows[0]?.t != null;
}

/** Stored subscriptions (of one channel, or all), by channel then schema ('*' first). */
export async function listSubscriptions(
  db: Queryable,
  stateName: string,
  channel: string | null = null,
): Promise<StoredSubscription[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM ${stateSchema(stateName)}.alert_subscriptions
     WHERE ($1::text IS NULL OR channel = $1)
     ORDER BY channel, schema_module, id`,
    [channel],
  );
  return rows.map(fromRow);
}

/** The channel's subscription to `schema`, locked until the transaction ends (FOR UPDATE). */
export async function findSubscription(
  db: Queryable,
  stateName: string,
  channel: string,
  schema: string,
): Promise<StoredSubscription | null> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM ${stateSchema(stateName)}.alert_subscriptions
     WHERE channel = $1 AND schema_module = $2 FOR UPDATE`,
    [channel, schema],
  );
  return rows[0] ? fromRow(rows[0]) : null;
}

/**
 * Creates the channel's subscription to the schema, or replaces its conditions, threshold and
 * mention (recording who changed it). One statement: two at once leave one row, the later one's.
 */
export async function upsertSubscription(
  db: Queryable,
  stateName: string,
  fields: SubscriptionFields,
  by: string,
): Promise<StoredSubscription> {
  const { rows } = await db.query(
    `INSERT INTO ${stateSchema(stateName)}.alert_subscriptions
       (channel, schema_module, conditions, min_failures, mention, created_by)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (channel, schema_module) DO UPDATE
       SET conditions = EXCLUDED.conditions, min_failures = EXCLUDED.min_failures,
           mention = EXCLUDED.mention, updated_by = EXCLUDED.created_by, updated_at = now()
     RETURNING ${COLUMNS}`,
    [fields.channel, fields.schema, fields.conditions, fields.minFailures, fields.mention, by],
  );
  return fromRow(rows[0] as Record<string, unknown>);
}

/** Removes the channel's subscription to the schema; the removed row, or null when there was none. */
export async function deleteSubscription(
  db: Queryable,
  stateName: string,
  channel: string,
  schema: string,
): Promise<StoredSubscription | null> {
  const { rows } = await db.query(
    `DELETE FROM ${stateSchema(stateName)}.alert_subscriptions
     WHERE channel = $1 AND schema_module = $2 RETURNING ${COLUMNS}`,
    [channel, schema],
  );
  return rows[0] ? fromRow(rows[0]) : null;
}

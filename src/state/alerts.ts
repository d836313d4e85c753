// Live alerts' tables (migration 9): `alert_checks`, one row per schema with its check lease, the
// last observation and the unreadable streak; `alerts`, one row per card.
//
// - The check lease is one conditional statement (INSERT … ON CONFLICT DO UPDATE … WHERE the lease
//   ran out … RETURNING): one replica reads a schema per interval, however many run. What it stores
//   afterwards is fenced on its claim.
// - An alert is opened with INSERT … ON CONFLICT DO NOTHING on the unique open index: one card per
//   (channel, schema, condition) across replicas. Its decided fields change only through
//   `updateAlert`, guarded on `version` (a check and a click never overwrite each other).
// - The first post is written ahead (`posting_at`, a lease): a row with `posting_at` and no ts may
//   have a card in Slack that nobody recorded; after the lease another replica takes it over and
//   looks for it by its metadata first. Each edit is claimed (`editing_hash`, `editing_at`) and
//   recorded as `posted_hash`: one edit per change, and a row whose posted_hash differs from its
//   content_hash is repaired by the next check. Times come from the caller's clock.
import type { Queryable } from "../backends/postgres.ts";
import type { AlertState } from "../core/alerts.ts";
import type { AlertCondition, AlertEvidence, SchemaObservation, TimelineEvent } from "../core/alertTypes.ts";
import { stateSchema } from "./migrations.ts";

/** An alert row: what the decisions see, and where its card stands in Slack. */
export interface AlertRow extends AlertState {
  contentHash: string;
  /** The content Slack shows (the last post or edit recorded); null before the first post. */
  postedHash: string | null;
  messageTs: string | null;
  /** The first post was sent then (it may be in Slack) and its ts is not recorded yet. */
  postingAt: Date | null;
  editingHash: string | null;
  editingAt: Date | null;
  version: number;
}

/** A schema's check row as its lease holder reads it. */
export interface CheckRow {
  schema: string;
  claimedBy: string | null;
  leaseUntil: Date | null;
  checkedAt: Date | null;
  fingerprint: string | null;
  observation: SchemaObservation | null;
  failedChecks: number;
  failingSince: Date | null;
}

const iso = (v: unknown): string | null =>
  v instanceof Date ? v.toISOString() : v == null ? null : String(v);

function toAlert(r: Record<string, unknown>): AlertRow {
  return {
    id: Number(r.id),
    channel: r.channel as string,
    schema: r.schema_module as string,
    alias: (r.alias as string | null) ?? null,
    index: (r.index_uid as string | null) ?? null,
    condition: r.condition as AlertCondition,
    status: r.status as "open" | "resolved",
    openedAt: iso(r.opened_at) as string,
    clearingSince: iso(r.clearing_since),
    resolvedAt: iso(r.resolved_at),
    checkedAt: iso(r.checked_at) as string,
    evidence: r.evidence as AlertEvidence,
    mention: (r.mention as string | null) ?? null,
    acknowledgedBy: (r.acked_by as string | null) ?? null,
    acknowledgedAt: iso(r.acked_at),
    snoozedUntil: iso(r.snoozed_until),
    snoozedUntilResolved: r.snoozed_until_resolved === true,
    snoozedBy: (r.snoozed_by as string | null) ?? null,
    recentBaseline: (r.recent_baseline as number | null) ?? null,
    timeline: (r.timeline as TimelineEvent[] | null) ?? [],
    timelinePostedAt: iso(r.timeline_posted_at),
    timelinePosts: Number(r.timeline_posts ?? 0),
    contentHash: r.content_hash as string,
    postedHash: (r.posted_hash as string | null) ?? null,
    messageTs: (r.message_ts as string | null) ?? null,
    postingAt: (r.posting_at as Date | null) ?? null,
    editingHash: (r.editing_hash as string | null) ?? null,
    editingAt: (r.editing_at as Date | null) ?? null,
    version: Number(r.version ?? 0),
  };
}

function toCheck(r: Record<string, unknown>): CheckRow {
  return {
    schema: r.schema_module as string,
    claimedBy: (r.claimed_by as string | null) ?? null,
    leaseUntil: (r.lease_until as Date | null) ?? null,
    checkedAt: (r.checked_at as Date | null) ?? null,
    fingerprint: (r.fingerprint as string | null) ?? null,
    observation: (r.observation as SchemaObservation | null) ?? null,
    failedChecks: Number(r.failed_checks ?? 0),
    failingSince: (r.failing_since as Date | null) ?? null,
  };
}

const alerts = (stateName: string) => `${stateSchema(stateName)}.alerts`;
const checks = (stateName: string) => `${stateSchema(stateName)}.alert_checks`;

/**
 * Takes a schema's check lease until `leaseUntil` when nobody holds it (or it ran out). Exactly one
 * of any number of concurrent callers gets the row (with the last observation); null otherwise.
 */
export async function claimCheck(
  db: Queryable,
  stateName: string,
  input: { schema: string; claimedBy: string; at: Date; leaseUntil: Date },
): Promise<CheckRow | null> {
  const { rows } = await db.query(
    `INSERT INTO ${checks(stateName)} AS c (schema_module, claimed_by, lease_until)
     VALUES ($1, $2, $3)
     ON CONFLICT (schema_module) DO UPDATE SET claimed_by = $2, lease_until = $3
       WHERE c.lease_until IS NULL OR c.lease_until <= $4
     RETURNING *`,
    [input.schema, input.claimedBy, input.leaseUntil, input.at],
  );
  return rows[0] ? toCheck(rows[0]) : null;
}

/**
 * Stores a check (fenced on the claim). An unchanged fingerprint (`observation` null) keeps the
 * stored observation and only moves the time and the streak. False: the lease was taken over.
 */
export async function recordCheck(
  db: Queryable,
  stateName: string,
  input: {
    schema: string;
    claimedBy: string;
    checkedAt: Date;
    observation: SchemaObservation | null;
    failedChecks: number;
    failingSince: Date | null;
  },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE ${checks(stateName)} SET checked_at = $3, failed_checks = $4, failing_since = $5,
       fingerprint = CASE WHEN $6::jsonb IS NULL THEN fingerprint ELSE $7 END,
       observation = COALESCE($6::jsonb, observation)
     WHERE schema_module = $1 AND claimed_by = $2`,
    [
      input.schema,
      input.claimedBy,
      input.checkedAt,
      input.failedChecks,
      input.failingSince,
      input.observation ? JSON.stringify(input.observation) : null,
      input.observation?.fingerprint ?? null,
    ],
  );
  return (rowCount ?? 0) > 0;
}

/** Hands back the check leases `claimedBy` holds (a replica stopping): the next tick of another takes them. */
export async function releaseChecks(
  db: Queryable,
  stateName: string,
  input: { claimedBy: string },
): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE ${checks(stateName)} SET lease_until = NULL WHERE claimed_by = $1 AND lease_until IS NOT NULL`,
    [input.claimedBy],
  );
  return rowCount ?? 0;
}

export async function getAlert(db: Queryable, stateName: string, id: number): Promise<AlertRow | null> {
  const { rows } = await db.query(`SELECT * FROM ${alerts(stateName)} WHERE id = $1`, [id]);
  return rows[0] ? toAlert(rows[0]) : null;
}

/** The open alerts of a schema (every channel and condition). */
export async function openAlerts(db: Queryable, stateName: string, schema: string): Promise<AlertRow[]> {
  const { rows } = await db.query(
    `SELECT * FROM ${alerts(stateName)} WHERE schema_module = $1 AND status = 'open' ORDER BY id`,
    [schema],
  );
  return rows.map(toAlert);
}

/** The schemas with an open alert (they are checked while any subscription exists, watched or not). */
export async function openAlertSchemas(db: Queryable, stateName: string): Promise<string[]> {
  const { rows } = await db.query<{ schema_module: string }>(
    `SELECT DISTINCT schema_module FROM ${alerts(stateName)} WHERE status = 'open' ORDER BY schema_module`,
  );
  return rows.map((r) => r.schema_module);
}

/** Alerts with Slack work left: no card yet, a card behind its content, or timeline lines queued. */
export async function unsyncedAlerts(
  db: Queryable,
  stateName: string,
  input: { limit: number },
): Promise<AlertRow[]> {
  const { rows } = await db.query(
    `SELECT * FROM ${alerts(stateName)}
     WHERE posted_hash IS DISTINCT FROM content_hash OR timeline <> '[]'::jsonb
     ORDER BY id LIMIT $1`,
    [input.limit],
  );
  return rows.map(toAlert);
}

/** Opens an alert; null when one is open already for the (channel, schema, condition). */
export async function insertAlert(
  db: Queryable,
  stateName: string,
  input: {
    channel: string;
    schema: string;
    alias: string | null;
    index: string | null;
    condition: AlertCondition;
    openedAt: Date;
    evidence: AlertEvidence;
    mention: string | null;
    recentBaseline: number | null;
    /** The hash of the card as it will read. */
    contentHash: string;
  },
): Promise<AlertRow | null> {
  const { rows } = await db.query(
    `INSERT INTO ${alerts(stateName)}
       (channel, schema_module, alias, index_uid, condition, opened_at, checked_at, evidence, mention,
        recent_baseline, content_hash)
     VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10)
     ON CONFLICT (channel, schema_module, condition) WHERE status = 'open' DO NOTHING
     RETURNING *`,
    [
      input.channel,
      input.schema,
      input.alias,
      input.index,
      input.condition,
      input.openedAt,
      JSON.stringify(input.evidence),
      input.mention,
      input.recentBaseline,
      input.contentHash,
    ],
  );
  return rows[0] ? toAlert(rows[0]) : null;
}

/** The decided fields `updateAlert` writes (the rest of the row is Slack bookkeeping). */
export type AlertFields = Pick<
  AlertState,
  | "status"
  | "clearingSince"
  | "resolvedAt"
  | "checkedAt"
  | "evidence"
  | "acknowledgedBy"
  | "acknowledgedAt"
  | "snoozedUntil"
  | "snoozedUntilResolved"
  | "snoozedBy"
  | "recentBaseline"
  | "timeline"
>;

/** Writes the decided fields if the row is still at `version`; null when it moved on (read again). */
export async function updateAlert(
  db: Queryable,
  stateName: string,
  input: { id: number; version: number; fields: AlertFields; contentHash: string },
): Promise<AlertRow | null> {
  const f = input.fields;
  const { rows } = await db.query(
    `UPDATE ${alerts(stateName)} SET
       status = $3, clearing_since = $4, resolved_at = $5, checked_at = $6, evidence = $7,
       acked_by = $8, acked_at = $9, snoozed_until = $10, snoozed_until_resolved = $11, snoozed_by = $12,
       recent_baseline = $13, timeline = $14, content_hash = $15, version = version + 1
     WHERE id = $1 AND version = $2
     RETURNING *`,
    [
      input.id,
      input.version,
      f.status,
      f.clearingSince,
      f.resolvedAt,
      f.checkedAt,
      JSON.stringify(f.evidence),
      f.acknowledgedBy,
      f.acknowledgedAt,
      f.snoozedUntil,
      f.snoozedUntilResolved,
      f.snoozedBy,
      f.recentBaseline,
      JSON.stringify(f.timeline),
      input.contentHash,
    ],
  );
  return rows[0] ? toAlert(rows[0]) : null;
}

/**
 * Claims the first post of a card: written ahead at `at`. Taken when nothing was written ahead, or
 * what was is older than `staleBefore` (its replica died or lost the answer): `previousPostingAt`
 * then says since when to look for that post in Slack. Null: posted already, or another replica
 * is posting it.
 */
export async function claimPost(
  db: Queryable,
  stateName: string,
  input: { id: number; at: Date; staleBefore: Date },
): Promise<{ row: AlertRow; previousPostingAt: Date | null } | null> {
  const t = alerts(stateName);
  const { rows } = await db.query(
    `WITH old AS (SELECT id, posting_at FROM ${t} WHERE id = $1 FOR UPDATE)
     UPDATE ${t} a SET posting_at = $2
     FROM old
     WHERE a.id = old.id AND a.message_ts IS NULL AND (a.posting_at IS NULL OR a.posting_at <= $3)
     RETURNING a.*, old.posting_at AS previous_posting_at`,
    [input.id, input.at, input.staleBefore],
  );
  const r = rows[0];
  return r ? { row: toAlert(r), previousPostingAt: (r.previous_posting_at as Date | null) ?? null } : null;
}

/** Records the card's ts (fenced on the post's claim). False: another replica took the post over. */
export async function recordPost(
  db: Queryable,
  stateName: string,
  /** postedHash null: a card found in Slack, whose content is not known (the next edit settles it). */
  input: { id: number; postingAt: Date; ts: string; postedHash: string | null },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE ${alerts(stateName)} SET message_ts = $3, posted_hash = $4, posting_at = NULL
     WHERE id = $1 AND message_ts IS NULL AND posting_at = $2`,
    [input.id, input.postingAt, input.ts, input.postedHash],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Hands a post's claim back: `to` null when the post certainly did not happen (the next check posts
 * at once), or the earlier write-ahead time when a lost post could not be looked for (the next
 * look starts there again).
 */
export async function releasePost(
  db: Queryable,
  stateName: string,
  input: { id: number; postingAt: Date; to: Date | null },
): Promise<void> {
  await db.query(
    `UPDATE ${alerts(stateName)} SET posting_at = $3 WHERE id = $1 AND message_ts IS NULL AND posting_at = $2`,
    [input.id, input.postingAt, input.to],
  );
}

/**
 * Claims the edit of a card to content `hash` (its current content): one edit in flight per card,
 * an abandoned one (older than `staleBefore`) taken over. Null: up to date, or someone is editing.
 */
export async function claimEdit(
  db: Queryable,
  stateName: string,
  input: { id: number; hash: string; at: Date; staleBefore: Date },
): Promise<AlertRow | null> {
  const { rows } = await db.query(
    `UPDATE ${alerts(stateName)} SET editing_hash = $2, editing_at = $3
     WHERE id = $1 AND content_hash = $2 AND message_ts IS NOT NULL
       AND posted_hash IS DISTINCT FROM $2
       AND (editing_at IS NULL OR editing_at <= $4)
     RETURNING *`,
    [input.id, input.hash, input.at, input.staleBefore],
  );
  return rows[0] ? toAlert(rows[0]) : null;
}

/** Records an edit that Slack took (fenced on its claim), or hands the claim back (`posted` false). */
export async function finishEdit(
  db: Queryable,
  stateName: string,
  input: { id: number; hash: string; editingAt: Date; posted: boolean },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE ${alerts(stateName)} SET
       posted_hash = CASE WHEN $4 THEN $2 ELSE posted_hash END, editing_hash = NULL, editing_at = NULL
     WHERE id = $1 AND editing_hash = $2 AND editing_at = $3`,
    [input.id, input.hash, input.editingAt, input.posted],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Takes the queued timeline lines for one thread message, if the row is still at `version` (the
 * lines taken are exactly those the caller read); counts the message and when it went out.
 */
export async function takeTimeline(
  db: Queryable,
  stateName: string,
  input: { id: number; version: number; at: Date },
): Promise<AlertRow | null> {
  const { rows } = await db.query(
    `UPDATE ${alerts(stateName)} SET timeline = '[]'::jsonb, timeline_posted_at = $3,
       timeline_posts = timeline_posts + 1, version = version + 1
     WHERE id = $1 AND version = $2 AND message_ts IS NOT NULL AND timeline <> '[]'::jsonb
     RETURNING *`,
    [input.id, input.version, input.at],
  );
  return rows[0] ? toAlert(rows[0]) : null;
}

/** Puts lines back whose message Slack certainly did not post (they go out with the next one). */
export async function restoreTimeline(
  db: Queryable,
  stateName: string,
  input: { id: number; events: TimelineEvent[]; postedAt: Date | null },
): Promise<void> {
  await db.query(
    `UPDATE ${alerts(stateName)} SET timeline = $2::jsonb || timeline, timeline_posted_at = $3,
       timeline_posts = greatest(timeline_posts - 1, 0), version = version + 1
     WHERE id = $1`,
    [input.id, JSON.stringify(input.events), input.postedAt],
  );
}

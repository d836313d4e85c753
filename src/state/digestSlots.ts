// Digest slots: one row per scheduled digest and slot. Claiming is one conditional statement
// (INSERT … ON CONFLICT DO NOTHING, or an UPDATE guarded on a failed or abandoned claim), so
// exactly one replica works a slot. Every later write is fenced on the claimant, and each posted
// message ts is recorded as soon as Slack returns it, so a retry resumes instead of re-posting.
// Each post is also written ahead (`posting`): a row whose `posting` is set may have a message in
// Slack that it has no ts for (the claimant died between the post and the record); a takeover looks
// it up in Slack before posting it again.
// Times come from the caller's clock, so tests can move through slots without waiting.
import type { Queryable } from "../backends/postgres.ts";
import { stateSchema } from "./migrations.ts";

export type SlotStatus = "claimed" | "posted" | "skipped" | "failed" | "unconfirmed" | "superseded";

export interface DigestSlot {
  id: number;
  digest: string;
  /** Local wall time and zone, e.g. `2026-11-20T09:00 Europe/Berlin`. */
  slotKey: string;
  slotAt: Date;
  claimedBy: string;
  /** When the claim was taken or last showed progress (a heartbeat). */
  claimedAt: Date;
  attempts: number;
  status: SlotStatus;
  /** Posted on catch-up, well after its slot. */
  late: boolean;
  /** The digest snapshot (JSON) the slot was decided on; what "changed since" compares with. */
  content: unknown;
  contentHash: string | null;
  channel: string | null;
  /** ts of every message posted for the slot, in order: the parent first, then thread replies. */
  messageTs: string[];
  /**
   * Index of the message (0 = the parent) whose post was sent but whose ts is not recorded: it
   * may or may not be in Slack. Null when every post sent so far is recorded.
   */
  posting: number | null;
  /** When that post was sent (by the claimant's clock): where to start looking for it in Slack. */
  postingAt: Date | null;
  /** Why it was skipped, failed, left unconfirmed or superseded. */
  reason: string | null;
  finishedAt: Date | null;
}

/** Who holds a slot: every write after the claim is conditional on it. */
export interface SlotClaim {
  digest: string;
  slotKey: string;
  claimedBy: string;
}

function toSlot(r: Record<string, unknown>): DigestSlot {
  return {
    id: Number(r.id),
    digest: r.digest as string,
    slotKey: r.slot_key as string,
    slotAt: r.slot_at as Date,
    claimedBy: r.claimed_by as string,
    claimedAt: r.claimed_at as Date,
    attempts: r.attempts as number,
    status: r.status as SlotStatus,
    late: r.late as boolean,
    content: r.content ?? null,
    contentHash: (r.content_hash as string | null) ?? null,
    channel: (r.channel as string | null) ?? null,
    messageTs: (r.message_ts as string[] | null) ?? [],
    posting: (r.posting as number | null) ?? null,
    postingAt: (r.posting_at as Date | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    finishedAt: (r.finished_at as Date | null) ?? null,
  };
}

const table = (stateName: string) => `${stateSchema(stateName)}.digest_slots`;

/** Reads before the first digest ran (no schema or table yet) find nothing instead of failing. */
async function readOrNull<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "42P01" || code === "3F000") return null;
    throw error;
  }
}

/** Claims a slot that has no row yet. Exactly one of any number of concurrent callers gets the row. */
export async function claimSlot(
  db: Queryable,
  stateName: string,
  input: { digest: string; slotKey: string; slotAt: Date; claimedBy: string; at: Date; late: boolean },
): Promise<DigestSlot | null> {
  const { rows } = await db.query(
    `INSERT INTO ${table(stateName)} (digest, slot_key, slot_at, claimed_by, claimed_at, late)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (digest, slot_key) DO NOTHING
     RETURNING *`,
    [input.digest, input.slotKey, input.slotAt, input.claimedBy, input.at, input.late],
  );
  return rows[0] ? toSlot(rows[0]) : null;
}

/**
 * Hands back every slot `claimedBy` still holds (a replica stopping before its posts finished): each
 * becomes `failed` with `reason`, so another replica takes it over at its next tick instead of
 * waiting for the lease to expire, and resumes from the posts recorded or written ahead. The
 * stopping replica's own fenced writes fail from then on, so it posts nothing more. Returns the
 * released slot keys.
 */
export async function releaseClaims(
  db: Queryable,
  stateName: string,
  input: { claimedBy: string; reason: string; at: Date },
): Promise<string[]> {
  const { rows } = await db.query<{ slot_key: string }>(
    `UPDATE ${table(stateName)} SET status = 'failed', reason = $2, finished_at = $3
     WHERE claimed_by = $1 AND status = 'claimed'
     RETURNING slot_key`,
    [input.claimedBy, input.reason, input.at],
  );
  return rows.map((r) => r.slot_key);
}

/**
 * Takes over a slot whose last attempt failed, or whose claimant showed no progress since
 * `staleBefore` (it crashed), while it has had fewer than `maxAttempts` attempts. Posted ts and
 * content are kept, so the new claimant resumes where the last one stopped.
 */
export async function reclaimSlot(
  db: Queryable,
  stateName: string,
  input: {
    digest: string;
    slotKey: string;
    claimedBy: string;
    at: Date;
    staleBefore: Date;
    maxAttempts: number;
    late: boolean;
  },
): Promise<DigestSlot | null> {
  const { rows } = await db.query(
    `UPDATE ${table(stateName)}
     SET claimed_by = $3, claimed_at = $4, attempts = attempts + 1, status = 'claimed',
         late = late OR $7, reason = NULL
     WHERE digest = $1 AND slot_key = $2 AND attempts < $6
       AND (status = 'failed' OR (status = 'claimed' AND claimed_at < $5))
     RETURNING *`,
    [
      input.digest,
      input.slotKey,
      input.claimedBy,
      input.at,
      input.staleBefore,
      input.maxAttempts,
      input.late,
    ],
  );
  return rows[0] ? toSlot(rows[0]) : null;
}

/** Fenced write: false when the claim was lost (another replica took the slot over). */
async function updateClaimed(
  db: Queryable,
  stateName: string,
  claim: SlotClaim,
  set: string,
  values: unknown[],
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE ${table(stateName)} SET ${set}
     WHERE digest = $1 AND slot_key = $2 AND claimed_by = $3 AND status = 'claimed'`,
    [claim.digest, claim.slotKey, claim.claimedBy, ...values],
  );
  return (rowCount ?? 0) > 0;
}

/** The snapshot the slot is decided on (also a heartbeat). */
export function recordContent(
  db: Queryable,
  stateName: string,
  claim: SlotClaim,
  input: { content: unknown; contentHash: string; at: Date },
): Promise<boolean> {
  return updateClaimed(db, stateName, claim, "content = $4, content_hash = $5, claimed_at = $6", [
    JSON.stringify(input.content),
    input.contentHash,
    input.at,
  ]);
}

/**
 * Written ahead of each chat.postMessage (also a heartbeat): message `index` is being sent to
 * `channel`. Until recordPosted stores its ts, a takeover must look for it in Slack first.
 */
export function recordIntent(
  db: Queryable,
  stateName: string,
  claim: SlotClaim,
  input: { channel: string; index: number; at: Date },
): Promise<boolean> {
  return updateClaimed(db, stateName, claim, "channel = $4, posting = $5, posting_at = $6, claimed_at = $6", [
    input.channel,
    input.index,
    input.at,
  ]);
}

/**
 * Every ts posted so far (also a heartbeat); `complete` marks the slot posted. Call it after each
 * message, as soon as Slack returned its ts (or refused the post): it clears the write-ahead mark.
 */
export function recordPosted(
  db: Queryable,
  stateName: string,
  claim: SlotClaim,
  input: { channel: string; ts: string[]; complete: boolean; at: Date },
): Promise<boolean> {
  return updateClaimed(
    db,
    stateName,
    claim,
    `channel = $4, message_ts = $5, claimed_at = $7, posting = NULL, posting_at = NULL,
     status = CASE WHEN $6 THEN 'posted' ELSE status END,
     finished_at = CASE WHEN $6 THEN $7 ELSE finished_at END`,
    [input.channel, input.ts, input.complete, input.at],
  );
}

/** Decided not to post; the snapshot stays, so the next digest compares with it. */
export function recordSkipped(
  db: Queryable,
  stateName: string,
  claim: SlotClaim,
  input: { content: unknown; contentHash: string; reason: string; at: Date },
): Promise<boolean> {
  return updateClaimed(
    db,
    stateName,
    claim,
    "status = 'skipped', content = $4, content_hash = $5, reason = $6, finished_at = $7",
    [JSON.stringify(input.content), input.contentHash, input.reason, input.at],
  );
}

/** The attempt failed; what was posted stays recorded for the next attempt to resume after. */
export function recordFailed(
  db: Queryable,
  stateName: string,
  claim: SlotClaim,
  input: { reason: string; at: Date },
): Promise<boolean> {
  return updateClaimed(db, stateName, claim, "status = 'failed', reason = $4, finished_at = $5", [
    input.reason,
    input.at,
  ]);
}

/**
 * The claimant cannot tell whether a message it may have posted is in Slack (history unreadable):
 * the slot is closed without posting it again, with the reason, for a person to check.
 */
export function recordUnconfirmed(
  db: Queryable,
  stateName: string,
  claim: SlotClaim,
  input: { reason: string; at: Date },
): Promise<boolean> {
  return updateClaimed(db, stateName, claim, "status = 'unconfirmed', reason = $4, finished_at = $5", [
    input.reason,
    input.at,
  ]);
}

/** An older slot that a later one overtook before anything of it reached Slack: it is not posted late. */
export function recordSuperseded(
  db: Queryable,
  stateName: string,
  claim: SlotClaim,
  input: { reason: string; at: Date },
): Promise<boolean> {
  return updateClaimed(
    db,
    stateName,
    claim,
    "status = 'superseded', reason = $4, finished_at = $5, posting = NULL, posting_at = NULL",
    [input.reason, input.at],
  );
}

/**
 * Slots of a digest before `before` (and not before `since`) that an attempt left half-done: it
 * failed or was abandoned (no progress since `staleBefore`) after something may have reached Slack
 * (a recorded ts or a post written ahead), with attempts left. Oldest first. A short schedule moves
 * on to the next slot before such a slot would be taken over; these are finished first.
 */
export async function unfinishedSlots(
  db: Queryable,
  stateName: string,
  input: { digest: string; before: Date; since: Date; staleBefore: Date; maxAttempts: number },
): Promise<DigestSlot[]> {
  return (
    (await readOrNull(async () => {
      const { rows } = await db.query(
        `SELECT * FROM ${table(stateName)}
         WHERE digest = $1 AND slot_at < $2 AND slot_at >= $3 AND attempts < $5
           AND (status = 'failed' OR (status = 'claimed' AND claimed_at < $4))
           AND (cardinality(message_ts) > 0 OR posting IS NOT NULL)
         ORDER BY slot_at`,
        [input.digest, input.before, input.since, input.staleBefore, input.maxAttempts],
      );
      return rows.map(toSlot);
    })) ?? []
  );
}

/** One slot by its key. */
export async function findSlot(
  db: Queryable,
  stateName: string,
  digest: string,
  slotKey: string,
): Promise<DigestSlot | null> {
  return readOrNull(async () => {
    const { rows } = await db.query(`SELECT * FROM ${table(stateName)} WHERE digest = $1 AND slot_key = $2`, [
      digest,
      slotKey,
    ]);
    return rows[0] ? toSlot(rows[0]) : null;
  });
}

/**
 * The newest posted or skipped slot of a digest (before `before` when given), with its snapshot:
 * what "changed since the previous digest" compares with.
 */
export async function previousSlot(
  db: Queryable,
  stateName: string,
  digest: string,
  before?: Date,
): Promise<DigestSlot | null> {
  return readOrNull(async () => {
    const { rows } = await db.query(
      `SELECT * FROM ${table(stateName)}
       WHERE digest = $1 AND status IN ('posted', 'skipped') AND ($2::timestamptz IS NULL OR slot_at < $2)
       ORDER BY slot_at DESC LIMIT 1`,
      [digest, before ?? null],
    );
    return rows[0] ? toSlot(rows[0]) : null;
  });
}

/** Every column but the snapshot, for listings. */
const WITHOUT_CONTENT =
  "id, digest, slot_key, slot_at, claimed_by, claimed_at, attempts, status, late, content_hash, channel, message_ts, posting, posting_at, reason, finished_at";

/** The newest slot of a digest, whatever its status, without its snapshot (for `/scrypath digest list`). */
export async function lastSlot(db: Queryable, stateName: string, digest: string): Promise<DigestSlot | null> {
  return readOrNull(async () => {
    const { rows } = await db.query(
      `SELECT ${WITHOUT_CONTENT} FROM ${table(stateName)} WHERE digest = $1 ORDER BY slot_at DESC LIMIT 1`,
      [digest],
    );
    return rows[0] ? toSlot(rows[0]) : null;
  });
}

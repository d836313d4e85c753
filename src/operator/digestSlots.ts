// Digest slot claims for the digest runner (src/digest): the bot's digest_slots table
// (src/state/digestSlots.ts) bound to the operator's pool and state schema, so the runner claims,
// records and reads its slots through the operator and never holds the pool itself.
import {
  claimSlot,
  lastSlot,
  previousSlot,
  reclaimSlot,
  recordContent,
  recordFailed,
  recordIntent,
  recordPosted,
  recordSkipped,
  recordSuperseded,
  recordUnconfirmed,
  releaseClaims,
  unfinishedSlots,
} from "../state/digestSlots.ts";
import type { OperatorContext } from "./context.ts";
import { requireMigrated } from "./migrations.ts";

export type { DigestSlot, SlotClaim } from "../state/digestSlots.ts";

/** A state function without its first two arguments (the pool and the state schema). */
type Bound<F> = F extends (db: never, stateName: string, ...args: infer A) => infer R
  ? (...args: A) => R
  : never;

export interface DigestSlots {
  /** Refuses (`migrations_pending`) unless the bot's tables are migrated; creates nothing. */
  ensure(): Promise<void>;
  claim: Bound<typeof claimSlot>;
  reclaim: Bound<typeof reclaimSlot>;
  recordContent: Bound<typeof recordContent>;
  recordIntent: Bound<typeof recordIntent>;
  recordPosted: Bound<typeof recordPosted>;
  recordSkipped: Bound<typeof recordSkipped>;
  recordFailed: Bound<typeof recordFailed>;
  recordUnconfirmed: Bound<typeof recordUnconfirmed>;
  recordSuperseded: Bound<typeof recordSuperseded>;
  unfinished: Bound<typeof unfinishedSlots>;
  release: Bound<typeof releaseClaims>;
  previous: Bound<typeof previousSlot>;
  last: Bound<typeof lastSlot>;
}

export function digestSlots(ctx: OperatorContext): DigestSlots {
  const db = ctx.db;
  const name = ctx.config.state.schema;
  return {
    ensure: () => requireMigrated(ctx),
    claim: (...a) => claimSlot(db, name, ...a),
    reclaim: (...a) => reclaimSlot(db, name, ...a),
    recordContent: (...a) => recordContent(db, name, ...a),
    recordIntent: (...a) => recordIntent(db, name, ...a),
    recordPosted: (...a) => recordPosted(db, name, ...a),
    recordSkipped: (...a) => recordSkipped(db, name, ...a),
    recordFailed: (...a) => recordFailed(db, name, ...a),
    recordUnconfirmed: (...a) => recordUnconfirmed(db, name, ...a),
    recordSuperseded: (...a) => recordSuperseded(db, name, ...a),
    unfinished: (...a) => unfinishedSlots(db, name, ...a),
    release: (...a) => releaseClaims(db, name, ...a),
    previous: (...a) => previousSlot(db, name, ...a),
    last: (...a) => lastSlot(db, name, ...a),
  };
}

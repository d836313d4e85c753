// Requests nobody decided in time expire; executions that never recorded their end are closed as
// failed. Each close is a conditional UPDATE, so replicas sweeping together close each request once.

import { countBulkReplays } from "../../state/audit.ts";
import {
  abandonExecution,
  type Confirmation,
  duePending,
  findConfirmation,
  staleExecuting,
} from "../../state/confirmations.ts";
import { stateExists } from "../../state/migrations.ts";
import type { Lifecycle } from "./lifecycle.ts";
import { parseStored } from "./record.ts";

/** An execution still unfinished this long after its confirmation was interrupted (at least). */
export const INTERRUPTED_AFTER_S = 600;

// An execution waits at most `meilisearch.taskWaitMs` for a task; one still "executing" long
// after that was interrupted (the process stopped, or the state database failed at the last
// step). Its card would say "Running…" forever and every click "already being executed".
export function interruptedAfterSeconds(lc: Lifecycle): number {
  return Math.max(INTERRUPTED_AFTER_S, 2 * Math.ceil(lc.ctx.config.meilisearch.taskWaitMs / 1000) + 60);
}

const STOPPED = "the bot stopped before it recorded how this ended";

/**
 * An interrupted bulk retry: how many it replayed, counted from its audit rows (each batch wrote
 * its rows with its replays, so whole batches only); null for other requests, or when the count
 * could not be read.
 */
async function bulkReplayed(
  lc: Lifecycle,
  closed: Confirmation,
): Promise<{ replayed: number; total: number } | null> {
  const saved = parseStored(closed);
  if (saved?.request.kind !== "bulk_retry") return null;
  const total = saved.request.ids?.length ?? saved.preview.bulk?.total ?? 0;
  const since = closed.decidedAt ?? closed.createdAt;
  try {
    return { replayed: await countBulkReplays(lc.ctx.db, lc.stateName, closed.id, since), total };
  } catch (error) {
    lc.ports.logger.warn("could not count an interrupted bulk retry's replays", {
      confirmationId: closed.id,
      error,
    });
    return null;
  }
}

/** Close an interrupted execution as failed (once, whoever gets there first) and say so on its card. */
export async function closeInterrupted(lc: Lifecycle, row: Confirmation, seconds: number): Promise<boolean> {
  const reason = "execution_interrupted";
  const closed = await lc.db(
    abandonExecution(lc.ctx.db, lc.stateName, row.id, seconds, { error: reason, message: STOPPED }),
  );
  if (!closed) return false;
  // Counted once closed: nothing of this request runs any more (a cut process is gone).
  const bulk = await bulkReplayed(lc, closed);
  const message = bulk
    ? `${STOPPED}: ${bulk.replayed} of ${bulk.total} jobs were replayed (whole batches), the rest were not; ask again for the rest: rows already replayed are left out`
    : STOPPED;
  await lc.recordBotClose(closed, {
    outcome: "failed",
    reason,
    details: {
      message,
      ...(bulk ? { replayed: bulk.replayed, not_replayed: bulk.total - bulk.replayed } : {}),
      nothing_changed: false,
      confirmed_by: closed.decidedBy,
      confirmed_at: closed.decidedAt?.toISOString() ?? null,
    },
    card: { ending: { kind: "not_done", reason, message, nothingChanged: false } },
  });
  return true;
}

/**
 * A shutdown whose drain ran out: close every request this process is still executing as
 * interrupted (its card says so) rather than leave it "executing" until the sweeper's age bound;
 * the process then exits, cutting what was running. How many it closed.
 */
export async function interruptRunning(lc: Lifecycle): Promise<number> {
  let closed = 0;
  for (const id of [...lc.running]) {
    const row = await lc.db(findConfirmation(lc.ctx.db, lc.stateName, id));
    if (row?.status === "executing" && (await closeInterrupted(lc, row, 0))) closed += 1;
  }
  return closed;
}

/** Expire every pending request whose time is up, close every interrupted execution; how many. */
export async function expireDue(lc: Lifecycle): Promise<number> {
  const { ctx, stateName } = lc;
  if (!(await lc.db(stateExists(ctx.db, stateName)))) return 0;
  const seconds = interruptedAfterSeconds(lc);
  let closed = 0;
  for (const row of await lc.db(duePending(ctx.db, stateName))) {
    if (await lc.expire(row)) closed += 1;
  }
  for (const row of await lc.db(staleExecuting(ctx.db, stateName, seconds))) {
    if (await closeInterrupted(lc, row, seconds)) closed += 1;
  }
  return closed;
}

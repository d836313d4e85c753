// Requests nobody decided in time expire; executions that never recorded their end are closed as
// failed. Each close is a conditional UPDATE, so replicas sweeping together close each request once.
import {
  abandonExecution,
  type Confirmation,
  duePending,
  findConfirmation,
  staleExecuting,
} from "../../state/confirmations.ts";
import { stateExists } from "../../state/migrations.ts";
import type { Lifecycle } from "./lifecycle.ts";

/** An execution still unfinished this long after its confirmation was interrupted (at least). */
export const INTERRUPTED_AFTER_S = 600;

// An execution waits at most `meilisearch.taskWaitMs` for a task; one still "executing" long
// after that was interrupted (the process stopped, or the state database failed at the last
// step). Its card would say "Running…" forever and every click "already being executed".
export function interruptedAfterSeconds(lc: Lifecycle): number {
  return Math.max(INTERRUPTED_AFTER_S, 2 * Math.ceil(lc.ctx.config.meilisearch.taskWaitMs / 1000) + 60);
}

/** Close an interrupted execution as failed (once, whoever gets there first) and say so on its card. */
export async function closeInterrupted(lc: Lifecycle, row: Confirmation, seconds: number): Promise<boolean> {
  const reason = "execution_interrupted";
  const message = "the bot stopped before it recorded how this ended";
  const closed = await lc.db(
    abandonExecution(lc.ctx.db, lc.stateName, row.id, seconds, { error: reason, message }),
  );
  if (!closed) return false;
  await lc.recordBotClose(closed, {
    outcome: "failed",
    reason,
    details: {
      message,
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

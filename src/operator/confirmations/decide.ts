// A Confirm or Cancel click: find its request (refusing buttons of another channel, workspace or
// message), authorise the clicker (two-person rule), claim the request once across every replica
// within the click's deadline, then execute it through the operator (which re-reads and
// re-validates), audit every step and keep the card in step. Expiry is the database's call.
import { TransactionDeadline } from "../../backends/postgres.ts";
import { isOperatorError, OperatorError, outcomeUnknown, RefusedError } from "../../errors.ts";
import {
  attachMessage,
  CONFIRMATION_ID,
  type Confirmation,
  claimConfirmation,
  findConfirmation,
  finishConfirmation,
} from "../../state/confirmations.ts";
import { withTimeout } from "../../timeout.ts";
import type { BulkProgress } from "../bulkRetry.ts";
import { type Actor, inTransaction, PostgresOutcomeUnknown, prepareState } from "../mutation.ts";
import { executeRequest, type RequestOutcome } from "../requests.ts";
import { type Lifecycle, whereOf } from "./lifecycle.ts";
import {
  parseStored,
  refusalSentence,
  replayGroupOf,
  replayJobOf,
  requestKind,
  type StoredRequest,
  succeeded,
  summaryOf,
  viewOf,
} from "./record.ts";
import type { Click, ClickAnswer, Ending } from "./types.ts";

/** One click's progress against its time bound (see `claimAndExecute`). */
interface ClickGate {
  /** Epoch ms by which the click is taken or answered. */
  deadline: number;
  /** The claim transaction started: its own deadline answers in time. */
  claiming: boolean;
  /** The clicker was told nothing was done: the claim must not start. */
  abandoned: boolean;
}

/** A bulk execution edits its card with progress at most once per this (plus the final edit). */
export const PROGRESS_EDIT_MS = 2_000;

/**
 * Progress edits of a running card, chained after "Running…" (`shown`): at most one per
 * PROGRESS_EDIT_MS, never two in flight (progress arriving meanwhile is dropped: a later one, or
 * the final edit, says more). `settled` resolves once the last edit sent is done, so the final
 * edit, awaited after it, is never overtaken by a progress edit.
 */
function progressEdits(lc: Lifecycle, row: Confirmation, saved: StoredRequest, shown: Promise<void>) {
  let last: Promise<void> = shown;
  let busy = true;
  let lastAt = Date.now();
  void shown.finally(() => {
    busy = false;
  });
  return {
    onProgress(progress: BulkProgress): void {
      if (busy || Date.now() - lastAt < PROGRESS_EDIT_MS) return;
      busy = true;
      lastAt = Date.now();
      last = last
        .then(() => lc.showCard(row, saved.preview, { progress }))
        .catch((error: unknown) => lc.ports.logger.warn("could not show a bulk retry's progress", { error }))
        .finally(() => {
          busy = false;
        });
    },
    settled: (): Promise<void> => last,
  };
}

const claimMs = (lc: Lifecycle) => lc.ctx.config.database.claimTimeoutMs ?? 4_000;
const claimSeconds = (lc: Lifecycle) => Math.round(claimMs(lc) / 100) / 10;

const claimTimeout = (lc: Lifecycle, cause?: unknown) =>
  new OperatorError(
    "postgres_unreachable",
    `Postgres did not answer within ${claimSeconds(lc)} s; nothing was done; try again`,
    "postgres",
    { cause },
  );

const idOf = (click: Click): string | null =>
  typeof click.value === "string" && CONFIRMATION_ID.test(click.value) ? click.value : null;

/** Refuse a click that names no request of this channel and workspace: audited, nothing runs. */
async function foreign(
  lc: Lifecycle,
  click: Click,
  reason: string,
  row: Confirmation | null,
  saved: StoredRequest | null,
): Promise<ClickAnswer> {
  await lc.audit({
    actor: click.userId,
    request: saved?.request ?? null,
    preview: saved?.preview ?? null,
    outcome: "refused",
    reason,
    where: { channel: click.channelId, messageTs: click.messageTs, team: click.teamId, id: row?.id ?? null },
    details: {
      step: click.decision,
      ...(row ? {} : { value: String(click.value ?? "").slice(0, 100) }),
    },
  });
  lc.count(saved?.request ?? null, "refused");
  lc.ports.logger.warn("refused a confirmation click", {
    reason,
    user: click.userId,
    confirmationId: row?.id,
  });
  return { kind: "foreign", reason };
}

/** Run a claimed request and record how it ended: the audit row, the request's end, the card. */
async function execute(
  lc: Lifecycle,
  row: Confirmation,
  saved: StoredRequest,
  click: Click,
  shown: Promise<void>,
): Promise<void> {
  const { request: req, preview } = saved;
  const log = lc.ports.logger.child({ confirmationId: row.id, kind: requestKind(req) });
  const startedAt = new Date(Date.now() - 2_000);
  const actor: Actor = {
    id: click.userId,
    context: {
      channel: row.channelId,
      message_ts: row.messageTs,
      team: row.teamId,
      confirmation_id: row.id,
      via: "slack",
    },
  };
  let ending: Ending;
  let result: RequestOutcome | null = null;
  let summary: Record<string, unknown>;
  // The failure's audit row and the request's end are written together (each bounded by the
  // pool's timeouts), so a card whose database went away is not held up twice.
  let failureAudit: Promise<void> = Promise.resolve();
  const progress = progressEdits(lc, row, saved, shown);
  try {
    result = await executeRequest(lc.ctx, req, actor, preview, {
      onProgress: progress.onProgress,
      signal: lc.stopping.signal,
    });
    ending = { kind: "executed", result };
    summary = summaryOf(result);
    if (result.kind === "bulk_retry" && result.result.error) {
      // A batch failed, or a shutdown stopped the run between batches: the replays so far each have
      // their audit row; this one says how the whole run ended (replayed, not attempted, and why).
      failureAudit = lc.auditEventually({
        actor: click.userId,
        request: req,
        preview,
        outcome: "failed",
        reason: result.result.error.code,
        where: whereOf(row),
        details: { ...summary, nothing_changed: result.result.replayed.length === 0 },
      });
    }
  } catch (error) {
    if (error instanceof RefusedError) {
      // The operator audited its refusal; nothing was changed.
      const { reason, message } = refusalSentence(error);
      ending = { kind: "not_done", reason, message, nothingChanged: true };
      summary = { refused: reason, message };
    } else {
      const known = isOperatorError(error);
      if (!known) log.error("executing a confirmed request failed unexpectedly", { error });
      const { reason, message } = known
        ? refusalSentence(error)
        : { reason: "unexpected_error", message: "something went wrong on the bot's side; see its log" };
      // Backend errors happen before the change is accepted (a refused connection, a rolled-back
      // transaction), unless they say the outcome is unknown (a COMMIT whose answer was lost and
      // that Postgres could not be asked about); anything else may have happened half-way.
      const nothingChanged = known && !outcomeUnknown(error);
      ending = { kind: "not_done", reason, message, nothingChanged };
      summary = { error: reason, message, ...(nothingChanged ? {} : { outcome: "unknown" }) };
      failureAudit = lc.auditEventually({
        actor: click.userId,
        request: req,
        preview,
        outcome: "failed",
        reason,
        where: whereOf(row),
        details: { message, nothing_changed: nothingChanged },
      });
    }
  }
  const status = ending.kind === "executed" && succeeded(ending.result) ? "done" : "failed";
  await Promise.all([
    failureAudit,
    finishConfirmation(lc.ctx.db, lc.stateName, row.id, status, summary).catch((error: unknown) =>
      log.error("could not record how a request ended", { error }),
    ),
  ]);
  lc.count(req, status);
  log.info("executed a confirmed request", { status, ...summary });
  // The final edit waits for "Running…" and the last progress edit, so they never cross.
  await progress.settled();
  await lc.showCard(row, preview, { status, ending });

  const thread = row.threadTs ?? row.messageTs;
  if (!result || !thread) return;
  const jobId = replayJobOf(result);
  if (jobId !== null) {
    lc.ports.followReplay({
      channel: row.channelId,
      threadTs: thread,
      jobId,
      schema: preview.schema,
      startedAt,
    });
  }
  const group = replayGroupOf(result);
  if (group) {
    lc.ports.followReplayGroup({
      channel: row.channelId,
      threadTs: thread,
      jobIds: group,
      schema: preview.schema,
      startedAt,
      confirmationId: row.id,
    });
  }
}

/** Start executing a claimed request: "Running…" first, then the audit row, then the work. */
async function confirmed(lc: Lifecycle, claimed: Confirmation, saved: StoredRequest, click: Click) {
  lc.running.add(claimed.id);
  try {
    const running = lc.showCard(claimed, saved.preview);
    await recordDecision(lc, claimed, saved, click, "confirmed");
    await execute(lc, claimed, saved, click, running);
  } finally {
    lc.running.delete(claimed.id);
  }
}

/** The clicker's decision, once taken: its audit row and its count. */
async function recordDecision(
  lc: Lifecycle,
  claimed: Confirmation,
  saved: StoredRequest,
  click: Click,
  outcome: "confirmed" | "cancelled",
): Promise<void> {
  await lc.audit({
    actor: click.userId,
    request: saved.request,
    preview: saved.preview,
    outcome,
    where: whereOf(claimed),
    details: { requested_by: claimed.requestedBy },
  });
  lc.count(saved.request, outcome);
}

/** A claim whose COMMIT answer was lost: ask until Postgres says; if it committed, carry on. */
async function settleClaim(lc: Lifecycle, error: PostgresOutcomeUnknown, click: Click, saved: StoredRequest) {
  const log = lc.ports.logger.child({ confirmationId: (error.unknown.result as Confirmation | null)?.id });
  for (let attempt = 0; attempt < 20; attempt++) {
    const outcome = await error.unknown.settle();
    if (outcome === "aborted") return;
    if (outcome === "committed") {
      const claimed = error.unknown.result as Confirmation | null;
      if (!claimed) return;
      log.info("a click whose claim was unconfirmed did take the request; carrying on");
      if (claimed.status === "executing") await confirmed(lc, claimed, saved, click);
      else await lc.showCard(claimed, saved.preview);
      return;
    }
  }
  log.warn("could not find out whether a click took its request; the sweeper will close it");
}

/**
 * Take the click (the conditional UPDATE) in a transaction bounded by the click's deadline. Past
 * it the connection is cut, so the claim cannot land later; only a COMMIT already sent is
 * unknown, and then whoever asks Postgres first (in the background) finishes what the click began.
 */
async function claim(
  lc: Lifecycle,
  id: string,
  to: "executing" | "cancelled",
  click: Click,
  gate: ClickGate,
  saved: StoredRequest,
): Promise<Confirmation | null> {
  gate.claiming = true;
  try {
    return await inTransaction(
      lc.ctx,
      (client) => claimConfirmation(client, lc.stateName, id, to, click.userId),
      {
        deadlineMs: Math.max(gate.deadline - Date.now(), 1),
      },
    );
  } catch (error) {
    if (error instanceof PostgresOutcomeUnknown) {
      void settleClaim(lc, error, click, saved);
      throw new OperatorError(
        "postgres_unreachable",
        `Postgres did not answer within ${claimSeconds(lc)} s while taking this click, so it is not known yet whether it was taken; if it was, the card will change once Postgres answers, otherwise try again`,
        "postgres",
        { cause: error },
      );
    }
    if ((error as Error)?.cause instanceof TransactionDeadline) throw claimTimeout(lc, error);
    throw error;
  }
}

async function decideUnbounded(lc: Lifecycle, click: Click, gate: ClickGate): Promise<ClickAnswer> {
  const { ctx, stateName } = lc;
  const id = idOf(click);
  if (!id) return foreign(lc, click, "invalid_button_value", null, null);
  await prepareState(ctx);
  const row = await lc.db(findConfirmation(ctx.db, stateName, id));
  if (!row) return foreign(lc, click, "unknown_request", null, null);
  const saved = parseStored(row);
  if (!saved) return foreign(lc, click, "invalid_request", row, null);
  if (row.teamId !== null && click.teamId !== row.teamId)
    return foreign(lc, click, "foreign_team", row, saved);
  if (click.channelId !== row.channelId) return foreign(lc, click, "foreign_channel", row, saved);
  if (row.messageTs !== null && click.messageTs !== null && click.messageTs !== row.messageTs) {
    return foreign(lc, click, "foreign_message", row, saved);
  }

  const answerDecided = async (current: Confirmation): Promise<ClickAnswer> => {
    if (current.status === "pending") await lc.expire(current);
    const latest = (await lc.db(findConfirmation(ctx.db, stateName, id))) ?? current;
    return { kind: "already_decided", confirmation: viewOf(latest), schema: saved.preview.schema };
  };
  // Expiry is the database's call (claim and expire compare with its clock, not ours).
  if (row.status !== "pending") return answerDecided(row);
  if (row.messageTs === null && click.messageTs !== null) {
    // The card was posted but its ts was never stored (a database blip): the click tells us.
    await lc.db(attachMessage(ctx.db, stateName, row.id, click.messageTs));
    row.messageTs = click.messageTs;
  }

  const confirm = click.decision === "confirm";
  const decision = await lc.ports.access.decide(
    click.userId,
    confirm ? { requestedBy: row.requestedBy } : {},
  );
  if (!decision.allowed) {
    await lc.audit({
      actor: click.userId,
      request: saved.request,
      preview: saved.preview,
      outcome: "refused",
      reason: decision.reason,
      where: whereOf(row),
      details: { message: decision.message, step: click.decision, requested_by: row.requestedBy },
    });
    lc.count(saved.request, "refused");
    return { kind: "denied", denial: decision };
  }

  // Told "nothing was done" already (the click's time was up): do not claim now.
  if (gate.abandoned) throw claimTimeout(lc);
  const claimed = await claim(lc, id, confirm ? "executing" : "cancelled", click, gate, saved);
  if (!claimed) return answerDecided((await lc.db(findConfirmation(ctx.db, stateName, id))) ?? row);

  if (confirm) {
    await confirmed(lc, claimed, saved, click);
  } else {
    await recordDecision(lc, claimed, saved, click, "cancelled");
    await lc.showCard(claimed, saved.preview);
  }
  return { kind: "taken", schema: saved.preview.schema };
}

/**
 * A click answers within the claim bound: "Running…" on the card, or an answer to the clicker.
 * When the database steps before the claim (finding the request, checking it) take longer, the
 * clicker is told that nothing was done (an OperatorError), and the claim is not attempted any more.
 * A confirmed request is executed before this resolves.
 */
export async function claimAndExecute(lc: Lifecycle, click: Click): Promise<ClickAnswer> {
  const ms = claimMs(lc);
  const gate: ClickGate = { deadline: Date.now() + ms, claiming: false, abandoned: false };
  const work = decideUnbounded(lc, click, gate);
  const first = await withTimeout(work, ms, () => "late" as const);
  // The claim has its own deadline (the same one); after it, the card shows the rest.
  if (first !== "late" || gate.claiming) return work;
  gate.abandoned = true;
  work.catch((error: unknown) => lc.ports.logger.warn("a click answered late failed", { error }));
  const refusal = claimTimeout(lc);
  lc.ports.logger.warn("a click found Postgres not answering", { user: click.userId, ms });
  // Recorded when Postgres answers again; the clicker's answer does not wait for it.
  void lc.auditEventually({
    actor: click.userId,
    request: null,
    outcome: "refused",
    reason: "postgres_timeout",
    where: { channel: click.channelId, messageTs: click.messageTs, team: click.teamId, id: idOf(click) },
    details: {
      step: click.decision,
      message: refusal.message,
      value: String(click.value ?? "").slice(0, 100),
    },
  });
  throw refusal;
}

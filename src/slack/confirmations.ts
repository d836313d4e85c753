// Mutations from Slack never act on request. A request (slash command, request button, modal) is
// checked against the operator role, previewed (its blast radius), stored with a random id and
// posted as a public card; only one authorised Confirm click, claimed atomically in Postgres across
// every replica, executes it through the operator (which re-reads and re-validates at that moment).
// The card is then edited in place: outcome, who, when, buttons gone. Cancel and expiry (at click
// time, and by a sweeper) edit it the same way. Every step is an audit row.
import { type CommandResult, operatorErrorResult } from "../../commands/index.ts";
import type { CommandDeps } from "../../commands/types.ts";
import {
  accessRefusalView,
  alreadyDecidedView,
  alreadyRequestedView,
  type CardOutcome,
  type CardState,
  confirmationCard,
  outcomeOf,
  refusalOutcome,
} from "../../views/confirm.ts";
import { backendErrorView } from "../../views/errors.ts";
import { usageView } from "../../views/help.ts";
import type { ViewContext } from "../../views/types.ts";
import { describeDatabase, postgresError, TransactionDeadline } from "../backends/postgres.ts";
import { isOperatorError, OperatorError, outcomeUnknown, RefusedError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { type OperatorContext, resolveSchema } from "../operator/context.ts";
import type { Actor } from "../operator/mutation.ts";
import { inTransaction, lockTarget, PostgresOutcomeUnknown, prepareState } from "../operator/mutation.ts";
import {
  checkRequest,
  executeRequest,
  type MutationRequest,
  mutationRequest,
  previewRequest,
  type RequestOutcome,
  type RequestPreview,
  requestTarget,
} from "../operator/requests.ts";
import { writeAudit } from "../state/audit.ts";
import {
  abandonExecution,
  attachMessage,
  CONFIRMATION_ID,
  type Confirmation,
  claimConfirmation,
  createConfirmation,
  duePending,
  expireConfirmation,
  findConfirmation,
  findPendingFor,
  finishConfirmation,
  staleExecuting,
} from "../state/confirmations.ts";
import { stateExists } from "../state/migrations.ts";
import { type Access, OPERATOR_ROLE } from "./access.ts";
import { silentResult } from "./answer.ts";
import type { Chat } from "./chat.ts";
import type { Followers } from "./follow.ts";
import {
  auditActionOf,
  auditTarget,
  cardState,
  parseStored,
  refusalSentence,
  replayJobOf,
  requestKind,
  type StoredRequest,
  statusOf,
  summaryOf,
} from "./requestRecord.ts";

/** How often the sweeper looks for pending cards whose time is up. */
export const SWEEP_INTERVAL_MS = 30_000;
/** An execution still unfinished this long after its confirmation was interrupted (at least). */
export const INTERRUPTED_AFTER_S = 600;
/** How long an audit row that could not be written is retried in the background. */
const AUDIT_RETRY_FOR_MS = 120_000;
/** The audit actor for what the bot decides by itself (expiry, interrupted executions). */
export const BOT_ACTOR = "scrypath-bot";
/** The audit action of a click that names no request the bot knows. */
export const UNKNOWN_REQUEST_ACTION = "scrypath.ops.confirmation";

/** Where a request was made: who, in which workspace and channel, and the thread for the card. */
export interface Origin {
  userId: string;
  teamId: string | null;
  channelId: string;
  /** Post the card in this thread (a request button on a bot message in the channel). */
  threadTs: string | null;
}

/** A Confirm or Cancel click, as the payload states it (nothing here is trusted yet). */
export interface Click {
  decision: "confirm" | "cancel";
  value: unknown;
  userId: string;
  teamId: string | null;
  channelId: string | null;
  /** The ts of the message holding the button. */
  messageTs: string | null;
}

/** One click's progress against its time bound (see `decideBounded`). */
interface ClickGate {
  /** Epoch ms by which the click is taken or answered. */
  deadline: number;
  /** The claim transaction started: its own deadline answers in time. */
  claiming: boolean;
  /** The clicker was told nothing was done: the claim must not start. */
  abandoned: boolean;
}

export interface ConfirmationDeps {
  ctx: OperatorContext;
  commands: CommandDeps;
  chat: Chat;
  access: Access;
  followers: Followers;
  logger: Logger;
  metrics: Metrics;
  viewContext: () => ViewContext;
}

export interface Confirmations {
  /**
   * May `origin.userId` ask for `request`? Null when yes; otherwise the refusal the requester sees
   * (already audited and counted).
   */
  authorize(request: MutationRequest, origin: Origin, verb: string): Promise<CommandResult | null>;
  /** Check, preview, store and post the card; the result is what the requester alone sees. */
  request(request: MutationRequest, origin: Origin, verb: string): Promise<CommandResult>;
  /** A Confirm or Cancel click; the result is the clicker's ephemeral answer (silent when none). */
  decide(click: Click): Promise<CommandResult>;
  /**
   * Expire every pending request whose time is up, close every interrupted execution as failed,
   * and update their cards; returns how many.
   */
  sweep(): Promise<number>;
  startSweeper(intervalMs?: number): void;
  stopSweeper(): void;
}

export function createConfirmations(deps: ConfirmationDeps): Confirmations {
  const { ctx, chat, access, logger, metrics } = deps;
  const stateName = ctx.config.state.schema;
  /** State calls answer in OperatorErrors naming Postgres, like every other backend call. */
  const db = <T>(work: Promise<T>): Promise<T> =>
    work.catch((error: unknown) => {
      throw postgresError(error, describeDatabase(ctx.config.database.url));
    });
  let sweeper: NodeJS.Timeout | null = null;
  let sweeping: Promise<number> | null = null;

  const count = (request: MutationRequest | null, outcome: string) =>
    metrics.confirmations.inc({ kind: request ? requestKind(request) : "unknown", outcome });

  /** The schema as the audit log names it (its module), or as given when it does not resolve. */
  const moduleOf = (request: MutationRequest | null, preview: RequestPreview | null): string | null => {
    if (preview?.schema) return preview.schema;
    if (!request || !("schema" in request)) return null;
    try {
      return resolveSchema(ctx, request.schema).module;
    } catch {
      return request.schema;
    }
  };

  /** One audit row; a failure to write it is logged (the flow it records already happened): false. */
  const audit = async (entry: {
    actor: string;
    request: MutationRequest | null;
    preview?: RequestPreview | null;
    outcome: string;
    reason?: string | null;
    where: { channel: string | null; messageTs: string | null; team: string | null; id: string | null };
    details?: Record<string, unknown>;
  }): Promise<boolean> => {
    try {
      await prepareState(ctx);
      await writeAudit(ctx.db, stateName, {
        actor: entry.actor,
        action: entry.request ? auditActionOf(entry.request) : UNKNOWN_REQUEST_ACTION,
        schema: moduleOf(entry.request, entry.preview ?? null),
        index: entry.preview?.index ?? null,
        target: entry.request ? auditTarget(entry.request) : {},
        outcome: entry.outcome,
        reason: entry.reason ?? null,
        details: entry.details ?? {},
        context: {
          channel: entry.where.channel,
          message_ts: entry.where.messageTs,
          team: entry.where.team,
          confirmation_id: entry.where.id,
          via: "slack",
        },
      });
      return true;
    } catch (error) {
      logger.error("could not write an audit row", { outcome: entry.outcome, error });
      return false;
    }
  };

  /**
   * An audit row a database outage must not lose (a failed execution, a click refused because
   * Postgres did not answer): the first attempt is awaited; when it fails, the row is written in
   * the background as soon as Postgres takes it (every 2 s, for up to 2 minutes).
   */
  const auditEventually = async (entry: Parameters<typeof audit>[0]): Promise<void> => {
    if (await audit(entry)) return;
    void (async () => {
      const until = Date.now() + AUDIT_RETRY_FOR_MS;
      while (Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 2_000).unref());
        if (await audit(entry)) return;
      }
    })();
  };

  const whereOf = (row: Confirmation) => ({
    channel: row.channelId,
    messageTs: row.messageTs,
    team: row.teamId,
    id: row.id,
  });

  /** Edit the card in place (retried on rate limits and 5xx); a card that cannot be edited is logged. */
  const showCard = async (row: Confirmation, preview: RequestPreview, state: CardState): Promise<void> => {
    if (!row.messageTs) return;
    try {
      await chat.update(
        row.channelId,
        row.messageTs,
        confirmationCard(row.id, preview, state, deps.viewContext()),
      );
    } catch (error) {
      logger.error("could not update a confirmation card", {
        confirmationId: row.id,
        status: state.status,
        error,
      });
    }
  };

  /**
   * What the bot records when it closes a request by itself (the sweeper or a late click won the
   * conditional UPDATE): the metric, a BOT_ACTOR audit row, and the card.
   */
  const recordBotClose = async (
    closed: Confirmation,
    entry: { outcome: string; reason: string; details: Record<string, unknown>; card?: Partial<CardState> },
  ): Promise<void> => {
    const saved = parseStored(closed);
    count(saved?.request ?? null, entry.outcome);
    await audit({
      actor: BOT_ACTOR,
      request: saved?.request ?? null,
      preview: saved?.preview ?? null,
      outcome: entry.outcome,
      reason: entry.reason,
      where: whereOf(closed),
      details: entry.details,
    });
    if (saved) await showCard(closed, saved.preview, cardState(closed, entry.card));
  };

  /** Expire a pending request whose time is up (once, whoever gets there first) and update its card. */
  const expire = async (row: Confirmation): Promise<boolean> => {
    const expired = await db(expireConfirmation(ctx.db, stateName, row.id));
    if (!expired) return false;
    await recordBotClose(expired, {
      outcome: "expired",
      reason: "confirmation_expired",
      details: { requested_by: expired.requestedBy, expires_at: expired.expiresAt.toISOString() },
    });
    return true;
  };

  /** An answer for the requester or clicker alone. */
  const answerOf = (
    verb: string,
    message: CommandResult["message"],
    outcome: CommandResult["outcome"] = "ok",
    schema: string | null = null,
  ): CommandResult => ({ message, share: false, verb, schema, outcome });

  // ── Requests ──────────────────────────────────────────────────────────────────────────────

  const authorize: Confirmations["authorize"] = async (req, origin, verb) => {
    const decision = await access.decide(origin.userId);
    if (decision.allowed) return null;
    await audit({
      actor: origin.userId,
      request: req,
      outcome: "refused",
      reason: decision.reason,
      where: { channel: origin.channelId, messageTs: origin.threadTs, team: origin.teamId, id: null },
      details: { message: decision.message, step: "request" },
    });
    count(req, "refused");
    logger.info("refused a mutation request", {
      kind: requestKind(req),
      user: origin.userId,
      reason: decision.reason,
    });
    return answerOf(
      verb,
      accessRefusalView(decision.message, OPERATOR_ROLE, decision.reason, decision.usergroups),
      "denied",
    );
  };

  /** A pending card already asks for this: audited, answered privately with a link to that card. */
  const alreadyRequested = async (
    req: MutationRequest,
    preview: RequestPreview,
    pending: Confirmation,
    origin: Origin,
    verb: string,
  ): Promise<CommandResult> => {
    let permalink: string | null = null;
    if (pending.messageTs) {
      try {
        const found = await chat.call<{ permalink?: string }>(
          "chat.getPermalink",
          { channel: pending.channelId, message_ts: pending.messageTs },
          { maxAttempts: 2 },
        );
        permalink = typeof found.permalink === "string" ? found.permalink : null;
      } catch (error) {
        logger.warn("could not link a pending request's card", { confirmationId: pending.id, error });
      }
    }
    await audit({
      actor: origin.userId,
      request: req,
      preview,
      outcome: "refused",
      reason: "already_requested",
      where: { channel: origin.channelId, messageTs: origin.threadTs, team: origin.teamId, id: null },
      details: {
        step: "check",
        pending_confirmation_id: pending.id,
        requested_by: pending.requestedBy,
        permalink,
      },
    });
    count(req, "refused");
    return answerOf(verb, alreadyRequestedView(pending, preview.title, permalink), "ok", preview.schema);
  };

  const requestUnguarded: Confirmations["request"] = async (input, origin, verb) => {
    const where = { channel: origin.channelId, messageTs: origin.threadTs, team: origin.teamId, id: null };
    const valid = mutationRequest.safeParse(input);
    if (!valid.success) {
      await audit({
        actor: origin.userId,
        request: null,
        outcome: "refused",
        reason: "invalid_request",
        where,
      });
      count(null, "refused");
      return answerOf(
        verb,
        usageView("this request is not valid", "Run the command again, e.g. `/scrypath help`.", null),
        "usage",
      );
    }
    const req = valid.data;
    const log = logger.child({ kind: requestKind(req), user: origin.userId, channel: origin.channelId });

    const denied = await authorize(req, origin, verb);
    if (denied) return denied;

    let preview: RequestPreview;
    let step = "preview";
    try {
      preview = await previewRequest(ctx, req);
      // What the confirm would refuse is refused now, privately: no card for it.
      step = "check";
      await checkRequest(ctx, req);
    } catch (error) {
      if (!isOperatorError(error)) throw error;
      const { reason, message } = refusalSentence(error);
      await audit({
        actor: origin.userId,
        request: req,
        outcome: "refused",
        reason,
        where,
        details: { message, step, ...(error instanceof RefusedError ? error.details : {}) },
      });
      count(req, "refused");
      const schema = "schema" in req ? req.schema : null;
      return operatorErrorResult(error, { verb, schema }, deps.commands);
    }

    await prepareState(ctx);
    // One pending card per target: the lookup and the insert share a lock, so two requests at the
    // same moment (two replicas, a double click) cannot both post one.
    const target = requestTarget(ctx, req);
    const stored = await inTransaction(ctx, async (client) => {
      await lockTarget(client, "request", target);
      const pending = await findPendingFor(client, stateName, target);
      if (pending) return { pending, created: null };
      const created = await createConfirmation(client, stateName, {
        kind: req.kind,
        schema: preview.schema,
        request: { request: req, preview, target },
        requestedBy: origin.userId,
        teamId: origin.teamId,
        channelId: origin.channelId,
        threadTs: origin.threadTs,
        ttlSeconds: deps.commands.config.access.confirmationTtl,
      });
      return { pending: null, created };
    });
    if (stored.pending) return alreadyRequested(req, preview, stored.pending, origin, verb);
    const row = stored.created;
    // Audited before the card exists, so no click on it can be audited ahead of the request
    // (the card's ts is on the confirmation row and on every later audit row).
    await audit({
      actor: origin.userId,
      request: req,
      preview,
      outcome: "requested",
      where: { ...where, id: row.id },
      details: {
        expires_at: row.expiresAt.toISOString(),
        thread_ts: origin.threadTs,
        effect: preview.effect,
      },
    });
    count(req, "requested");
    let ts: string;
    try {
      ts = await chat.post(
        origin.channelId,
        confirmationCard(row.id, preview, cardState(row), deps.viewContext()),
        { threadTs: origin.threadTs },
      );
    } catch (error) {
      // Nobody can see it, so nobody may confirm it.
      await db(claimConfirmation(ctx.db, stateName, row.id, "cancelled", origin.userId));
      const reason = (error as { reason?: string }).reason ?? "slack_error";
      await audit({
        actor: origin.userId,
        request: req,
        preview,
        outcome: "refused",
        reason: "card_not_posted",
        where: { ...where, id: row.id },
        details: { slack_error: reason },
      });
      count(req, "refused");
      const hint =
        reason === "not_in_channel" || reason === "channel_not_found"
          ? "; invite the bot to this channel (`/invite @scrypath`) and ask again"
          : "; nothing was requested, so ask again";
      return answerOf(
        verb,
        backendErrorView(
          { message: `Slack refused the confirmation card (${reason})${hint}`, backend: null, code: "slack" },
          { verb, ...(preview.schema ? { schema: preview.schema } : {}) },
        ),
        "error",
      );
    }
    await db(attachMessage(ctx.db, stateName, row.id, ts));
    log.info("posted a confirmation card", { confirmationId: row.id, ts });
    return silentResult(verb, preview.schema);
  };

  // ── Decisions ─────────────────────────────────────────────────────────────────────────────

  /** Refuse a click that names no request of this channel and workspace: audited, nothing runs. */
  const foreign = async (
    click: Click,
    reason: string,
    row: Confirmation | null,
    saved: StoredRequest | null,
  ): Promise<CommandResult> => {
    await audit({
      actor: click.userId,
      request: saved?.request ?? null,
      preview: saved?.preview ?? null,
      outcome: "refused",
      reason,
      where: {
        channel: click.channelId,
        messageTs: click.messageTs,
        team: click.teamId,
        id: row?.id ?? null,
      },
      details: {
        step: click.decision,
        ...(row ? {} : { value: String(click.value ?? "").slice(0, 100) }),
      },
    });
    count(saved?.request ?? null, "refused");
    logger.warn("refused a confirmation click", { reason, user: click.userId, confirmationId: row?.id });
    return answerOf(
      click.decision,
      usageView(
        "this button does not belong to a request the bot can act on here, so nothing was done",
        "Ask again with the command, e.g. `/scrypath retry <schema> <id>`.",
        null,
      ),
      "denied",
    );
  };

  const execute = async (
    row: Confirmation,
    saved: StoredRequest,
    click: Click,
    shown?: Promise<void>,
  ): Promise<void> => {
    const { request: req, preview } = saved;
    const log = logger.child({ confirmationId: row.id, kind: requestKind(req) });
    // Show "Running…" at once, and make the final edit wait for it so the two never cross.
    const running = shown ?? showCard(row, preview, cardState(row));
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
    let outcome: CardOutcome;
    let result: RequestOutcome | null = null;
    let summary: Record<string, unknown>;
    // The failure's audit row and the request's end are written together (each bounded by the
    // pool's timeouts), so a card whose database went away is not held up twice.
    let failureAudit: Promise<void> = Promise.resolve();
    try {
      result = await executeRequest(ctx, req, actor, preview);
      outcome = outcomeOf(result);
      summary = summaryOf(result);
    } catch (error) {
      if (error instanceof RefusedError) {
        // The operator audited its refusal; nothing was changed.
        const { reason, message } = refusalSentence(error);
        outcome = refusalOutcome(reason, message, true);
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
        outcome = refusalOutcome(reason, message, nothingChanged);
        summary = { error: reason, message, ...(nothingChanged ? {} : { outcome: "unknown" }) };
        failureAudit = auditEventually({
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
    const status = statusOf(outcome);
    await Promise.all([
      failureAudit,
      finishConfirmation(ctx.db, stateName, row.id, status, summary).catch((error: unknown) =>
        log.error("could not record how a request ended", { error }),
      ),
    ]);
    count(req, status);
    log.info("executed a confirmed request", { status, ...summary });
    await running;
    await showCard(row, preview, cardState(row, { status, outcome }));

    const jobId = result ? replayJobOf(result) : null;
    const thread = row.threadTs ?? row.messageTs;
    if (jobId !== null && thread) {
      void deps.followers.follow({
        channel: row.channelId,
        threadTs: thread,
        jobId,
        schema: preview.schema,
        startedAt,
      });
    }
  };

  /** Start executing a claimed request: "Running…" first, then the audit row, then the work. */
  const confirmed = async (claimed: Confirmation, saved: StoredRequest, click: Click): Promise<void> => {
    const running = showCard(claimed, saved.preview, cardState(claimed));
    await audit({
      actor: click.userId,
      request: saved.request,
      preview: saved.preview,
      outcome: "confirmed",
      where: whereOf(claimed),
      details: { requested_by: claimed.requestedBy },
    });
    count(saved.request, "confirmed");
    await execute(claimed, saved, click, running);
  };

  const claimSeconds = Math.round((ctx.config.database.claimTimeoutMs ?? 4_000) / 100) / 10;

  /**
   * Take the click (the conditional UPDATE) in a transaction bounded by the click's deadline. Past
   * it the connection is cut, so the claim cannot land later; only a COMMIT already sent is
   * unknown, and then whoever asks Postgres first (in the background) finishes what the click began.
   */
  const claim = async (
    id: string,
    to: "executing" | "cancelled",
    click: Click,
    gate: ClickGate,
    saved: StoredRequest,
  ): Promise<Confirmation | null> => {
    gate.claiming = true;
    try {
      return await inTransaction(
        ctx,
        (client) => claimConfirmation(client, stateName, id, to, click.userId),
        {
          deadlineMs: Math.max(gate.deadline - Date.now(), 1),
        },
      );
    } catch (error) {
      if (error instanceof PostgresOutcomeUnknown) {
        void settleClaim(error, click, saved);
        throw new OperatorError(
          "postgres_unreachable",
          `Postgres did not answer within ${claimSeconds} s while taking this click, so it is not known yet whether it was taken; if it was, the card will change once Postgres answers, otherwise try again`,
          "postgres",
          { cause: error },
        );
      }
      if ((error as Error)?.cause instanceof TransactionDeadline) throw claimTimeout(error);
      throw error;
    }
  };

  const claimTimeout = (cause?: unknown) =>
    new OperatorError(
      "postgres_unreachable",
      `Postgres did not answer within ${claimSeconds} s; nothing was done; try again`,
      "postgres",
      { cause },
    );

  /** A claim whose COMMIT answer was lost: ask until Postgres says; if it committed, carry on. */
  const settleClaim = async (error: PostgresOutcomeUnknown, click: Click, saved: StoredRequest) => {
    const log = logger.child({ confirmationId: (error.unknown.result as Confirmation | null)?.id });
    for (let attempt = 0; attempt < 20; attempt++) {
      const outcome = await error.unknown.settle();
      if (outcome === "aborted") return;
      if (outcome === "committed") {
        const claimed = error.unknown.result as Confirmation | null;
        if (!claimed) return;
        log.info("a click whose claim was unconfirmed did take the request; carrying on");
        if (claimed.status === "executing") await confirmed(claimed, saved, click);
        else await showCard(claimed, saved.preview, cardState(claimed));
        return;
      }
    }
    log.warn("could not find out whether a click took its request; the sweeper will close it");
  };

  const decideUnguarded = async (click: Click, gate: ClickGate): Promise<CommandResult> => {
    const id = typeof click.value === "string" && CONFIRMATION_ID.test(click.value) ? click.value : null;
    if (!id) return foreign(click, "invalid_button_value", null, null);
    await prepareState(ctx);
    const row = await db(findConfirmation(ctx.db, stateName, id));
    if (!row) return foreign(click, "unknown_request", null, null);
    const saved = parseStored(row);
    if (!saved) return foreign(click, "invalid_request", row, null);
    if (row.teamId !== null && click.teamId !== row.teamId) return foreign(click, "foreign_team", row, saved);
    if (click.channelId !== row.channelId) return foreign(click, "foreign_channel", row, saved);
    if (row.messageTs !== null && click.messageTs !== null && click.messageTs !== row.messageTs) {
      return foreign(click, "foreign_message", row, saved);
    }

    const answerDecided = async (current: Confirmation): Promise<CommandResult> => {
      if (current.status === "pending") await expire(current);
      const latest = (await db(findConfirmation(ctx.db, stateName, id))) ?? current;
      return answerOf(click.decision, alreadyDecidedView(latest), "ok", saved.preview.schema);
    };
    // Expiry is the database's call (claim and expire compare with its clock, not ours).
    if (row.status !== "pending") return answerDecided(row);
    if (row.messageTs === null && click.messageTs !== null) {
      // The card was posted but its ts was never stored (a database blip): the click tells us.
      await db(attachMessage(ctx.db, stateName, row.id, click.messageTs));
      row.messageTs = click.messageTs;
    }

    const confirm = click.decision === "confirm";
    const decision = await access.decide(click.userId, confirm ? { requestedBy: row.requestedBy } : {});
    if (!decision.allowed) {
      await audit({
        actor: click.userId,
        request: saved.request,
        preview: saved.preview,
        outcome: "refused",
        reason: decision.reason,
        where: whereOf(row),
        details: { message: decision.message, step: click.decision, requested_by: row.requestedBy },
      });
      count(saved.request, "refused");
      return answerOf(
        click.decision,
        accessRefusalView(decision.message, OPERATOR_ROLE, decision.reason, decision.usergroups),
        "denied",
      );
    }

    // Told "nothing was done" already (the click's time was up): do not claim now.
    if (gate.abandoned) throw claimTimeout();
    const claimed = await claim(id, confirm ? "executing" : "cancelled", click, gate, saved);
    if (!claimed) return answerDecided((await db(findConfirmation(ctx.db, stateName, id))) ?? row);

    if (confirm) {
      await confirmed(claimed, saved, click);
    } else {
      await audit({
        actor: click.userId,
        request: saved.request,
        preview: saved.preview,
        outcome: "cancelled",
        where: whereOf(claimed),
        details: { requested_by: claimed.requestedBy },
      });
      count(saved.request, "cancelled");
      await showCard(claimed, saved.preview, cardState(claimed));
    }
    return silentResult(click.decision, saved.preview.schema);
  };

  /**
   * A click answers within the claim bound: "Running…" on the card, or an answer to the clicker.
   * When the database steps before the claim (finding the request, checking it) take longer, the
   * clicker is told that nothing was done, and the claim is not attempted any more.
   */
  const decideBounded = async (click: Click): Promise<CommandResult> => {
    const ms = ctx.config.database.claimTimeoutMs ?? 4_000;
    const gate: ClickGate = { deadline: Date.now() + ms, claiming: false, abandoned: false };
    const work = decideUnguarded(click, gate);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), ms);
    });
    const first = await Promise.race([work, late]).finally(() => clearTimeout(timer));
    // The claim has its own deadline (the same one); after it, the card shows the rest.
    if (first !== "late" || gate.claiming) return work;
    gate.abandoned = true;
    work.catch((error: unknown) => logger.warn("a click answered late failed", { error }));
    const refusal = claimTimeout();
    logger.warn("a click found Postgres not answering", { user: click.userId, ms });
    // Recorded when Postgres answers again; the clicker's answer does not wait for it.
    const id = typeof click.value === "string" && CONFIRMATION_ID.test(click.value) ? click.value : null;
    void auditEventually({
      actor: click.userId,
      request: null,
      outcome: "refused",
      reason: "postgres_timeout",
      where: { channel: click.channelId, messageTs: click.messageTs, team: click.teamId, id },
      details: {
        step: click.decision,
        message: refusal.message,
        value: String(click.value ?? "").slice(0, 100),
      },
    });
    throw refusal;
  };

  /** A backend that fails outside the execution (the state tables, Slack) is one sentence, not a bug. */
  const guarded =
    <A extends unknown[]>(verbOf: (...args: A) => string, work: (...args: A) => Promise<CommandResult>) =>
    async (...args: A): Promise<CommandResult> => {
      try {
        return await work(...args);
      } catch (error) {
        if (!isOperatorError(error)) throw error;
        logger.warn("a confirmation step failed", { code: error.code, error });
        return operatorErrorResult(error, { verb: verbOf(...args), schema: null }, deps.commands);
      }
    };
  const request = guarded((_r: unknown, _o: Origin, verb: string) => verb, requestUnguarded);
  const decide = guarded((click: Click) => click.decision, decideBounded);

  // ── Expiry, and executions that never recorded their end ──────────────────────────────────

  // An execution waits at most `meilisearch.taskWaitMs` for a task; one still "executing" long
  // after that was interrupted (the process stopped, or the state database failed at the last
  // step). Its card would say "Running…" forever and every click "already being executed".
  const interruptedAfterSeconds = Math.max(
    INTERRUPTED_AFTER_S,
    2 * Math.ceil(ctx.config.meilisearch.taskWaitMs / 1000) + 60,
  );

  /** Close an interrupted execution as failed (once, whoever gets there first) and say so on its card. */
  const closeInterrupted = async (row: Confirmation): Promise<boolean> => {
    const reason = "execution_interrupted";
    const message = "the bot stopped before it recorded how this ended";
    const closed = await db(
      abandonExecution(ctx.db, stateName, row.id, interruptedAfterSeconds, { error: reason, message }),
    );
    if (!closed) return false;
    await recordBotClose(closed, {
      outcome: "failed",
      reason,
      details: {
        message,
        nothing_changed: false,
        confirmed_by: closed.decidedBy,
        confirmed_at: closed.decidedAt?.toISOString() ?? null,
      },
      card: { outcome: refusalOutcome(reason, message, false) },
    });
    return true;
  };

  const sweepOnce = async (): Promise<number> => {
    if (!(await db(stateExists(ctx.db, stateName)))) return 0;
    let closed = 0;
    for (const row of await db(duePending(ctx.db, stateName))) {
      if (await expire(row)) closed += 1;
    }
    for (const row of await db(staleExecuting(ctx.db, stateName, interruptedAfterSeconds))) {
      if (await closeInterrupted(row)) closed += 1;
    }
    return closed;
  };

  const sweep = (): Promise<number> => {
    // One sweep at a time per process; replicas race harmlessly (each close is a conditional UPDATE).
    sweeping ??= sweepOnce().finally(() => {
      sweeping = null;
    });
    return sweeping;
  };

  return {
    authorize,
    request,
    decide,
    sweep,
    startSweeper(intervalMs = SWEEP_INTERVAL_MS) {
      if (sweeper) return;
      sweeper = setInterval(() => {
        sweep().catch((error: unknown) => logger.warn("the confirmation sweeper failed", { error }));
      }, intervalMs);
      sweeper.unref();
    },
    stopSweeper() {
      if (sweeper) clearInterval(sweeper);
      sweeper = null;
    },
  };
}

// What every step of the confirmation lifecycle shares: the state calls (answering in OperatorErrors
// naming Postgres), audit rows (one per step, some retried until Postgres takes them), metrics, the
// card port, and what the bot records when it closes a request by itself.
import { describeDatabase, postgresError } from "../../backends/postgres.ts";
import { writeAudit } from "../../state/audit.ts";
import { type Confirmation, expireConfirmation } from "../../state/confirmations.ts";
import { type OperatorContext, resolveSchema } from "../context.ts";
import { prepareState } from "../mutation.ts";
import type { MutationRequest, RequestPreview } from "../requests.ts";
import { auditActionOf, auditTarget, cardState, parseStored, requestKind } from "./record.ts";
import type { CardState, WorkflowPorts } from "./types.ts";

/** How long an audit row that could not be written is retried in the background. */
const AUDIT_RETRY_FOR_MS = 120_000;
/** The audit actor for what the bot decides by itself (expiry, interrupted executions). */
export const BOT_ACTOR = "scrypath-bot";
/** The audit action of a click that names no request the bot knows. */
export const UNKNOWN_REQUEST_ACTION = "scrypath.ops.confirmation";

/** Where an audit row says a step happened. */
export interface Where {
  channel: string | null;
  messageTs: string | null;
  team: string | null;
  id: string | null;
}

export interface AuditStep {
  actor: string;
  request: MutationRequest | null;
  preview?: RequestPreview | null;
  outcome: string;
  reason?: string | null;
  where: Where;
  details?: Record<string, unknown>;
}

export interface Lifecycle {
  ctx: OperatorContext;
  ports: WorkflowPorts;
  stateName: string;
  /** A state call whose failure is an OperatorError naming Postgres. */
  db<T>(work: Promise<T>): Promise<T>;
  count(request: MutationRequest | null, outcome: string): void;
  /** One audit row; a failure to write it is logged (the step already happened): false. */
  audit(step: AuditStep): Promise<boolean>;
  /** An audit row an outage must not lose: awaited once, then retried in the background. */
  auditEventually(step: AuditStep): Promise<void>;
  /** Edit a request's card to show `row` (and `extra`). */
  showCard(row: Confirmation, preview: RequestPreview, extra?: Partial<CardState>): Promise<void>;
  /** The metric, a BOT_ACTOR audit row and the card, for a request the bot closed itself. */
  recordBotClose(
    closed: Confirmation,
    entry: { outcome: string; reason: string; details: Record<string, unknown>; card?: Partial<CardState> },
  ): Promise<void>;
  /** Expire a pending request whose time is up (once, whoever gets there first); false if not. */
  expire(row: Confirmation): Promise<boolean>;
  /** Requests this process claimed and is executing now (closed as interrupted by a shutdown). */
  running: Set<string>;
  /** Aborted when the bot starts shutting down: executions that can stop at a safe point do. */
  stopping: AbortController;
}

export function whereOf(row: Confirmation): Where {
  return { channel: row.channelId, messageTs: row.messageTs, team: row.teamId, id: row.id };
}

export function createLifecycle(ctx: OperatorContext, ports: WorkflowPorts): Lifecycle {
  const { logger } = ports;
  const stateName = ctx.config.state.schema;

  const db = <T>(work: Promise<T>): Promise<T> =>
    work.catch((error: unknown) => {
      throw postgresError(error, describeDatabase(ctx.config.database.url));
    });

  const count = (request: MutationRequest | null, outcome: string) =>
    ports.count(request ? requestKind(request) : "unknown", outcome);

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

  const audit = async (entry: AuditStep): Promise<boolean> => {
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
   * The first attempt is awaited; when it fails, the row is written in the background as soon as
   * Postgres takes it (every 2 s, for up to 2 minutes).
   */
  const auditEventually = async (entry: AuditStep): Promise<void> => {
    if (await audit(entry)) return;
    void (async () => {
      const until = Date.now() + AUDIT_RETRY_FOR_MS;
      while (Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 2_000).unref());
        if (await audit(entry)) return;
      }
    })();
  };

  const showCard: Lifecycle["showCard"] = async (row, preview, extra) => {
    if (!row.messageTs) return;
    await ports.cards.show({
      id: row.id,
      channelId: row.channelId,
      messageTs: row.messageTs,
      threadTs: row.threadTs,
      preview,
      state: cardState(row, extra),
    });
  };

  const recordBotClose: Lifecycle["recordBotClose"] = async (closed, entry) => {
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
    if (saved) await showCard(closed, saved.preview, entry.card);
  };

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

  return {
    ctx,
    ports,
    stateName,
    db,
    count,
    audit,
    auditEventually,
    showCard,
    recordBotClose,
    expire,
    running: new Set(),
    stopping: new AbortController(),
  };
}

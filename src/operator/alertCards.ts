// Live alerts' claims and records for the alert runner (src/alerts) and the card's Acknowledge and
// Snooze controls: the bot's alert tables (src/state/alerts.ts) bound to the operator's pool and
// state schema, plus acknowledge / snooze, which record who and when on the alert, queue the
// timeline line and write the audit entry. The runner re-renders the card afterwards.
import { contentHash, queueEvents } from "../core/alerts.ts";
import type { TimelineEvent } from "../core/alertTypes.ts";
import {
  type AlertRow,
  claimCheck,
  claimEdit,
  claimPost,
  finishEdit,
  getAlert,
  insertAlert,
  openAlertSchemas,
  openAlerts,
  recordCheck,
  recordPost,
  releaseChecks,
  releasePost,
  restoreTimeline,
  takeTimeline,
  unsyncedAlerts,
  updateAlert,
} from "../state/alerts.ts";
import { writeAudit } from "../state/audit.ts";
import type { OperatorContext } from "./context.ts";
import { requireMigrated } from "./migrations.ts";

export type { AlertFields, AlertRow, CheckRow } from "../state/alerts.ts";

/** Audit action names of the card's controls. */
export const ALERT_AUDIT_ACTIONS = {
  acknowledge: "scrypath.alerts.acknowledge",
  snooze: "scrypath.alerts.snooze",
} as const;

/** A state function without its first two arguments (the pool and the state schema). */
type Bound<F> = F extends (db: never, stateName: string, ...args: infer A) => infer R
  ? (...args: A) => R
  : never;

/** What a click on Acknowledge or Snooze did. */
export type AlertControlResult =
  | { ok: true; alert: AlertRow; changed: boolean }
  | { ok: false; reason: "not_found" | "resolved"; alert: AlertRow | null };

export interface AlertControlInput {
  id: number;
  userId: string;
  at: Date;
  /** Where the click came from (channel, message ts), for the audit entry. */
  context?: Record<string, unknown>;
}

export interface AlertCards {
  /** Refuses (`migrations_pending`) unless the bot's tables are migrated; creates nothing. */
  ensure(): Promise<void>;
  claimCheck: Bound<typeof claimCheck>;
  recordCheck: Bound<typeof recordCheck>;
  releaseChecks: Bound<typeof releaseChecks>;
  get: Bound<typeof getAlert>;
  open: Bound<typeof openAlerts>;
  openSchemas: Bound<typeof openAlertSchemas>;
  unsynced: Bound<typeof unsyncedAlerts>;
  insert: Bound<typeof insertAlert>;
  update: Bound<typeof updateAlert>;
  claimPost: Bound<typeof claimPost>;
  recordPost: Bound<typeof recordPost>;
  releasePost: Bound<typeof releasePost>;
  claimEdit: Bound<typeof claimEdit>;
  finishEdit: Bound<typeof finishEdit>;
  takeTimeline: Bound<typeof takeTimeline>;
  restoreTimeline: Bound<typeof restoreTimeline>;
  /** Records who is looking (shown on the card), queues the timeline line, audits. */
  acknowledge(input: AlertControlInput): Promise<AlertControlResult>;
  /** Snoozes for `seconds` (null: until resolved), queues the timeline line, audits. */
  snooze(input: AlertControlInput & { seconds: number | null }): Promise<AlertControlResult>;
}

/** Tries a version-guarded change a few times (a check may write the row in between). */
const ATTEMPTS = 5;

export function alertCards(ctx: OperatorContext): AlertCards {
  const db = ctx.db;
  const name = ctx.config.state.schema;

  async function control(
    input: AlertControlInput,
    action: string,
    change: (row: AlertRow) => { fields: Partial<AlertRow>; event: TimelineEvent } | null,
    details: Record<string, unknown>,
  ): Promise<AlertControlResult> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const row = await getAlert(db, name, input.id);
      if (!row) return { ok: false, reason: "not_found", alert: null };
      if (row.status !== "open") return { ok: false, reason: "resolved", alert: row };
      const wanted = change(row);
      if (!wanted) return { ok: true, alert: row, changed: false };
      const next = { ...row, ...wanted.fields, timeline: queueEvents(row.timeline, [wanted.event]) };
      const updated = await updateAlert(db, name, {
        id: row.id,
        version: row.version,
        fields: next,
        contentHash: contentHash(next),
      });
      if (!updated) continue;
      await writeAudit(db, name, {
        actor: input.userId,
        action,
        schema: row.schema,
        index: row.index,
        target: { alert_id: row.id, channel: row.channel, condition: row.condition },
        outcome: "recorded",
        details,
        context: input.context ?? {},
      });
      return { ok: true, alert: updated, changed: true };
    }
    throw new Error(`alert ${input.id} kept changing; the click was not recorded, try again`);
  }

  return {
    ensure: () => requireMigrated(ctx),
    claimCheck: (...a) => claimCheck(db, name, ...a),
    recordCheck: (...a) => recordCheck(db, name, ...a),
    releaseChecks: (...a) => releaseChecks(db, name, ...a),
    get: (...a) => getAlert(db, name, ...a),
    open: (...a) => openAlerts(db, name, ...a),
    openSchemas: (...a) => openAlertSchemas(db, name, ...a),
    unsynced: (...a) => unsyncedAlerts(db, name, ...a),
    insert: (...a) => insertAlert(db, name, ...a),
    update: (...a) => updateAlert(db, name, ...a),
    claimPost: (...a) => claimPost(db, name, ...a),
    recordPost: (...a) => recordPost(db, name, ...a),
    releasePost: (...a) => releasePost(db, name, ...a),
    claimEdit: (...a) => claimEdit(db, name, ...a),
    finishEdit: (...a) => finishEdit(db, name, ...a),
    takeTimeline: (...a) => takeTimeline(db, name, ...a),
    restoreTimeline: (...a) => restoreTimeline(db, name, ...a),

    acknowledge(input) {
      const at = input.at.toISOString();
      return control(
        input,
        ALERT_AUDIT_ACTIONS.acknowledge,
        (row) =>
          row.acknowledgedBy === input.userId
            ? null
            : {
                fields: { acknowledgedBy: input.userId, acknowledgedAt: at },
                event: { kind: "acknowledged", at, userId: input.userId },
              },
        {},
      );
    },

    snooze(input) {
      const at = input.at.toISOString();
      const until =
        input.seconds === null ? null : new Date(input.at.getTime() + input.seconds * 1000).toISOString();
      return control(
        input,
        ALERT_AUDIT_ACTIONS.snooze,
        () => ({
          fields: {
            snoozedUntil: until,
            snoozedUntilResolved: input.seconds === null,
            snoozedBy: input.userId,
          },
          event: { kind: "snoozed", at, userId: input.userId, until },
        }),
        { until: until ?? "resolved" },
      );
    },
  };
}

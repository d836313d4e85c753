// Where a mutation's schema (and, for a retry, its row) stands, in the triage vocabulary
// (src/core/tally.ts): read when the card is requested and again once a confirmed request ran, so a
// card shows the same words and figures `/scrypath failed <schema>` would print at that moment.
// The same reads as that command (schemaTally, the row's replay link); never throws: a standing
// that cannot be read is left out, and the card says the figures it has are as of their read.
import { z } from "zod";
import { findJob } from "../backends/obanJobs.ts";
import { failedWorkFromJob } from "../core/failedWork.ts";
import { REPLAY_VERDICTS, type ReplayVerdict, type TriageTally } from "../core/tally.ts";
import type { FailedWork, ReplayRef } from "../core/types.ts";
import { stateExists } from "../state/migrations.ts";
import { latestReplays } from "../state/replayLinks.ts";
import { findChange } from "../state/settingsChanges.ts";
import { withTimeout } from "../timeout.ts";
import { postgresRead } from "./bounded.ts";
import { MEILISEARCH_BACKEND, type OperatorContext, type ResolvedSchema, resolveSchema } from "./context.ts";
import { replayRefOf } from "./failedWork.ts";
import type { MutationRequest } from "./mutationRequest.ts";
import { isFailedWorkOf, parseRetryTarget } from "./retry.ts";
import { schemaTally } from "./status.ts";

/** One failed Oban row as the failed-work list shows it: its plane, when Oban retries, its replay. */
export interface RowStanding {
  id: number;
  /** Oban's own state: `discarded`, `cancelled` (terminal) or `retryable` (retrying). */
  obanState: string;
  state: FailedWork["state"];
  retryAt: Date | null;
  attempt: number | null;
  maxAttempts: number | null;
  replayedAs: ReplayRef | null;
}

export interface CardStanding {
  /** The schema module, and the name `/scrypath failed` is asked with (its alias, else the module). */
  schema: string;
  label: string;
  readAt: Date;
  /** The schema's tally; null when it could not be read at all. */
  tally: TriageTally | null;
  /** The row a retry acts on; null for schema-level requests (or when it could not be read). */
  row: RowStanding | null;
}

const date = z.coerce.date();
const plane = z.object({ backend: z.number(), queue: z.number(), total: z.number() });

/** A stored standing (JSON: dates as ISO strings), parsed back. */
export const cardStanding = z.object({
  schema: z.string(),
  label: z.string(),
  readAt: date,
  tally: z
    .object({
      terminal: plane,
      retrying: z.object({ total: z.number(), nextAt: date.nullable() }),
      pending: plane,
      replayed: z.object({
        pending: z.number(),
        completed: z.number(),
        // Cards stored before the bot kept replay verdicts have no count of verified replays.
        verified: z.number().default(0),
        failed: z.number(),
        gone: z.number(),
        total: z.number(),
      }),
      resolved: z.number(),
      rows: z.number(),
      needsTriage: z.number(),
      read: z.object({ backend: z.boolean(), queue: z.boolean() }),
    })
    .nullable(),
  row: z
    .object({
      id: z.number(),
      obanState: z.string(),
      state: z.enum(["failed", "retrying"]),
      retryAt: date.nullable(),
      attempt: z.number().nullable(),
      maxAttempts: z.number().nullable(),
      replayedAs: z
        .object({
          jobId: z.number(),
          state: z.string().nullable(),
          verification: z.enum(REPLAY_VERDICTS as [ReplayVerdict, ...ReplayVerdict[]]).nullish(),
          requestedBy: z.string(),
          at: date,
        })
        .nullable(),
    })
    .nullable(),
});

/** After a confirmed request ran, the standing is re-read within this (else the card keeps the old one). */
export const STANDING_AFTER_MS = 3_000;

/** The schema and the row (`oban:601`) a request concerns; null when it concerns none. */
async function subjectOf(
  ctx: OperatorContext,
  request: MutationRequest,
): Promise<{ schema: ResolvedSchema; row: string | null } | null> {
  switch (request.kind) {
    case "retry":
      return { schema: resolveSchema(ctx, request.schema), row: request.target };
    case "action":
      return {
        schema: resolveSchema(ctx, request.schema),
        row: request.action === "retry" ? (request.id ?? null) : null,
      };
    case "hot_apply":
    case "bulk_retry":
      return { schema: resolveSchema(ctx, request.schema), row: null };
    case "revert": {
      const state = ctx.config.state.schema;
      const change = (await stateExists(ctx.db, state))
        ? await findChange(ctx.db, state, request.changeId)
        : null;
      return change ? { schema: resolveSchema(ctx, change.schema), row: null } : null;
    }
  }
}

/** The failed row a retry acts on, with its newest replay; null when it is not failed work of the schema. */
async function rowStanding(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  target: string,
): Promise<RowStanding | null> {
  const scope = schema.obanScope;
  const { source, id } = parseRetryTarget(target);
  if (!scope || source === "meilisearch") return null;
  const stateName = ctx.config.state.schema;
  const [job, replays] = await Promise.all([
    findJob(ctx.db, scope.prefix, id),
    stateExists(ctx.db, stateName).then((exists) =>
      exists ? latestReplays(ctx.db, stateName, scope.prefix, [id]) : new Map(),
    ),
  ]);
  if (!job || !isFailedWorkOf(scope, job)) return null;
  const row = failedWorkFromJob(job, { schema: schema.module, backend: MEILISEARCH_BACKEND });
  const link = replays.get(id);
  return {
    id,
    obanState: job.state,
    state: row.state,
    retryAt: row.retryAt ?? null,
    attempt: row.attempt,
    maxAttempts: row.maxAttempts,
    replayedAs: link ? replayRefOf(link) : null,
  };
}

/**
 * Where the request's schema (and row) stands now, by the same reads as `/scrypath failed`; null
 * when the request concerns no schema or nothing could be read. Never throws.
 */
export async function standingOf(
  ctx: OperatorContext,
  request: MutationRequest,
): Promise<CardStanding | null> {
  try {
    const subject = await subjectOf(ctx, request);
    if (!subject) return null;
    const { schema, row } = subject;
    const [tally, rowNow] = await Promise.all([
      schemaTally(ctx, schema).catch(() => null),
      row
        ? postgresRead(ctx, [], () => rowStanding(ctx, schema, row)).catch(() => null)
        : Promise.resolve(null),
    ]);
    if (!tally && !rowNow) return null;
    return {
      schema: schema.module,
      label: schema.config.alias ?? schema.module,
      readAt: new Date(),
      tally,
      row: rowNow,
    };
  } catch {
    return null;
  }
}

/** The standing once a confirmed request ran, read within STANDING_AFTER_MS; null past it. */
export function standingAfter(ctx: OperatorContext, request: MutationRequest): Promise<CardStanding | null> {
  return withTimeout(standingOf(ctx, request), STANDING_AFTER_MS, () => null).catch(() => null);
}

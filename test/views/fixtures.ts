// Realistic operator results for view tests, built with the core's own constructors (no services),
// plus hostile data: mentions, links, ampersands, secrets, very long errors, unicode.

import type { Button } from "@slack/types";
import { expect } from "vitest";
import { compareContract } from "../../src/core/contractDrift.ts";
import { failedWorkFromJob, failedWorkFromTask, UPSERT_WORKER } from "../../src/core/failedWork.ts";
import { posture } from "../../src/core/posture.ts";
import {
  driftSignals,
  recommendedActions,
  reconcileSummary,
  reindexVisibility,
  targetFactsFromTasks,
} from "../../src/core/reconcile.ts";
import { countReasonClasses } from "../../src/core/rollup.ts";
import { type TriageTally, triageTally } from "../../src/core/tally.ts";
import type { FailedWork, MeiliTask, ObanJob, Status, SyncState } from "../../src/core/types.ts";
import type {
  FailedWorkResult,
  FleetPosture,
  ReconcileReport,
  SchemaPosture,
} from "../../src/operator/index.ts";
import type { SlackMessage, ViewContext } from "../../views/types.ts";
import { expectValidMessage, unexpectedTokens } from "../support/blockKit.ts";

export const NOW = new Date("2026-11-20T10:00:00Z");
export const SCHEMA = "MyApp.Blog.Post";
export const INDEX = "prod_posts";

/** Mentions, a disguised link and an ampersand: none may render as such. */
export const HOSTILE = "<!channel> <@U123> <https://evil.example|click> & <!here> <!subteam^S1>";
export const SECRET = "sk-live-123456";

export const DASHBOARD_HOSTS = ["oban.example.com", "meili.example.com", "runbooks.example.com"];

export function viewContext(overrides: Partial<ViewContext> = {}): ViewContext {
  return {
    now: NOW,
    dashboardLinks: {
      job: "https://oban.example.com/jobs/{id}?queue={queue}",
      index: "https://meili.example.com/indexes/{index}",
      runbook: "https://runbooks.example.com/scrypath",
    },
    sharedBy: null,
    ...overrides,
  };
}

const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000);

export function syncState(overrides: Partial<SyncState> = {}): SyncState {
  return {
    source: "meilisearch",
    kind: "backend_task",
    id: 402,
    state: "completed",
    at: minutesAgo(4),
    metadata: { type: "documentAdditionOrUpdate" },
    ...overrides,
  };
}

export function status(overrides: Partial<Status> = {}): Status {
  return {
    schema: SCHEMA,
    mode: "oban",
    index: INDEX,
    backend: {
      pending: { total: 1, items: [syncState({ id: 410, state: "pending", at: null })] },
      failed: {
        total: 2,
        items: [syncState({ id: 404, state: "failed" }), syncState({ id: 403, state: "failed" })],
      },
      lastSucceeded: syncState(),
    },
    queue: {
      observed: true,
      pending: { total: 3, items: [] },
      retrying: { total: 1, items: [] },
      failed: {
        total: 5,
        items: [
          syncState({
            source: "oban",
            kind: "queue_job",
            id: 601,
            state: "failed",
            metadata: { worker: UPSERT_WORKER, queue: "search_sync", oban_state: "discarded" },
          }),
        ],
      },
      lastSucceeded: syncState({ source: "oban", kind: "queue_job", id: 650, at: minutesAgo(1) }),
    },
    ...overrides,
  };
}

export function cleanStatus(schema: string, mode: Status["mode"] = "oban"): Status {
  const empty = { total: 0, items: [] };
  return {
    schema,
    mode,
    index: `prod_${schema.split(".").pop()?.toLowerCase()}`,
    backend: { pending: empty, failed: empty, lastSucceeded: syncState({ at: minutesAgo(120) }) },
    queue: {
      observed: mode === "oban",
      pending: empty,
      retrying: empty,
      failed: empty,
      lastSucceeded: null,
    },
  };
}

export function fleet(schemas: SchemaPosture[]): FleetPosture {
  const verdict = posture(
    schemas.map((s) =>
      s.tally
        ? {
            schema: s.schema,
            ok: true as const,
            backendFailed: s.tally.terminal.backend,
            queueFailed: s.tally.terminal.queue,
            resolved: s.tally.terminal.total - s.tally.needsTriage,
          }
        : s.status
          ? {
              schema: s.schema,
              ok: true as const,
              backendFailed: s.status.backend.failed.total,
              queueFailed: s.status.queue.failed.total,
            }
          : { schema: s.schema, ok: false as const, error: s.error?.message ?? "unknown error" },
    ),
  );
  return { posture: verdict, schemas };
}

export function obanJob(overrides: Partial<ObanJob> = {}): ObanJob {
  return {
    id: 601,
    state: "discarded",
    queue: "search_sync",
    worker: UPSERT_WORKER,
    args: {
      operation: "upsert",
      schema: SCHEMA,
      index: INDEX,
      documents: [{ id: 1, title: "Crème brûlée 🍮" }],
      meilisearch_api_key: SECRET,
      meilisearch_url: "https://search.internal:7700",
    },
    lastError: {
      attempt: 3,
      at: "2026-11-20T09:56:00Z",
      error: "** (Req.TransportError) timeout connecting to https://search.internal:7700",
    },
    firstError: { attempt: 1, at: "2026-11-20T09:40:00Z", error: "** (RuntimeError) boom" },
    attempt: 3,
    maxAttempts: 20,
    attemptedAt: minutesAgo(4),
    completedAt: null,
    insertedAt: minutesAgo(60),
    ...overrides,
  };
}

export function meiliTask(overrides: Partial<MeiliTask> = {}): MeiliTask {
  return {
    uid: 403,
    indexUid: INDEX,
    status: "failed",
    type: "documentAdditionOrUpdate",
    error: {
      message: "Document `42` has an invalid `_geo` field",
      code: "invalid_document_geo_field",
      type: "invalid_request",
    },
    enqueuedAt: "2026-11-20T07:59:00Z",
    finishedAt: "2026-11-20T08:00:00Z",
    ...overrides,
  };
}

export const backendRow = (overrides: Partial<MeiliTask> = {}): FailedWork =>
  failedWorkFromTask(meiliTask(overrides), { schema: SCHEMA, mode: "oban" });

export const queueRow = (overrides: Partial<ObanJob> = {}): FailedWork =>
  failedWorkFromJob(obanJob(overrides), { schema: SCHEMA, backend: "meilisearch" });

/** A hostile queue row: mention/link text, a credential and a 10,000-character error. */
export function hostileRow(): FailedWork {
  return queueRow({
    id: 602,
    state: "retryable",
    lastError: {
      error: `${HOSTILE} api_key=${SECRET} Authorization: Bearer xyz.secret.token ${"x".repeat(10_000)}`,
    },
  });
}

export function failedResult(
  entries: FailedWork[],
  overrides: Partial<FailedWorkResult> = {},
): FailedWorkResult {
  return {
    schema: SCHEMA,
    mode: "oban",
    index: INDEX,
    entries,
    counts: countReasonClasses(entries),
    nextCursor: null,
    backendCoverage: {
      total: entries.filter((e) => e.source === "meilisearch").length,
      classified: entries.filter((e) => e.source === "meilisearch").length,
    },
    tally: tallyOfRows(entries),
    ...overrides,
  };
}

/** The tally the operator would compute for these failed rows (no pending work). */
export function tallyOfRows(entries: readonly FailedWork[]): TriageTally {
  const queue = entries.filter((e) => e.source === "oban");
  return triageTally({
    backend: { failed: entries.length - queue.length, pending: 0 },
    queue: {
      terminal: queue.filter((e) => e.state !== "retrying").length,
      retrying: queue.filter((e) => e.state === "retrying").length,
      pending: 0,
      nextRetryAt: null,
    },
    replays: queue.flatMap((e) =>
      e.replayedAs
        ? [
            {
              row: e.state === "retrying" ? "retrying" : "terminal",
              replayState: e.replayedAs.state,
              verification: e.replayedAs.verification ?? null,
              count: 1,
            } as const,
          ]
        : [],
    ),
  });
}

/** 1,000 failed rows, as the operator would count them; `entries` holds only what was asked. */
export function thousandRows(): FailedWork[] {
  return Array.from({ length: 1000 }, (_, i) =>
    i % 10 === 0
      ? backendRow({ uid: 5000 - i })
      : queueRow({
          id: 9000 - i,
          state: i % 3 === 0 ? "retryable" : "discarded",
          lastError: { error: i % 2 === 0 ? "** (Ecto.CastError) cannot cast" : "boom" },
        }),
  );
}

export function reconcileReport(overrides: { status?: Status; failed?: FailedWork[] } = {}): ReconcileReport {
  const st = overrides.status ?? status();
  const failed = overrides.failed ?? [queueRow(), queueRow({ id: 605 }), backendRow()];
  const reindex = reindexVisibility(
    INDEX,
    `${INDEX}__reindex`,
    targetFactsFromTasks([
      { uid: 700, indexUid: `${INDEX}__reindex`, status: "succeeded", type: "indexCreation" },
      { uid: 701, indexUid: `${INDEX}__reindex`, status: "processing", type: "documentAdditionOrUpdate" },
    ]),
  );
  const signals = driftSignals({
    backendPending: st.backend.pending.total,
    queuePending: st.queue.pending.total,
    queueRetrying: st.queue.retrying.total,
    failedWork: failed.length,
    reindex,
  });
  const retryRows = failed.filter((f) => f.recovery);
  return {
    schema: SCHEMA,
    mode: st.mode,
    index: INDEX,
    status: st,
    failedWork: retryRows,
    failedWorkCounts: countReasonClasses(failed),
    driftSignals: signals,
    actions: recommendedActions({
      retryActions: retryRows.map((r) => r.recovery).filter((r) => r !== null),
      failedWork: failed.length,
      reindex,
      schema: SCHEMA,
      backend: "meilisearch",
      mode: st.mode,
      liveIndex: INDEX,
    }),
    retryableTotal: retryRows.length,
    reindex,
    summary: reconcileSummary(signals, reindex),
    tally: {
      ...tallyOfRows(failed),
      pending: {
        backend: st.backend.pending.total,
        queue: st.queue.pending.total,
        total: st.backend.pending.total + st.queue.pending.total,
      },
    },
    indexContractDrift: null,
  };
}

export function driftReport(applied: Record<string, unknown>) {
  return compareContract({
    schema: SCHEMA,
    index: INDEX,
    contract: {
      fields: ["title", "body"],
      filterable: ["status", "tenant_id"],
      sortable: ["published_at"],
      faceting: { attributes: ["status"], maxValuesPerFacet: 100, sortFacetValuesBy: {} },
      settings: { synonyms: { tv: ["television"] } },
    },
    applied,
  });
}

/**
 * Every view test ends here: valid Block Kit, a fallback within bounds, no mention or link that
 * came from data, no secret, no lone surrogate from a bad cut.
 */
export function expectSafe(
  message: SlackMessage,
  opts: { allowedUsers?: string[]; allowedGroups?: string[] } = {},
): void {
  expectValidMessage(message);
  expect(message.blocks.length).toBeLessThanOrEqual(50);
  expect(message.text.trim().length).toBeGreaterThan(0);
  expect(message.text.length).toBeLessThanOrEqual(3000);
  expect(unexpectedTokens(message, { allowedHosts: DASHBOARD_HOSTS, ...opts })).toEqual([]);
  const json = JSON.stringify(message);
  expect(json).not.toContain(SECRET);
  expect(json).not.toContain("xyz.secret.token");
  expect(json).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
}

/** All visible mrkdwn and plain text of a message, joined, for `toContain` checks. */
export function visibleText(message: SlackMessage): string {
  const out: string[] = [message.text];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) for (const n of node) walk(n);
    else if (node && typeof node === "object") {
      const o = node as Record<string, unknown>;
      if ((o.type === "mrkdwn" || o.type === "plain_text") && typeof o.text === "string") out.push(o.text);
      for (const v of Object.values(o)) walk(v);
    }
  };
  walk(message.blocks);
  return out.join("\n");
}

/** Buttons anywhere in the message (actions blocks and section accessories). */
export function buttons(message: SlackMessage): Button[] {
  const out: Button[] = [];
  for (const b of message.blocks) {
    if (b.type === "actions") out.push(...(b.elements as Button[]));
    if (b.type === "section" && b.accessory?.type === "button") out.push(b.accessory);
  }
  return out;
}

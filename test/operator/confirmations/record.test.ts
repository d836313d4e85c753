// What the workflow records about a request, as pure functions: the status it stores agrees with
// what the card says, and what a view may know of a row.
import { describe, expect, it } from "vitest";
import { OperatorError } from "../../../src/errors.ts";
import {
  auditActionOf,
  auditTarget,
  replayJobOf,
  succeeded,
  summaryOf,
  viewOf,
} from "../../../src/operator/confirmations/record.ts";
import type {
  HandOffResult,
  RetryResult,
  SettingsTaskResult,
  SwapResult,
} from "../../../src/operator/index.ts";
import type { RequestOutcome } from "../../../src/operator/requests.ts";
import { cardStanding } from "../../../src/operator/standing.ts";
import type { Confirmation } from "../../../src/state/confirmations.ts";
import { outcomeOf } from "../../../views/confirm.ts";

const INDEX = "prod_post";
const job = {
  id: 1234,
  worker: "Scrypath.Oban.UpsertWorker",
  queue: "search_sync",
  state: "available",
  attempt: 0,
  maxAttempts: 20,
};
const retry: RetryResult = {
  id: 601,
  status: "accepted",
  mode: "oban",
  index: INDEX,
  documentIds: [1],
  documentCount: 1,
  job,
  auditId: 9,
};
const bulk = (failedBatches: number) => ({
  replayed: [
    { id: 601, jobId: 701 },
    { id: 602, jobId: 702 },
  ],
  skipped: { already_replayed: 1 },
  batches: 1,
  failedBatches,
  notAttempted: failedBatches > 0 ? 5 : 0,
  error:
    failedBatches > 0
      ? new OperatorError("postgres_unreachable", "Postgres did not answer", "postgres")
      : null,
});
const handOff = (action: "backfill" | "reindex"): HandOffResult => ({
  action,
  status: "accepted",
  mode: "oban",
  index: INDEX,
  targetIndex: `${INDEX}__reindex`,
  job: { ...job, worker: "MyApp.Reindex" },
  auditId: 10,
});
const swap = (status: SwapResult["status"]): SwapResult => ({
  status,
  liveIndex: INDEX,
  targetIndex: `${INDEX}__reindex`,
  taskUid: 880,
  error: null,
  auditId: 11,
});
const settings = (status: SettingsTaskResult["task"]["status"]): SettingsTaskResult => ({
  changeId: 12,
  schema: "MyApp.Blog.Post",
  index: INDEX,
  task: { uid: 55, status, error: null },
  auditId: 13,
});

describe("succeeded: the status a request ends in (done or failed)", () => {
  const outcomes: [string, RequestOutcome][] = [
    ["retry", { kind: "retry", result: retry }],
    ["recommended retry", { kind: "action", result: { action: "retry", result: retry } }],
    ["backfill", { kind: "action", result: { action: "backfill", result: handOff("backfill") } }],
    ["reindex", { kind: "action", result: { action: "reindex", result: handOff("reindex") } }],
    ["bulk retry", { kind: "bulk_retry", result: bulk(0) }],
    ["bulk retry with a failed batch", { kind: "bulk_retry", result: bulk(1) }],
    ...(["succeeded", "failed", "unconfirmed"] as const).map((status): [string, RequestOutcome] => [
      `swap ${status}`,
      { kind: "action", result: { action: "swap", result: swap(status) } },
    ]),
    ...(["succeeded", "failed", "cancelled", "unconfirmed"] as const).flatMap((status) =>
      (["hot_apply", "revert"] as const).map((kind): [string, RequestOutcome] => [
        `${kind} ${status}`,
        { kind, result: settings(status) },
      ]),
    ),
  ];

  it.each(outcomes)("%s: done exactly when the card says it was done", (_name, outcome) => {
    expect(succeeded(outcome)).toBe(outcomeOf(outcome).ok === true);
  });

  it("an unconfirmed or failed swap or settings task is not done", () => {
    expect(succeeded({ kind: "action", result: { action: "swap", result: swap("unconfirmed") } })).toBe(
      false,
    );
    expect(succeeded({ kind: "hot_apply", result: settings("unconfirmed") })).toBe(false);
    expect(succeeded({ kind: "revert", result: settings("failed") })).toBe(false);
    expect(succeeded({ kind: "retry", result: retry })).toBe(true);
  });
});

describe("a bulk retry's record: counts and the filter, never the ids", () => {
  const ids = Array.from({ length: 1000 }, (_, i) => 5000 + i);
  const request = {
    kind: "bulk_retry" as const,
    schema: "posts",
    reasonClass: "transport" as const,
    state: "terminal" as const,
    since: "2026-11-20T08:00:00.000Z",
    ids,
  };

  it("audits the retry action with the filter and how many ids, not the ids", () => {
    expect(auditActionOf(request)).toBe("scrypath.ops.failed_work_retry");
    const target = auditTarget(request);
    expect(target).toEqual({
      source: "oban",
      bulk: {
        reasonClass: "transport",
        since: "2026-11-20T08:00:00.000Z",
        state: "terminal",
        source: "oban",
      },
      count: 1000,
    });
    expect(JSON.stringify(target)).not.toContain("5001");
  });

  it("summarises counts per outcome; no single job to follow; failed when a batch failed", () => {
    const outcome: RequestOutcome = { kind: "bulk_retry", result: bulk(1) };
    expect(summaryOf(outcome)).toEqual({
      kind: "bulk_retry",
      replayed: 2,
      skipped: { already_replayed: 1 },
      batches: 1,
      failed_batches: 1,
      not_attempted: 5,
      error: "postgres_unreachable",
      message: "Postgres did not answer",
    });
    expect(replayJobOf(outcome)).toBeNull();
    expect(succeeded(outcome)).toBe(false);
    expect(succeeded({ kind: "bulk_retry", result: bulk(0) })).toBe(true);
  });
});

describe("viewOf: what a surface may know of a confirmation", () => {
  it("keeps who, where and when, and leaves out the stored request and its result", () => {
    const at = new Date("2026-12-07T06:00:00Z");
    const row: Confirmation = {
      id: "a".repeat(22),
      kind: "retry",
      schema: "MyApp.Blog.Post",
      request: { request: { kind: "retry" }, secret: "xoxb-never-shown" },
      requestedBy: "U0ALICE",
      teamId: "T0TEAM",
      channelId: "C0OPS",
      messageTs: "1.2",
      threadTs: null,
      status: "done",
      createdAt: at,
      expiresAt: at,
      decidedBy: "U0BOB",
      decidedAt: at,
      result: { job_id: 7 },
    };
    const view = viewOf(row);
    expect(view).toEqual({
      id: row.id,
      kind: "retry",
      schema: "MyApp.Blog.Post",
      requestedBy: "U0ALICE",
      teamId: "T0TEAM",
      channelId: "C0OPS",
      messageTs: "1.2",
      threadTs: null,
      status: "done",
      createdAt: at,
      expiresAt: at,
      decidedBy: "U0BOB",
      decidedAt: at,
    });
    expect(view).not.toHaveProperty("request");
    expect(view).not.toHaveProperty("result");
  });
});

describe("a card's stored standing", () => {
  const standing = (replayed: Record<string, number>) => ({
    schema: "MyApp.Blog.Post",
    label: "posts",
    readAt: "2026-12-07T07:00:00.000Z",
    tally: {
      terminal: { backend: 0, queue: 2, total: 2 },
      retrying: { total: 0, nextAt: null },
      pending: { backend: 0, queue: 0, total: 0 },
      replayed,
      resolved: 1,
      rows: 2,
      needsTriage: 1,
      read: { backend: true, queue: true },
    },
    row: {
      id: 7,
      obanState: "discarded",
      state: "failed",
      retryAt: null,
      attempt: 3,
      maxAttempts: 3,
      replayedAs: {
        jobId: 9,
        state: "completed",
        verification: "verified",
        requestedBy: "U1",
        at: "2026-12-07T06:00:00.000Z",
      },
    },
  });

  it("keeps the verified count and the replay's verdict through the round trip", () => {
    const parsed = cardStanding.parse(
      JSON.parse(
        JSON.stringify(standing({ pending: 0, completed: 0, verified: 1, failed: 0, gone: 0, total: 1 })),
      ),
    );
    expect(parsed.tally?.replayed.verified).toBe(1);
    expect(parsed.row?.replayedAs?.verification).toBe("verified");
  });

  it("reads a card stored before verdicts were kept as zero verified", () => {
    const old = standing({ pending: 0, completed: 1, failed: 0, gone: 0, total: 1 });
    old.row.replayedAs = { ...old.row.replayedAs, verification: undefined as unknown as string };
    const parsed = cardStanding.parse(JSON.parse(JSON.stringify(old)));
    expect(parsed.tally?.replayed).toMatchObject({ completed: 1, verified: 0 });
    expect(parsed.row?.replayedAs?.verification).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import {
  backendPlaneState,
  jobToSyncState,
  lastSucceeded,
  normalizeTaskStatus,
  preciseIso,
  QUEUE_COMPLETED_STATES,
  QUEUE_FAILED_STATES,
  QUEUE_PENDING_STATES,
  QUEUE_RETRYING_STATES,
  queuePlaneState,
  taskToSyncState,
} from "../../src/core/states.ts";
import { OBAN_STATES, type ObanJob, type SyncState } from "../../src/core/types.ts";

describe("normalizeTaskStatus", () => {
  it.each([
    ["enqueued", "enqueued"],
    ["queued", "enqueued"],
    ["processing", "processing"],
    ["succeeded", "succeeded"],
    ["failed", "failed"],
    ["canceled", "cancelled"],
    ["cancelled", "cancelled"],
  ] as const)("%s → %s", (input, expected) => {
    expect(normalizeTaskStatus(input)).toBe(expected);
  });
  it.each(["", "done", "SUCCEEDED", "toString", "__proto__"])("%s → null", (input) => {
    expect(normalizeTaskStatus(input)).toBeNull();
  });
});

describe("backendPlaneState", () => {
  it("maps statuses to the three backend buckets", () => {
    expect(backendPlaneState("enqueued")).toBe("pending");
    expect(backendPlaneState("processing")).toBe("pending");
    expect(backendPlaneState("succeeded")).toBe("completed");
    expect(backendPlaneState("failed")).toBe("failed");
    expect(backendPlaneState("cancelled")).toBe("failed");
  });
});

describe("queuePlaneState", () => {
  it.each([
    ["available", "queued"],
    ["scheduled", "queued"],
    ["executing", "queued"],
    ["suspended", "queued"],
    ["something_new", "queued"],
    ["retryable", "retrying"],
    ["discarded", "failed"],
    ["cancelled", "failed"],
    ["completed", "completed"],
  ])("%s → %s", (input, expected) => {
    expect(queuePlaneState(input)).toBe(expected);
  });

  it("bucket lists partition every Oban v14 state", () => {
    const all = [
      ...QUEUE_PENDING_STATES,
      ...QUEUE_RETRYING_STATES,
      ...QUEUE_FAILED_STATES,
      ...QUEUE_COMPLETED_STATES,
    ];
    expect([...all].sort()).toEqual([...OBAN_STATES].sort());
    for (const s of QUEUE_PENDING_STATES) expect(queuePlaneState(s)).toBe("queued");
    for (const s of QUEUE_FAILED_STATES) expect(queuePlaneState(s)).toBe("failed");
  });
});

describe("taskToSyncState", () => {
  it("builds a backend state with finishedAt", () => {
    const s = taskToSyncState({
      uid: 402,
      indexUid: "scrypath_post",
      status: "succeeded",
      type: "documentAdditionOrUpdate",
      finishedAt: "2026-04-16T22:00:00Z",
    });
    expect(s).toEqual({
      source: "meilisearch",
      kind: "backend_task",
      id: 402,
      state: "completed",
      at: new Date("2026-04-16T22:00:00Z"),
      atIso: "2026-04-16T22:00:00Z",
      metadata: { type: "documentAdditionOrUpdate" },
    });
  });
  it("keeps finishedAt's precision up to microseconds (Meilisearch sends nanoseconds)", () => {
    const s = taskToSyncState({
      uid: 3054,
      indexUid: "i",
      status: "succeeded",
      type: "documentDeletion",
      finishedAt: "2026-12-07T04:48:18.786363219Z",
    });
    expect(s.atIso).toBe("2026-12-07T04:48:18.786363Z");
    expect(s.at).toEqual(new Date("2026-12-07T04:48:18.786Z"));
  });
  it("cancelled is failed; missing or bad finishedAt is null", () => {
    const s = taskToSyncState({ uid: 1, indexUid: "i", status: "canceled", type: "documentDeletion" });
    expect(s.state).toBe("failed");
    expect(s.at).toBeNull();
    expect(
      taskToSyncState({ uid: 1, indexUid: "i", status: "enqueued", type: "x", finishedAt: "nope" }).at,
    ).toBeNull();
  });
});

const job = (over: Partial<ObanJob> = {}): ObanJob => ({
  id: 601,
  state: "completed",
  queue: "search_sync",
  worker: "Scrypath.Oban.UpsertWorker",
  args: {},
  lastError: null,
  firstError: null,
  attempt: 1,
  maxAttempts: 8,
  attemptedAt: new Date("2026-04-16T21:59:00Z"),
  completedAt: new Date("2026-04-16T22:00:00Z"),
  insertedAt: null,
  ...over,
});

describe("jobToSyncState", () => {
  it("uses completedAt and records worker, queue and oban state", () => {
    expect(jobToSyncState(job())).toEqual({
      source: "oban",
      kind: "queue_job",
      id: 601,
      state: "completed",
      at: new Date("2026-04-16T22:00:00Z"),
      metadata: { worker: "Scrypath.Oban.UpsertWorker", queue: "search_sync", oban_state: "completed" },
    });
    expect(jobToSyncState(job({ state: "retryable", completedAt: null })).state).toBe("retrying");
  });
  it("carries Postgres's microseconds when the backend read them as text", () => {
    const s = jobToSyncState(job({ completedAtIso: "2026-10-04T17:02:05.123456Z" }));
    expect(s.atIso).toBe("2026-10-04T17:02:05.123456Z");
    expect(jobToSyncState(job({ completedAtIso: "2026-04-16T22:00:00.000000Z" })).atIso).toBe(
      "2026-04-16T22:00:00Z",
    );
  });
});

// Upstream's current test/scrypath/operator/status_test.exs: "retains validated backend completion
// ISO and does not invent time for invalid evidence" and "preserves Oban completion ISO precision":
// `2026-10-04T13:02:05.123456-04:00` is `~U[2026-10-04 17:02:05.123456Z]`, printed by
// `DateTime.to_iso8601/1`; `not-a-time` has no time.
describe("preciseIso", () => {
  it.each([
    ["2026-10-04T13:02:05.123456-04:00", "2026-10-04T17:02:05.123456Z"],
    ["2026-10-04T17:02:05.123456Z", "2026-10-04T17:02:05.123456Z"],
    ["2026-12-07T04:48:18.786363219Z", "2026-12-07T04:48:18.786363Z"],
    ["2026-12-07T04:48:18.786363999Z", "2026-12-07T04:48:18.786363Z"],
    ["2026-10-04T17:02:05.120000Z", "2026-10-04T17:02:05.120000Z"],
    ["2026-10-04T17:02:05.5Z", "2026-10-04T17:02:05.5Z"],
    ["2026-04-16T22:00:00Z", "2026-04-16T22:00:00Z"],
    ["2026-04-16T22:00:00.000000Z", "2026-04-16T22:00:00Z"],
    ["2026-12-31T23:30:00.25-01:00", "2027-01-01T00:30:00.25Z"],
  ])("%s → %s", (input, expected) => {
    expect(preciseIso(input)).toBe(expected);
  });
  it.each([["not-a-time"], [""], ["2026-10-04T17:02:05"], ["2026-13-40T17:02:05Z"], [null], [undefined]])(
    "%s → null",
    (input) => {
      expect(preciseIso(input)).toBeNull();
    },
  );
});

describe("lastSucceeded", () => {
  const st = (id: number, state: SyncState["state"], at: string | null): SyncState => ({
    source: "meilisearch",
    kind: "backend_task",
    id,
    state,
    at: at ? new Date(at) : null,
    metadata: {},
  });
  it("picks the latest completed; missing at sorts oldest", () => {
    const states = [
      st(1, "completed", null),
      st(2, "completed", "2026-01-02T00:00:00Z"),
      st(3, "failed", "2026-01-09T00:00:00Z"),
      st(4, "completed", "2026-01-01T00:00:00Z"),
    ];
    expect(lastSucceeded(states)?.id).toBe(2);
    expect(lastSucceeded([st(1, "completed", null)])?.id).toBe(1);
    expect(lastSucceeded([st(3, "failed", null)])).toBeNull();
  });
});

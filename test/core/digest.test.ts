// The digest model (src/core/digest.ts): when a digest speaks (shouldPost), what it says changed
// (diffDigest), what counts as a change (digestHash), and the stored snapshot's own rules
// (isSnapshot, the stored tally, posture input). Pure: snapshots are built like buildDigest builds them.
import { describe, expect, it } from "vitest";
import {
  diffDigest,
  digestHash,
  isDegraded,
  isSnapshot,
  postureInput,
  shouldPost,
  storedTally,
  tallyOfStored,
  uncheckedSchemas,
} from "../../src/core/digest.ts";
import { triageTally } from "../../src/core/tally.ts";
import { schemaDigest, snapshot, unreadable } from "../support/digest.ts";

const POST = "MyApp.Blog.Post";
const PRODUCT = "MyApp.Catalog.Product";

const quiet = () => snapshot([schemaDigest(POST), schemaDigest(PRODUCT)]);
const failing = (transport: number, validation = 0) =>
  snapshot([schemaDigest(POST, { failedByClass: { transport, validation } }), schemaDigest(PRODUCT)]);
const prev = (s: ReturnType<typeof quiet>) => ({ contentHash: digestHash(s) });

describe("shouldPost", () => {
  it("always: every slot, whatever the content", () => {
    expect(shouldPost("always", quiet(), prev(quiet())).post).toBe(true);
    expect(shouldPost("always", quiet(), null).post).toBe(true);
  });

  it("degraded: only when posture is not ok or something could not be checked", () => {
    expect(shouldPost("degraded", quiet(), null)).toEqual({
      post: false,
      reason: "posture ok and every check read",
    });
    expect(shouldPost("degraded", failing(1), null).post).toBe(true);
    expect(shouldPost("degraded", snapshot([schemaDigest(POST), unreadable(PRODUCT)]), null).post).toBe(true);
    // Posture ok, but the contract check could not read the index: not green either.
    const contractUnread = snapshot([
      schemaDigest(POST, {
        contract: { differing: null },
        problems: [
          { check: "contract", backend: "meilisearch", code: "index_not_found", message: "index not found" },
        ],
      }),
    ]);
    expect(contractUnread.posture.state).toBe("ok");
    expect(isDegraded(contractUnread)).toBe(true);
    expect(shouldPost("degraded", contractUnread, null).post).toBe(true);
  });

  it("changed: the first digest posts, an unchanged one stays quiet, a class increase posts", () => {
    expect(shouldPost("changed", quiet(), null)).toEqual({ post: true, reason: "first digest" });
    expect(shouldPost("changed", quiet(), prev(quiet())).post).toBe(false);
    expect(shouldPost("changed", failing(2), prev(failing(1))).post).toBe(true);
    expect(shouldPost("changed", failing(1, 1), prev(failing(1))).post).toBe(true);
    expect(shouldPost("changed", failing(1), prev(failing(1))).post).toBe(false);
  });
});

describe("digestHash", () => {
  it("ignores timestamps, messages, neutral pending work and schema order", () => {
    const a = quiet();
    const b = snapshot([schemaDigest(PRODUCT), schemaDigest(POST)], "2026-11-21T09:00:00.000Z");
    expect(digestHash(b)).toBe(digestHash(a));
    const busy = snapshot([
      schemaDigest(POST, {
        sync: {
          ...(schemaDigest(POST).sync as NonNullable<ReturnType<typeof schemaDigest>["sync"]>),
          pending: { backend: 40, queue: 12, retrying: 3 },
          signals: ["pending_backend_work", "pending_queue_work"],
        },
      }),
      schemaDigest(PRODUCT),
    ]);
    expect(digestHash(busy)).toBe(digestHash(a));
    const downA = snapshot([schemaDigest(POST), unreadable(PRODUCT, "connection failed at 09:00")]);
    const downB = snapshot([schemaDigest(POST), unreadable(PRODUCT, "connection failed at 10:00")]);
    expect(digestHash(downA)).toBe(digestHash(downB));
  });

  it("changes with failure counts, contract drift, reindex state and readability", () => {
    const base = digestHash(quiet());
    expect(digestHash(failing(1))).not.toBe(base);
    expect(
      digestHash(
        snapshot([schemaDigest(POST, { contract: { differing: ["settings"] } }), schemaDigest(PRODUCT)]),
      ),
    ).not.toBe(base);
    expect(digestHash(snapshot([schemaDigest(POST), unreadable(PRODUCT)]))).not.toBe(base);
  });
});

describe("diffDigest", () => {
  it("has nothing to compare on the first digest", () => {
    expect(diffDigest(null, failing(3))).toEqual({
      first: true,
      since: null,
      posture: null,
      schemas: [],
      removed: [],
    });
  });

  it("names new failures by class, resolved ones, drift, signals and readability per schema", () => {
    const before = snapshot([
      schemaDigest(POST, {
        failedByClass: { transport: 4, validation: 2 },
        contract: { differing: ["fields"] },
      }),
      schemaDigest(PRODUCT),
      unreadable("MyApp.Accounts.User"),
      schemaDigest("MyApp.Old.Thing"),
    ]);
    const after = snapshot(
      [
        schemaDigest(POST, {
          failedByClass: { transport: 0, validation: 5 },
          contract: { differing: ["settings"] },
        }),
        unreadable(PRODUCT),
        schemaDigest("MyApp.Accounts.User"),
        schemaDigest("MyApp.New.Thing", { failedByClass: { unknown: 1 } }),
      ],
      "2026-11-21T09:00:00.000Z",
    );
    const diff = diffDigest(before, after);
    expect(diff.first).toBe(false);
    expect(diff.since).toBe("2026-11-20T09:00:00.000Z");
    expect(diff.posture).toBeNull();
    expect(diff.removed).toEqual(["MyApp.Old.Thing"]);
    const [post, product, user, added] = diff.schemas;
    expect(post?.failures).toEqual([
      { what: "transport", from: 4, to: 0 },
      { what: "validation", from: 2, to: 5 },
    ]);
    expect(post?.terminal).toEqual({ from: 6, to: 5 });
    expect(post?.driftStarted).toEqual(["settings"]);
    expect(post?.driftResolved).toEqual(["fields"]);
    expect(product?.unreadable.map((p) => [p.check, p.backend, p.code])).toEqual([
      ["sync", "meilisearch", "meilisearch_unreachable"],
    ]);
    // Counts that could not be read are not "resolved".
    expect(product?.failures).toEqual([]);
    expect(user?.readableAgain).toEqual(["sync"]);
    expect(added).toMatchObject({
      schema: "MyApp.New.Thing",
      added: true,
      failures: [{ what: "unknown", from: 0, to: 1 }],
      signalsRaised: ["failed_sync_work"],
    });
  });

  it("reports a posture change and lists only schemas that changed", () => {
    const diff = diffDigest(quiet(), failing(2));
    expect(diff.posture).toEqual({ from: "ok", to: "degraded" });
    expect(diff.schemas.map((s) => s.schema)).toEqual([POST]);
    expect(diffDigest(quiet(), quiet()).schemas).toEqual([]);
  });
});

describe("the stored snapshot", () => {
  it("reads back only a snapshot of this version, as JSON stores it", () => {
    const s = failing(2);
    expect(isSnapshot(JSON.parse(JSON.stringify(s)))).toBe(true);
    expect(isSnapshot({ ...s, version: 0 })).toBe(false);
    expect(isSnapshot({ ...s, schemas: undefined })).toBe(false);
    expect(isSnapshot({ ...s, posture: null })).toBe(false);
    expect(isSnapshot(null)).toBe(false);
    expect(isSnapshot("a digest")).toBe(false);
  });

  it("stores the triage tally with the next retry as an ISO string, and reads it back as a date", () => {
    const nextRetryAt = new Date("2026-11-20T09:30:00.000Z");
    const tally = triageTally({
      backend: { failed: 1, pending: 0 },
      queue: { terminal: 2, retrying: 3, pending: 0, nextRetryAt },
      replays: [],
    });
    const stored = storedTally(tally);
    expect(stored.retrying).toEqual({ total: 3, nextAt: "2026-11-20T09:30:00.000Z" });
    expect(tallyOfStored(JSON.parse(JSON.stringify(stored)))).toEqual(tally);
    const none = triageTally({ backend: null, queue: null, replays: [] });
    expect(storedTally(none).retrying.nextAt).toBeNull();
    expect(tallyOfStored(storedTally(none))).toEqual(none);
  });

  it("counts a schema's terminal failures for posture, or says it could not be read", () => {
    expect(postureInput(schemaDigest(POST, { failedByClass: { transport: 4 } }))).toEqual({
      schema: POST,
      ok: true,
      backendFailed: 0,
      queueFailed: 4,
      resolved: 0,
    });
    expect(postureInput(unreadable(PRODUCT, "Meilisearch is down"))).toEqual({
      schema: PRODUCT,
      ok: false,
      error: "Meilisearch is down",
    });
  });

  it("lists the schemas with a part that could not be checked", () => {
    const s = snapshot([schemaDigest(POST), unreadable(PRODUCT)]);
    expect(uncheckedSchemas(s).map((x) => x.schema)).toEqual([PRODUCT]);
    expect(uncheckedSchemas(quiet())).toEqual([]);
  });
});

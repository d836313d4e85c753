import type { Button } from "@slack/types";
import { describe, expect, it } from "vitest";
import { ACCESS_MESSAGES } from "../../src/core/access.ts";

import { triageTally } from "../../src/core/tally.ts";

import type { ConfirmationStatus } from "../../src/operator/confirmations/types.ts";

import type { HandOffResult } from "../../src/operator/handOff.ts";
import type { SettingsTaskResult } from "../../src/operator/hotApply.ts";
import { mutationRequest, type RequestPreview } from "../../src/operator/requests.ts";
import type { RetryResult } from "../../src/operator/retry.ts";
import type { CardStanding } from "../../src/operator/standing.ts";
import type { SwapResult } from "../../src/operator/swap.ts";
import type { ReplayObservation, ReplayState } from "../../src/operator/verify.ts";
import {
  accessRefusalView,
  alreadyDecidedView,
  type CardState,
  CONFIRM_ACTIONS,
  confirmationCard,
  outcomeOf,
  refusalOutcome,
  verificationReply,
} from "../../views/confirm.ts";
import { FAILED_PAGE_SIZE, failedView } from "../../views/failed.ts";
import { RETRY_BUTTONS_MAX, reconcileView } from "../../views/reconcile.ts";
import { REQUEST_ACTIONS, type SlackMessage } from "../../views/types.ts";
import {
  backendRow,
  buttons,
  expectSafe,
  failedResult,
  HOSTILE,
  INDEX,
  NOW,
  queueRow,
  reconcileReport,
  SCHEMA,
  SECRET,
  viewContext,
  visibleText,
} from "./fixtures.ts";

const ID = "AbCdEfGhIjKlMnOpQrStUv";
const REQUESTER = "U0REQUEST";
const DECIDER = "U0DECIDE";
const minutes = (m: number) => new Date(NOW.getTime() + m * 60_000);
const unix = (d: Date) => Math.floor(d.getTime() / 1000);

function retryPreview(over: Partial<RequestPreview> = {}): RequestPreview {
  return {
    title: "Retry failed work oban:601",
    schema: SCHEMA,
    index: INDEX,
    target: "oban:601",
    operation: "upsert",
    documentCount: 3,
    reasonClass: "transport",
    lastError: "** (Req.TransportError) timeout connecting to https://search.internal:7700",
    effect: "Inserts one new Oban job in queue search_sync; the failed job stays as it is.",
    danger: false,
    ...over,
  };
}

function swapPreview(over: Partial<RequestPreview> = {}): RequestPreview {
  return {
    title: `Swap ${INDEX} with ${INDEX}__reindex`,
    schema: SCHEMA,
    index: INDEX,
    target: null,
    operation: null,
    documentCount: null,
    reasonClass: null,
    lastError: null,
    effect: `Swaps the live index ${INDEX} with ${INDEX}__reindex in one step, if every promotion rule still holds when confirmed; ${INDEX}__reindex then holds the previous documents.`,
    danger: true,
    ...over,
  };
}

function state(over: Partial<CardState> = {}): CardState {
  return { status: "pending", requestedBy: REQUESTER, expiresAt: minutes(15), ...over };
}

const decided = (status: ConfirmationStatus, over: Partial<CardState> = {}) =>
  state({ status, decidedBy: DECIDER, decidedAt: minutes(-1), ...over });

const users = { allowedUsers: [REQUESTER, DECIDER] };
const hasActions = (m: SlackMessage) => m.blocks.some((b) => b.type === "actions") || buttons(m).length > 0;

const retryResult = (over: Partial<RetryResult> = {}): RetryResult => ({
  id: 601,
  status: "accepted",
  mode: "oban",
  index: INDEX,
  documentIds: [1, 2, 3],
  documentCount: 3,
  job: {
    id: 1234,
    worker: "Scrypath.Oban.UpsertWorker",
    queue: "search_sync",
    state: "available",
    attempt: 0,
    maxAttempts: 20,
  },
  auditId: 9,
  ...over,
});

const handOffResult = (action: "backfill" | "reindex"): HandOffResult => ({
  action,
  status: "accepted",
  mode: "oban",
  index: INDEX,
  targetIndex: `${INDEX}__reindex`,
  job: {
    id: 77,
    worker: "MyApp.Search.ReindexWorker",
    queue: "maintenance",
    state: "available",
    attempt: 0,
    maxAttempts: 3,
  },
  auditId: 10,
});

const swapResult = (over: Partial<SwapResult> = {}): SwapResult => ({
  status: "succeeded",
  liveIndex: INDEX,
  targetIndex: `${INDEX}__reindex`,
  taskUid: 880,
  error: null,
  auditId: 11,
  ...over,
});

const settingsResult = (task: Partial<SettingsTaskResult["task"]> = {}): SettingsTaskResult => ({
  changeId: 12,
  schema: SCHEMA,
  index: INDEX,
  task: { uid: 55, status: "succeeded", error: null, ...task },
  auditId: 13,
});

describe("confirmationCard — pending", () => {
  it("states the blast radius, who asked, when it expires, and offers Confirm and Cancel", () => {
    const m = confirmationCard(ID, retryPreview(), state(), viewContext());
    expectSafe(m, users);
    expect(m.text).toBe("Confirmation needed: Retry failed work oban:601 in MyApp.Blog.Post");
    const text = visibleText(m);
    expect(m.blocks[0]?.type).toBe("header");
    expect(text).toContain("Confirmation needed: Retry failed work oban:601");
    expect(text).toContain(`*Schema*\n\`${SCHEMA}\``);
    expect(text).toContain(`*Index*\n\`${INDEX}\``);
    expect(text).toContain("*Source and id*\n`oban:601`");
    expect(text).toContain("*Operation*\nupsert");
    expect(text).toContain("*Documents*\n3");
    expect(text).toContain("*Reason class*\n`transport`");
    expect(text).toContain(
      "*Last error*\n> ** (Req.TransportError) timeout connecting to https://search.internal:7700",
    );
    expect(text).toContain("*What will happen*\nInserts one new Oban job in queue search_sync");
    expect(text).toContain(`Requested by <@${REQUESTER}>`);
    expect(text).toContain(
      `expires <!date^${unix(minutes(15))}^{date_short_pretty} {time}|2026-11-20 10:15 UTC>`,
    );
    // Absolute only: a relative "(in 15 min)" would still say so long after, on a card nobody re-renders.
    expect(text).not.toMatch(/\(in \d+ (min|h|d)\)|\d+ (min|h|d) ago/);

    const [confirm, cancel] = buttons(m);
    expect(confirm?.action_id).toBe(CONFIRM_ACTIONS.confirm);
    expect(confirm?.value).toBe(ID);
    expect(confirm?.style).toBe("primary");
    expect(confirm?.confirm).toBeUndefined();
    expect(cancel?.action_id).toBe(CONFIRM_ACTIONS.cancel);
    expect(cancel?.value).toBe(ID);
    expect(buttons(m)).toHaveLength(2);
  });

  it("puts a danger dialog restating the effect on Confirm for destructive requests", () => {
    const m = confirmationCard(ID, swapPreview(), state(), viewContext());
    expectSafe(m, users);
    expect(m.text).toBe(`Confirmation needed: Swap ${INDEX} with ${INDEX}__reindex in ${SCHEMA}`);
    const confirm = buttons(m).find((b) => b.action_id === CONFIRM_ACTIONS.confirm) as Button;
    expect(confirm.style).toBe("danger");
    expect(confirm.value).toBe(ID);
    expect(confirm.confirm?.style).toBe("danger");
    expect(confirm.confirm?.title?.text).toBe(`Swap ${INDEX} with ${INDEX}__reindex?`);
    expect(confirm.confirm?.text?.text).toContain(`Swaps the live index ${INDEX} with ${INDEX}__reindex`);
    expect(confirm.confirm?.confirm?.text.length).toBeLessThanOrEqual(30);
    expect(confirm.confirm?.deny?.text.length).toBeLessThanOrEqual(30);
    // No row fields that do not apply; no "Documents" guess for a swap.
    expect(visibleText(m)).not.toContain("*Documents*");
    expect(visibleText(m)).not.toContain("*Last error*");
  });

  it("keeps the dialog within Slack's limits for very long titles and effects", () => {
    const long = swapPreview({ title: `Swap ${"i".repeat(300)}`, effect: `Swaps ${"e".repeat(2000)} now.` });
    const m = confirmationCard(ID, long, state(), viewContext());
    expectSafe(m, users);
    const dialog = buttons(m)[0]?.confirm;
    expect(dialog?.title?.text.length).toBeLessThanOrEqual(100);
    expect(dialog?.text?.text.length).toBeLessThanOrEqual(300);
    expect(dialog?.text?.text).toMatch(/^Swaps e+… \(the card has the rest\)$/);
  });

  it("escapes hostile schema names, titles, effects and errors, and redacts secrets", () => {
    const hostileSchema = "My&App.<Blog>.Post";
    const preview = retryPreview({
      title: `Retry ${HOSTILE}`,
      schema: hostileSchema,
      index: `idx_${HOSTILE}`,
      operation: HOSTILE,
      lastError: `${HOSTILE} api_key=${SECRET} Authorization: Bearer xyz.secret.token ${"x".repeat(5000)}`,
      effect: `Inserts one job for ${HOSTILE}`,
    });
    const m = confirmationCard(ID, preview, state(), viewContext());
    expectSafe(m, users);
    const text = visibleText(m);
    expect(text).toContain("`My&amp;App.&lt;Blog&gt;.Post`");
    expect(text).toContain("&lt;!channel&gt; &lt;@U123&gt;");
    expect(text).toContain("api_key=[REDACTED]");
    expect(m.text).toContain("&lt;!channel&gt;");
    const quote = text.split("\n").find((l) => l.startsWith("> ")) ?? "";
    expect(quote.replace(/&[a-z]+;/g, "_").length).toBeLessThanOrEqual(205);
  });

  it("says when a pending request has already run out of time", () => {
    const m = confirmationCard(ID, retryPreview(), state({ expiresAt: minutes(-3) }), viewContext());
    expectSafe(m, users);
    expect(visibleText(m)).toContain(`expired <!date^${unix(minutes(-3))}^`);
    expect(visibleText(m)).not.toContain("min ago");
  });

  it("shows a CLI requester as code, never as a mention", () => {
    const m = confirmationCard(ID, retryPreview(), state({ requestedBy: "cli:alice" }), viewContext());
    expectSafe(m);
    expect(visibleText(m)).toContain("Requested by `cli:alice`");
  });

  it("says when the job did not record a document count", () => {
    const m = confirmationCard(ID, retryPreview({ documentCount: null }), state(), viewContext());
    expect(visibleText(m)).toContain("*Documents*\nnot recorded in the job");
  });
});

describe("confirmationCard — settings changes", () => {
  const settingsPreview = (settings: RequestPreview["settings"]): RequestPreview =>
    swapPreview({
      title: `Hot-apply settings to ${INDEX}`,
      operation: "stopWords, synonyms, typoTolerance",
      effect: `Changes stopWords on the live index ${INDEX} and waits for Meilisearch's settings task.`,
      settings,
    });

  it("lists per key the live and the requested values, cut with counts where long, within Block Kit limits", () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${String(i).padStart(3, "0")}`);
    const m = confirmationCard(
      ID,
      settingsPreview({
        kind: "hot_apply",
        readAt: minutes(-1).toISOString(),
        changedBy: null,
        changes: [
          { key: "stopWords", added: words, removed: ["an"], changed: [] },
          {
            key: "synonyms",
            added: [`long → ${"x".repeat(500)}`],
            removed: [],
            changed: Array.from({ length: 30 }, (_, i) => ({ what: `s${i}`, live: "a", requested: "b" })),
          },
          {
            key: "typoTolerance",
            added: [],
            removed: [],
            changed: [{ what: "minWordSizeForTypos.oneTypo", live: "5", requested: "4" }],
          },
        ],
      }),
      state(),
      viewContext(),
    );
    expectSafe(m, users);
    const text = visibleText(m);
    expect(text).toContain(
      `*What changes on the live index* (live → requested; live values read <!date^${unix(minutes(-1))}^`,
    );
    expect(text).toContain("*stopWords*\nAdded (200): `w000`, `w001`");
    expect(text).toContain("`w011` and 188 more\nRemoved (1): `an`");
    expect(text).not.toContain("`w012`");
    expect(text).toContain("*synonyms*\nAdded (1): `long → xxx");
    expect(text).not.toContain("x".repeat(100));
    expect(text).toContain("`s11`: `a` → `b`\n… and 18 more changes");
    expect(text).toContain("*typoTolerance*\n`minWordSizeForTypos.oneTypo`: `5` → `4`");
  });

  it("the revert card shows what it restores and whose change it undoes", () => {
    const m = confirmationCard(
      ID,
      settingsPreview({
        kind: "revert",
        readAt: minutes(0).toISOString(),
        changedBy: DECIDER,
        changes: [{ key: "stopWords", added: ["an"], removed: ["a", "the"], changed: [] }],
      }),
      state(),
      viewContext(),
    );
    expectSafe(m, users);
    const text = visibleText(m);
    expect(text).toContain("*What the revert restores* (live now → restored; read <!date^");
    expect(text).toContain(`Undoes a change applied by <@${DECIDER}>.`);
    expect(text).toContain("*stopWords*\nPut back (1): `an`\nTaken out (2): `a`, `the`");
  });
});

describe("confirmationCard — after the decision", () => {
  it("executing: running, confirmed by whom, no buttons", () => {
    const m = confirmationCard(ID, retryPreview(), decided("executing"), viewContext());
    expectSafe(m, users);
    expect(hasActions(m)).toBe(false);
    expect(m.text).toBe("Running: Retry failed work oban:601 in MyApp.Blog.Post");
    expect(visibleText(m)).toContain(`*Running…* confirmed by <@${DECIDER}> at <!date^`);
    expect(visibleText(m)).toContain("*What is happening*");
  });

  it("done: the outcome with the new job id, who confirmed and when, no buttons", () => {
    const outcome = outcomeOf({ kind: "retry", result: retryResult() });
    const m = confirmationCard(ID, retryPreview(), decided("done", { outcome }), viewContext());
    expectSafe(m, users);
    expect(hasActions(m)).toBe(false);
    const text = visibleText(m);
    expect(text).toContain(":white_check_mark: Done: Retry failed work oban:601");
    expect(text).toContain("*Retry accepted · queue job 1234 (queue search_sync, state available)*");
    expect(text).toContain(
      "Accepted is not searchable: the worker still has to run. Follow-up in the thread.",
    );
    expect(text).toContain(`Confirmed by <@${DECIDER}> at <!date^${unix(minutes(-1))}^`);
    expect(text).toContain(`requested by <@${REQUESTER}>`);
    expect(m.text).toBe(
      "Done: Retry failed work oban:601 in MyApp.Blog.Post — Retry accepted · queue job 1234 (queue search_sync, state available)",
    );
  });

  it("failed: what failed and that nothing was changed, with hostile text escaped", () => {
    const outcome = refusalOutcome("already_replayed", `job 601 was already replayed by ${HOSTILE}`);
    const m = confirmationCard(ID, retryPreview(), decided("failed", { outcome }), viewContext());
    expectSafe(m, users);
    const text = visibleText(m);
    expect(text).toContain(":x: Failed: Retry failed work oban:601");
    expect(text).toContain("*Not done: `already_replayed`*");
    expect(text).toContain("job 601 was already replayed by &lt;!channel&gt;");
    expect(text).toContain("Nothing was changed.");
    expect(hasActions(m)).toBe(false);
  });

  it("failed without an outcome points at the audit log instead of guessing", () => {
    const m = confirmationCard(ID, retryPreview(), decided("failed"), viewContext());
    expectSafe(m, users);
    expect(visibleText(m)).toContain("*Failed before it finished.* Check `/scrypath audit MyApp.Blog.Post`");
  });

  it("an unconfirmed swap says so and how to check", () => {
    const outcome = outcomeOf({
      kind: "action",
      result: {
        action: "swap",
        result: swapResult({
          status: "unconfirmed",
          error: "swap task 880 did not finish within 15000 ms; check it with GET /tasks/880",
        }),
      },
    });
    expect(outcome.ok).toBeNull();
    const m = confirmationCard(ID, swapPreview(), decided("done", { outcome }), viewContext());
    expectSafe(m, users);
    const text = visibleText(m);
    expect(text).toContain(":grey_question: Outcome unconfirmed: Swap");
    expect(text).toContain("*Swap outcome unconfirmed · Meilisearch task 880 not seen to finish*");
    expect(text).toContain("GET /tasks/880");
    expect(m.text).toMatch(/^Outcome unconfirmed: Swap/);
  });

  it("cancelled: by whom and when, nothing was done", () => {
    const m = confirmationCard(ID, retryPreview(), decided("cancelled"), viewContext());
    expectSafe(m, users);
    expect(hasActions(m)).toBe(false);
    expect(visibleText(m)).toContain(`*Cancelled by <@${DECIDER}>, nothing was done.*`);
    expect(visibleText(m)).toContain(`Cancelled by <@${DECIDER}> at <!date^`);
    expect(m.text).toBe("Cancelled, nothing was done: Retry failed work oban:601 in MyApp.Blog.Post");
  });

  it("expired: expired, nothing was done", () => {
    const m = confirmationCard(
      ID,
      swapPreview(),
      state({ status: "expired", decidedAt: minutes(-2), expiresAt: minutes(-2) }),
      viewContext(),
    );
    expectSafe(m, users);
    expect(hasActions(m)).toBe(false);
    expect(visibleText(m)).toContain(":hourglass: Expired: Swap");
    expect(visibleText(m)).toMatch(/\*Expired at <!date\^\d+\^[^>]+>, nothing was done\.\*/);
    expect(m.text).toMatch(/^Expired, nothing was done: Swap/);
  });

  it("renders every state with hostile data as valid, safe Block Kit", () => {
    const preview = retryPreview({ schema: "A&<B>", lastError: HOSTILE, effect: HOSTILE, title: HOSTILE });
    const statuses: ConfirmationStatus[] = ["pending", "executing", "done", "failed", "cancelled", "expired"];
    for (const status of statuses) {
      for (const outcome of [
        null,
        refusalOutcome(HOSTILE, HOSTILE),
        { ok: null, headline: HOSTILE, lines: [HOSTILE] },
      ]) {
        const m = confirmationCard(
          ID,
          preview,
          decided(status, { outcome, decidedBy: "cli:<!here>" }),
          viewContext(),
        );
        expectSafe(m, users);
        expect(hasActions(m)).toBe(status === "pending");
      }
    }
  });
});

describe("confirmationCard — standing in the tally's words", () => {
  const nextAt = minutes(90);
  // 10 terminal (2 Meilisearch, 8 Oban), 3 of them resolved by a completed replay, 2 retrying, 4 pending.
  const tally = triageTally({
    backend: { failed: 2, pending: 1 },
    queue: { terminal: 8, retrying: 2, pending: 3, nextRetryAt: nextAt },
    replays: [{ row: "terminal", replayState: "completed", count: 3 }],
  });
  const standing = (over: Partial<CardStanding> = {}): CardStanding => ({
    schema: SCHEMA,
    label: "posts",
    readAt: minutes(-2),
    tally,
    row: {
      id: 601,
      obanState: "discarded",
      state: "failed",
      retryAt: null,
      attempt: 8,
      maxAttempts: 8,
      replayedAs: null,
    },
    ...over,
  });

  it("pending: the row and the schema in the failed list's words, read when, and in the fallback text", () => {
    const m = confirmationCard(ID, retryPreview({ standing: standing() }), state(), viewContext());
    expectSafe(m, users);
    const text = visibleText(m);
    expect(text).toContain(`*Standing now* · read <!date^${unix(minutes(-2))}^`);
    expect(text).toContain("as `/scrypath failed posts` counts it");
    expect(text).toContain("*This row:* terminal (`discarded`), not replayed yet");
    expect(text).toContain("*posts:* 12 failed rows · 3 resolved by replay · 2 retrying · 7 need triage");
    expect(text).toContain(`Oban tries again <!date^${unix(nextAt)}^`);
    expect(text).toContain("replayed by the bot 3: 3 completed");
    expect(text).toContain("4 pending (queued or processing: Meilisearch 1, Oban 3)");
    expect(m.text).toContain("(posts: 12 failed rows · 3 resolved by replay · 2 retrying · 7 need triage)");
  });

  it("a replayed row names its replay and its state; a retrying row says retrying", () => {
    const replayed = standing({
      row: {
        ...(standing().row as NonNullable<CardStanding["row"]>),
        replayedAs: { jobId: 1234, state: "discarded", requestedBy: REQUESTER, at: minutes(-30) },
      },
    });
    const text = visibleText(
      confirmationCard(ID, retryPreview({ standing: replayed }), state(), viewContext()),
    );
    expect(text).toContain(
      `*This row:* terminal (\`discarded\`)\n:repeat: replayed as #1234 · discarded at <!date^`,
    );
    const retrying = standing({
      row: {
        ...(standing().row as NonNullable<CardStanding["row"]>),
        obanState: "retryable",
        state: "retrying",
        retryAt: nextAt,
        attempt: 2,
      },
    });
    expect(
      visibleText(confirmationCard(ID, retryPreview({ standing: retrying }), state(), viewContext())),
    ).toContain("*This row:* retrying (`retryable`), not replayed yet");
  });

  it("a plane that was not read is unknown, never zero; no failed work is said plainly", () => {
    const unread = standing({ row: null, tally: { ...tally, read: { backend: false, queue: true } } });
    const m = confirmationCard(ID, swapPreview({ standing: unread }), state(), viewContext());
    expectSafe(m, users);
    expect(visibleText(m)).toContain(
      "*posts:* the failed-work figures are unknown: Meilisearch could not be read.",
    );
    expect(visibleText(m)).not.toContain("need triage");
    expect(m.text).not.toContain("(posts:");
    const clean = triageTally({
      backend: { failed: 0, pending: 0 },
      queue: { terminal: 0, retrying: 0, pending: 0, nextRetryAt: null },
      replays: [],
    });
    const none = confirmationCard(
      ID,
      swapPreview({ standing: standing({ row: null, tally: clean }) }),
      state(),
      viewContext(),
    );
    expect(visibleText(none)).toContain("*posts:* no failed sync work");
    expect(none.text).toContain("(posts: no failed sync work)");
  });

  it("decided: the figures re-read after it ran, or else those of the request, dated as such", () => {
    const after = standing({
      readAt: minutes(-1),
      tally: { ...tally, needsTriage: 6, resolved: 4 },
    });
    const preview = retryPreview({ standing: standing() });
    const done = confirmationCard(
      ID,
      preview,
      decided("done", {
        outcome: { ...outcomeOf({ kind: "retry", result: retryResult() }), standing: after },
      }),
      viewContext(),
    );
    expectSafe(done, users);
    expect(visibleText(done)).toContain(`*Standing after this ran* · read <!date^${unix(minutes(-1))}^`);
    expect(visibleText(done)).toContain("4 resolved by replay · 2 retrying · 6 need triage");
    for (const status of ["cancelled", "expired", "failed"] as const) {
      const m = confirmationCard(ID, preview, decided(status), viewContext());
      expectSafe(m, users);
      expect(visibleText(m)).toContain(
        `*Standing when requested* · figures as of <!date^${unix(minutes(-2))}^`,
      );
      expect(visibleText(m)).toContain("7 need triage");
    }
    // outcomeOf carries the re-read standing onto the card.
    expect(outcomeOf({ kind: "retry", result: retryResult(), standing: after }).standing).toBe(after);
  });

  it("escapes a hostile schema label and stays valid Block Kit", () => {
    const m = confirmationCard(
      ID,
      retryPreview({ standing: standing({ label: "<!channel> *x*" }) }),
      state(),
      viewContext(),
    );
    expectSafe(m, users);
    expect(JSON.stringify(m)).not.toContain("<!channel>");
  });
});

describe("outcomeOf", () => {
  it("retry: the new job, its queue and state, and that accepted is not searchable", () => {
    const o = outcomeOf({ kind: "retry", result: retryResult() });
    expect(o.ok).toBe(true);
    expect(o.headline).toBe("Retry accepted · queue job 1234 (queue search_sync, state available)");
    expect(o.lines).toContain(
      "Accepted is not searchable: the worker still has to run. Follow-up in the thread.",
    );
    const viaAction = outcomeOf({ kind: "action", result: { action: "retry", result: retryResult() } });
    expect(viaAction).toEqual(o);
  });

  it("backfill and reindex: handed off as a job of the configured worker", () => {
    for (const action of ["backfill", "reindex"] as const) {
      const o = outcomeOf({ kind: "action", result: { action, result: handOffResult(action) } });
      expect(o.ok).toBe(true);
      expect(o.headline).toBe("Handed off as job 77 (MyApp.Search.ReindexWorker) in queue maintenance");
      expect(o.lines.join("\n")).toContain("Accepted is not searchable");
    }
  });

  it("swap: succeeded, failed with the error, unconfirmed with how to check", () => {
    const ok = outcomeOf({ kind: "action", result: { action: "swap", result: swapResult() } });
    expect(ok).toMatchObject({ ok: true, headline: "Swap succeeded · Meilisearch task 880 succeeded" });
    const failed = outcomeOf({
      kind: "action",
      result: { action: "swap", result: swapResult({ status: "failed", error: "index_not_found" }) },
    });
    expect(failed.ok).toBe(false);
    expect(failed.lines).toContain("index_not_found");
    expect(failed.lines.join("\n")).toContain("was not changed");
    const unknown = outcomeOf({
      kind: "action",
      result: {
        action: "swap",
        result: swapResult({ status: "unconfirmed", taskUid: null, error: "Meilisearch timed out" }),
      },
    });
    expect(unknown.ok).toBeNull();
    expect(unknown.headline).toBe("Swap outcome unconfirmed · no Meilisearch task found");
    expect(unknown.lines.join("\n")).toContain("/scrypath reconcile");
  });

  it("hot_apply and revert: the task uid and status, and how to revert", () => {
    const applied = outcomeOf({ kind: "hot_apply", result: settingsResult() });
    expect(applied.ok).toBe(true);
    expect(applied.headline).toBe("Settings applied · Meilisearch task 55 succeeded");
    expect(applied.lines.join("\n")).toContain("revert with `/scrypath settings revert 12`");

    const failed = outcomeOf({
      kind: "hot_apply",
      result: settingsResult({ status: "failed", error: "bad synonyms" }),
    });
    expect(failed).toMatchObject({
      ok: false,
      headline: "Settings not applied · Meilisearch task 55 failed",
    });
    expect(failed.lines).toEqual(["bad synonyms", "The live settings were not changed."]);

    const unconfirmed = outcomeOf({
      kind: "hot_apply",
      result: settingsResult({ status: "unconfirmed", error: "did not finish; check GET /tasks/55" }),
    });
    expect(unconfirmed.ok).toBeNull();
    expect(unconfirmed.lines.join("\n")).toContain("/scrypath settings revert 12");

    const reverted = outcomeOf({ kind: "revert", result: settingsResult() });
    expect(reverted.headline).toBe("Settings reverted · Meilisearch task 55 succeeded");
    expect(reverted.lines.join("\n")).not.toContain("revert with");
  });

  it("a refusal names people as mentions and times as date tokens, the reason code in code style", () => {
    const at = "2026-11-20T09:58:00.123Z";
    const outcome = refusalOutcome(
      "already_reverted",
      `settings change 12 was already reverted by ${DECIDER}1 at ${at}`,
    );
    const m = confirmationCard(ID, retryPreview(), decided("failed", { outcome }), viewContext());
    expectSafe(m, { allowedUsers: [REQUESTER, DECIDER, `${DECIDER}1`] });
    const text = visibleText(m);
    expect(text).toContain("*Not done: `already_reverted`*");
    expect(text).toContain(
      `already reverted by <@${DECIDER}1> at <!date^${unix(new Date(at))}^{date_short_pretty} {time}|2026-11-20 09:58 UTC>`,
    );
    expect(text).not.toContain(at);
    expect(text).not.toMatch(/Already_reverted/);
    // Notifications read the code without backticks.
    expect(m.text).toBe("Failed: Retry failed work oban:601 in MyApp.Blog.Post — Not done: already_reverted");
  });

  it("refusalOutcome: not done, the message, and whether anything changed", () => {
    expect(refusalOutcome("not_found", "no failed work found for id 9")).toEqual({
      ok: false,
      headline: "Not done: `not_found`",
      lines: ["no failed work found for id 9", "Nothing was changed."],
    });
    expect(refusalOutcome("x", "y", false).lines[1]).toContain("/scrypath audit");
  });
});

describe("verificationReply", () => {
  const obs = (over: Partial<ReplayObservation> = {}): ReplayObservation => ({
    state: "accepted",
    jobState: "available",
    attempt: 0,
    task: null,
    documents: { checked: 0, matched: 0 },
    lastError: null,
    ...over,
  });
  const opts = { final: false, elapsedMs: 2_000, schema: SCHEMA, index: INDEX, queue: "search_sync" };

  const cases: Array<[ReplayState, Partial<ReplayObservation>, string]> = [
    ["accepted", {}, "Job 1,234 is accepted (state `available`): waiting for a worker to pick it up."],
    [
      "running",
      { jobState: "executing", attempt: 1 },
      "Job 1,234 is running (state `executing`, attempt 1).",
    ],
    [
      "queue_only_completed",
      {
        jobState: "completed",
        task: { uid: 900, status: "processing", error: null },
        documents: { checked: 3, matched: 1 },
      },
      "Queue job completed; backend evidence pending — 1 of 3 documents observed in `prod_posts` so far.",
    ],
    [
      "verified",
      {
        jobState: "completed",
        task: { uid: 900, status: "succeeded", error: null },
        documents: { checked: 3, matched: 3 },
      },
      "Verified: 3 of 3 documents observed in `prod_posts` with the expected values.",
    ],
    [
      "failed",
      { jobState: "discarded", lastError: `${HOSTILE} boom` },
      "Job 1,234 failed (state `discarded`); nothing from this replay is searchable. Check `/scrypath failed MyApp.Blog.Post`.",
    ],
    [
      "timed_out",
      { jobState: "executing" },
      "Stopped following after 2 s (job state `executing`); check `/scrypath failed MyApp.Blog.Post`.",
    ],
    ["unknown", { jobState: null }, "could not be found in `oban_jobs`"],
  ];

  for (const [replayState, over, sentence] of cases) {
    it(`${replayState}: a plain sentence, and "accepted is not searchable" until verified`, () => {
      const final = ["verified", "failed", "timed_out", "unknown"].includes(replayState);
      const m = verificationReply(1234, obs({ state: replayState, ...over }), viewContext(), {
        ...opts,
        final,
      });
      expectSafe(m);
      const text = visibleText(m);
      expect(text).toContain(sentence);
      if (replayState === "verified") expect(text).not.toContain("Accepted is not searchable");
      else {
        expect(text).toContain("Accepted is not searchable");
        expect(m.text).toContain("accepted is not searchable");
      }
      expect(text).toContain(final ? "Stopped following after 2 s" : "Following… 2 s so far");
      expect(text).toContain("<https://oban.example.com/jobs/1234?queue=search_sync|Open job in dashboard>");
    });
  }

  it("shows the Meilisearch task uid and status, and escapes task and job errors", () => {
    const m = verificationReply(
      1234,
      obs({
        state: "failed",
        jobState: "discarded",
        task: { uid: 901, status: "failed", error: `${HOSTILE} token=${SECRET}` },
        lastError: `${HOSTILE} api_key=${SECRET}`,
      }),
      viewContext(),
      { ...opts, final: true },
    );
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain("Meilisearch task 901 failed");
    expect(text).toContain("*Last error:*\n> &lt;!channel&gt;");
    expect(m.text).toBe("Retry job 1,234: failed (accepted is not searchable)");
  });

  it("works with only the listener's minimal options", () => {
    const m = verificationReply(7, obs({ state: "timed_out", jobState: "executing" }), viewContext(), {
      final: true,
      elapsedMs: 30_400,
    });
    expectSafe(m);
    expect(visibleText(m)).toContain("Stopped following after 30 s");
    expect(visibleText(m)).toContain("check `/scrypath failed &lt;schema&gt;`");
    expect(visibleText(m)).not.toContain("Open job in dashboard");
  });

  it("says a completed job without checkable documents cannot be verified here", () => {
    const m = verificationReply(
      7,
      obs({ state: "queue_only_completed", jobState: "completed" }),
      viewContext(),
      { ...opts },
    );
    expect(visibleText(m)).toContain("Queue job completed; backend evidence pending");
    expect(visibleText(m)).toContain("no documents the bot can look up");
    expect(visibleText(m)).toContain("No Meilisearch document task seen");
  });
});

describe("ephemeral answers", () => {
  it("accessRefusalView names the role and the reason, for every access refusal", () => {
    for (const message of Object.values(ACCESS_MESSAGES)) {
      const m = accessRefusalView(message);
      expectSafe(m);
      expect(visibleText(m)).toContain("this needs the operator role");
      expect(visibleText(m)).toContain("Nothing was done.");
    }
    const m = accessRefusalView(ACCESS_MESSAGES.not_an_operator);
    expect(visibleText(m)).toContain("this needs the operator role.* Ask an operator to do it.");
    for (const reason of ["not_an_operator", "membership_unknown", "two_person_rule"] as const) {
      expect(ACCESS_MESSAGES[reason]).not.toMatch(/access\./);
    }
    const hostile = accessRefusalView(HOSTILE, "<!channel>");
    expectSafe(hostile);
    expect(visibleText(hostile)).toContain("&lt;!channel&gt; role");
  });

  it("alreadyDecidedView says who decided and when, or that it expired", () => {
    const at = minutes(-1);
    const confirmed = alreadyDecidedView({ status: "done", decidedBy: DECIDER, decidedAt: at });
    expectSafe(confirmed, users);
    expect(visibleText(confirmed)).toContain(`Already confirmed by <@${DECIDER}> at <!date^${unix(at)}^`);
    const running = alreadyDecidedView({ status: "executing", decidedBy: DECIDER, decidedAt: at });
    expect(visibleText(running)).toContain("it is running now");
    const cancelled = alreadyDecidedView({ status: "cancelled", decidedBy: "cli:bob", decidedAt: at });
    expectSafe(cancelled);
    expect(visibleText(cancelled)).toContain("Already cancelled by `cli:bob` at");
    const expired = alreadyDecidedView({ status: "expired", decidedBy: null, decidedAt: at });
    expect(visibleText(expired)).toContain(`This request expired at <!date^${unix(at)}^`);
    expect(visibleText(expired)).toContain("nothing was done");
    // A claim that failed on a row still marked pending: the request ran out of time.
    const stale = alreadyDecidedView({ status: "pending", decidedBy: null, decidedAt: null, expiresAt: at });
    expect(visibleText(stale)).toContain("This request expired at");
  });
});

describe("access refusals say the real reason, once", () => {
  it("the two-person rule is not a missing role", () => {
    const m = accessRefusalView(ACCESS_MESSAGES.two_person_rule, "operator", "two_person_rule", ["S0OPS"]);
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(
      "*Someone else must confirm this.* The two-person rule is on here: whoever asked for a change cannot also confirm it; ask another operator to confirm. Nothing was done.",
    );
    expect(text).not.toMatch(/role/);
    expect(m.text).toBe("Someone else must confirm this (two-person rule). Nothing was done.");
  });

  it("a non-operator is told which user groups grant the role, as mentions, once, without a config key", () => {
    const m = accessRefusalView(ACCESS_MESSAGES.not_an_operator, "operator", "not_an_operator", [
      "S0OPS00001",
      "S0SRE00002",
      "<!channel>",
    ]);
    expectSafe(m, { allowedGroups: ["S0OPS00001", "S0SRE00002"] });
    const text = visibleText(m);
    expect(text).toContain(
      ":lock: *Not allowed — this needs the operator role.* The role comes with membership of <!subteam^S0OPS00001>, <!subteam^S0SRE00002> or `&lt;!channel&gt;`. Ask an operator to do it. Nothing was done.",
    );
    expect(text.match(/needs the operator role/g)).toHaveLength(2); // the card and its notification text
    expect(text.match(/subteam\^S0OPS00001/g)).toHaveLength(1);
    expect(text).not.toContain("access.");
  });

  it("a membership Slack did not confirm in time names the groups too, and is not 'not allowed'", () => {
    const m = accessRefusalView(ACCESS_MESSAGES.membership_unknown, "operator", "membership_unknown", [
      "S0OPS00001",
    ]);
    expectSafe(m, { allowedGroups: ["S0OPS00001"] });
    const text = visibleText(m);
    expect(text).toContain("*Could not check the operator role.* Slack did not tell in time");
    expect(text).toContain("The role comes with membership of <!subteam^S0OPS00001>.");
    expect(text).not.toContain("Not allowed");
    expect(text).not.toContain("access.");
  });
});

describe("request buttons on the failed and reconcile views", () => {
  const failedOpts = { ...viewContext(), page: 1, pageSize: FAILED_PAGE_SIZE };
  const parsesAs = (kind: "retry" | "action", value: string | undefined) =>
    mutationRequest.safeParse({ kind, ...JSON.parse(value ?? "null") }).success;

  it("failed: Retry… on each replayable queue row only, carrying schema and target", () => {
    const replayed = {
      ...queueRow({ id: 603 }),
      replayedAs: { jobId: 9, state: "available", requestedBy: "U1", at: NOW },
    };
    const replayFailed = {
      ...queueRow({ id: 604 }),
      replayedAs: { jobId: 10, state: "discarded", requestedBy: "U1", at: NOW },
    };
    const rows = [
      queueRow(),
      queueRow({ id: 602, state: "retryable" }),
      backendRow(),
      replayed,
      replayFailed,
    ];
    const m = failedView(failedResult(rows), failedOpts);
    expectSafe(m);
    const retries = buttons(m).filter((b) => b.action_id === REQUEST_ACTIONS.retry);
    expect(retries.map((b) => JSON.parse(b.value ?? ""))).toEqual([
      { schema: SCHEMA, target: "oban:601" },
      { schema: SCHEMA, target: "oban:602" },
      { schema: SCHEMA, target: "oban:604" },
    ]);
    for (const b of retries) {
      expect(b.text.text).toBe("Retry…");
      expect(parsesAs("retry", b.value)).toBe(true);
    }
    // Each sits on its own row as an accessory: never two of one action_id in a block.
    for (const block of m.blocks) {
      if (block.type !== "actions") continue;
      expect(block.elements.some((e) => "action_id" in e && e.action_id === REQUEST_ACTIONS.retry)).toBe(
        false,
      );
    }
  });

  it("reconcile: one Retry… per id when few, Reindex… with its target, and Swap…", () => {
    const m = reconcileView(reconcileReport(), viewContext());
    expectSafe(m);
    const requests = buttons(m).filter((b) => b.action_id === REQUEST_ACTIONS.action);
    expect(requests.map((b) => [b.text.text, JSON.parse(b.value ?? "")])).toEqual([
      ["Retry…", { schema: SCHEMA, action: "retry", id: "oban:601" }],
      ["Retry…", { schema: SCHEMA, action: "retry", id: "oban:605" }],
      ["Reindex…", { schema: SCHEMA, action: "reindex", targetIndex: `${INDEX}__reindex` }],
      ["Swap…", { schema: SCHEMA, action: "swap", targetIndex: `${INDEX}__reindex` }],
    ]);
    for (const b of requests) expect(parsesAs("action", b.value)).toBe(true);
    const text = visibleText(m);
    expect(text).toContain("↳ `oban:601` · upsert · transport");
    expect(text).toContain(
      "_Would be refused right now: a target-index task is still running, 3 failed rows",
    );
    expect(text).toContain("Recommendations only: a button posts a confirmation card");
  });

  it(`reconcile: no per-id Retry… above ${RETRY_BUTTONS_MAX} ids, and the single id rides on the retry line`, () => {
    const many = reconcileView(
      reconcileReport({
        failed: Array.from({ length: RETRY_BUTTONS_MAX + 1 }, (_, i) => queueRow({ id: 700 + i })),
      }),
      viewContext(),
    );
    expectSafe(many);
    const labels = buttons(many)
      .filter((b) => b.action_id === REQUEST_ACTIONS.action)
      .map((b) => b.text.text);
    expect(labels).not.toContain("Retry…");

    const one = reconcileView(reconcileReport({ failed: [queueRow()] }), viewContext());
    const retryLine = one.blocks.find(
      (b) => b.type === "section" && b.text?.text.includes("`retry(ids=601)`"),
    );
    expect(retryLine?.type === "section" && retryLine.accessory?.type === "button").toBe(true);
  });

  it("reconcile: Backfill… for a backfill recommendation, no Swap… while a cutover is pending", () => {
    const base = reconcileReport({ failed: [backendRow()] });
    const report = {
      ...base,
      reindex: { ...base.reindex, cutover: "pending" as const },
      actions: [
        {
          ...base.actions[0],
          kind: "backfill" as const,
          index: INDEX,
          reference: null,
        } as (typeof base.actions)[number],
      ],
    };
    const m = reconcileView(report, viewContext());
    expectSafe(m);
    const requests = buttons(m).filter((b) => b.action_id === REQUEST_ACTIONS.action);
    expect(requests.map((b) => JSON.parse(b.value ?? ""))).toEqual([{ schema: SCHEMA, action: "backfill" }]);

    const unobserved = reconcileView(
      { ...base, reindex: { ...base.reindex, observed: false }, actions: [] },
      viewContext(),
    );
    expect(buttons(unobserved).some((b) => b.action_id === REQUEST_ACTIONS.action)).toBe(false);
    expect(visibleText(unobserved)).not.toContain("Recommendations only");
  });
});

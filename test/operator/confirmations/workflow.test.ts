// The confirmation workflow without Slack: real Postgres and Meilisearch, the operator's own API,
// and a surface that records what it was asked to post and edit (the card port).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../../devkit/oban/jobArgs.ts";
import { mutationAccess } from "../../../src/core/access.ts";
import { createLogger } from "../../../src/log.ts";
import type {
  Card,
  CardPort,
  ConfirmationWorkflow,
  ReplayGroupStarted,
  ReplayStarted,
  RequestAnswer,
} from "../../../src/operator/confirmations/index.ts";
import { insertJob } from "../../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../../support/operator.ts";
import { POST, QUEUE } from "../../support/posts.ts";

const CHANNEL = "C0OPS";
const TEAM = "T0TEAM";
const ALICE = "U0ALICE";
const BOB = "U0BOB";
const DAVE = "U0DAVE";

interface Surface {
  workflow: ConfirmationWorkflow;
  posted: Card[];
  shown: Card[];
  replays: ReplayStarted[];
  groups: ReplayGroupStarted[];
  counted: string[];
}

describe("the confirmation workflow in the operator", () => {
  let d: TestDeployment;
  let seq = 0;

  beforeAll(async () => {
    d = await testDeployment([{ module: POST, alias: "posts", syncMode: "oban", obanQueue: QUEUE }]);
    await d.meili.createIndex(`${d.indexPrefix}_post`, { primaryKey: "id" }).waitTask();
  });
  afterAll(() => d?.close());

  const surface = (options: { ttlSeconds?: number; refusePosts?: string } = {}): Surface => {
    const s = { posted: [], shown: [], replays: [], groups: [], counted: [] } as unknown as Surface;
    const cards: CardPort = {
      async post(card) {
        s.posted.push(card);
        if (options.refusePosts) return { ok: false, reason: options.refusePosts };
        seq += 1;
        return { ok: true, ts: `1700000000.${String(seq).padStart(6, "0")}` };
      },
      async show(card) {
        s.shown.push(card);
      },
      async permalink(card) {
        return `https://slack.example/archives/${card.channelId}/p${card.messageTs}`;
      },
    };
    s.workflow = d.operator.confirmationWorkflow({
      cards,
      access: {
        decide: async (userId, o = {}) =>
          mutationAccess({
            userId,
            operators: { users: [ALICE, BOB], usergroups: [] },
            groupMembers: null,
            requestedBy: o.requestedBy ?? null,
            twoPersonRule: true,
          }),
      },
      followReplay: (replay) => s.replays.push(replay),
      followReplayGroup: (group) => s.groups.push(group),
      count: (kind, outcome) => s.counted.push(`${kind}:${outcome}`),
      logger: createLogger({ write: () => {} }),
      ttlSeconds: options.ttlSeconds ?? 600,
    });
    return s;
  };

  const failedJob = () =>
    insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, `${d.indexPrefix}_post`, [1]),
      errors: [obanError("boom")],
    });
  const origin = (userId = ALICE) => ({ userId, teamId: TEAM, channelId: CHANNEL, threadTs: null });
  /** The card `answer` posted: its id and the ts the workflow stored. */
  const postedCard = (answer: RequestAnswer): { id: string; messageTs: string | null } => {
    if (answer.kind !== "posted") throw new Error(`no card was posted: ${answer.kind}`);
    return { id: answer.confirmation.id, messageTs: answer.confirmation.messageTs };
  };
  const nth = (cards: Card[], i: number): Card => {
    const card = cards[i];
    if (!card) throw new Error(`no card ${i} (${cards.length})`);
    return card;
  };
  const click = (
    decision: "confirm" | "cancel",
    card: { id: string; messageTs: string | null },
    userId = BOB,
  ) => ({
    decision,
    value: card.id,
    userId,
    teamId: TEAM,
    channelId: CHANNEL,
    messageTs: card.messageTs,
  });
  const auditOf = async (id: string) =>
    (await d.operator.auditLog({ limit: 200 }))
      .filter((e) => e.context.confirmation_id === id)
      .map((e) => `${e.actor}:${e.outcome}`)
      .reverse();
  it("requests, refuses the requester's own confirm, executes another operator's once", async () => {
    const s = surface();
    const failed = await failedJob();
    const asked = await s.workflow.request(
      { kind: "retry", schema: "posts", target: String(failed) },
      origin(),
    );
    expect(asked).toMatchObject({ kind: "posted", schema: POST, confirmation: { status: "pending" } });
    expect(s.posted).toHaveLength(1);
    expect(nth(s.posted, 0).state).toMatchObject({ status: "pending", requestedBy: ALICE });
    const card = postedCard(asked);
    expect(card.messageTs).not.toBeNull();

    expect(await s.workflow.decide(click("confirm", card, ALICE))).toMatchObject({
      kind: "denied",
      denial: { reason: "two_person_rule" },
    });
    expect(await s.workflow.decide(click("confirm", card, BOB))).toEqual({ kind: "taken", schema: POST });

    // "Running…", then the outcome: both edits of the one posted card.
    expect(s.shown.map((c) => [c.messageTs, c.state.status])).toEqual([
      [card.messageTs, "executing"],
      [card.messageTs, "done"],
    ]);
    const ending = nth(s.shown, 1).state.ending;
    expect(ending?.kind).toBe("executed");
    const jobId =
      ending?.kind === "executed" && ending.result.kind === "retry" ? ending.result.result.job.id : 0;
    expect(jobId).toBeGreaterThan(failed);
    expect(s.replays).toEqual([
      expect.objectContaining({ channel: CHANNEL, threadTs: card.messageTs, jobId, schema: POST }),
    ]);
    expect(await auditOf(card.id)).toEqual([
      `${ALICE}:requested`,
      `${ALICE}:refused`,
      `${BOB}:confirmed`,
      // The retry's own row, with the confirmation in its context.
      `${BOB}:accepted`,
    ]);
    expect(s.counted).toEqual(["retry:requested", "retry:refused", "retry:confirmed", "retry:done"]);

    // A second click finds it decided; nothing runs again.
    expect(await s.workflow.decide(click("confirm", card, BOB))).toMatchObject({
      kind: "already_decided",
      confirmation: { status: "done", decidedBy: BOB },
    });
  });

  it("takes one of many concurrent clicks; the others are told it is decided", async () => {
    const s = surface();
    const failed = await failedJob();
    const asked = await s.workflow.request(
      { kind: "retry", schema: "posts", target: String(failed) },
      origin(),
    );
    const card = postedCard(asked);
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        s.workflow.decide(click(i % 3 === 0 ? "cancel" : "confirm", card)),
      ),
    );
    expect(answers.filter((a) => a.kind === "taken")).toHaveLength(1);
    expect(answers.filter((a) => a.kind === "already_decided")).toHaveLength(11);
    const executed = s.shown.filter((c) => c.state.status === "done").length;
    const cancelled = s.shown.filter((c) => c.state.status === "cancelled").length;
    expect(executed + cancelled).toBe(1);
    const { rows } = await d.oban.pool.query(
      `SELECT count(*)::int AS n FROM "${d.oban.prefix}".oban_jobs WHERE id > $1`,
      [failed],
    );
    expect(rows[0].n).toBe(executed);
  });

  it("a second request for the same target links the pending card instead of posting one", async () => {
    const s = surface();
    const failed = await failedJob();
    const request = { kind: "retry", schema: "posts", target: String(failed) };
    const first = await s.workflow.request(request, origin());
    const second = await s.workflow.request(request, origin(BOB));
    expect(first.kind).toBe("posted");
    expect(second).toMatchObject({
      kind: "already_requested",
      pending: { requestedBy: ALICE, status: "pending" },
      permalink: expect.stringContaining("https://slack.example/archives/"),
    });
    expect(s.posted).toHaveLength(1);
  });

  it("refuses a non-operator, an invalid request and a foreign click: audited, no card, nothing run", async () => {
    const s = surface();
    const failed = await failedJob();
    expect(
      await s.workflow.request({ kind: "retry", schema: "posts", target: String(failed) }, origin(DAVE)),
    ).toMatchObject({ kind: "denied", denial: { reason: "not_an_operator" } });
    expect(await s.workflow.request({ kind: "rm -rf" }, origin())).toEqual({ kind: "invalid_request" });
    expect(s.posted).toHaveLength(0);

    const asked = await s.workflow.request(
      { kind: "retry", schema: "posts", target: String(failed) },
      origin(),
    );
    const card = postedCard(asked);
    expect(await s.workflow.decide({ ...click("confirm", card), channelId: "C0ELSEWHERE" })).toEqual({
      kind: "foreign",
      reason: "foreign_channel",
    });
    expect(await s.workflow.decide({ ...click("confirm", card), value: "not-an-id" })).toEqual({
      kind: "foreign",
      reason: "invalid_button_value",
    });
    expect(s.shown).toHaveLength(0);
    expect(await auditOf(card.id)).toEqual([`${ALICE}:requested`, `${BOB}:refused`]);
  });

  it("a card the surface could not post is cancelled: nobody can confirm it", async () => {
    const s = surface({ refusePosts: "not_in_channel" });
    const failed = await failedJob();
    const asked = await s.workflow.request(
      { kind: "retry", schema: "posts", target: String(failed) },
      origin(),
    );
    expect(asked).toEqual({ kind: "card_not_posted", slackError: "not_in_channel", schema: POST });
    const card = nth(s.posted, 0);
    expect(await s.workflow.decide(click("confirm", { id: card.id, messageTs: "1.2" }))).toMatchObject({
      kind: "already_decided",
      confirmation: { status: "cancelled" },
    });
    expect(await auditOf(card.id)).toEqual([`${ALICE}:requested`, `${ALICE}:refused`]);
  });

  it("expires what nobody decided in time, once, and closes interrupted executions as failed", async () => {
    const s = surface({ ttlSeconds: 1 });
    const [one, two] = [await failedJob(), await failedJob()];
    const first = await s.workflow.request({ kind: "retry", schema: "posts", target: String(one) }, origin());
    const second = await s.workflow.request(
      { kind: "retry", schema: "posts", target: String(two) },
      origin(),
    );
    const [firstCard, secondCard] = [postedCard(first), postedCard(second)];
    // The second one's execution was interrupted long ago (its process stopped before recording).
    await d.oban.pool.query(
      `UPDATE "${d.config.state.schema}".confirmations
       SET status = 'executing', decided_by = $2, decided_at = now() - interval '2 hours' WHERE id = $1`,
      [secondCard.id, BOB],
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const [a, b] = await Promise.all([s.workflow.expireDue(), s.workflow.expireDue()]);
    expect(a + b).toBe(2);
    expect(s.shown.map((c) => [c.id, c.state.status, c.state.ending?.kind ?? null])).toEqual(
      expect.arrayContaining([
        [firstCard.id, "expired", null],
        [secondCard.id, "failed", "not_done"],
      ]),
    );
    expect(s.shown).toHaveLength(2);
    expect(s.shown.find((c) => c.id === secondCard.id)?.state.ending).toMatchObject({
      reason: "execution_interrupted",
      nothingChanged: false,
    });
    expect(await auditOf(firstCard.id)).toEqual([`${ALICE}:requested`, "scrypath-bot:expired"]);
    expect(await auditOf(secondCard.id)).toEqual([`${ALICE}:requested`, "scrypath-bot:failed"]);
    expect(await s.workflow.expireDue()).toBe(0);
    expect(await s.workflow.decide(click("confirm", firstCard))).toMatchObject({
      kind: "already_decided",
      confirmation: { status: "expired" },
    });
  });
});

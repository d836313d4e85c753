// The sandbox's fake Slack Web API: the conversation it keeps (messages, threads, ephemerals per
// user, modals) and Slack's rules in strict mode, driven over HTTP the way the bot's WebClient and
// Bolt's respond() drive it.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  FakeSlack,
  RESPONSE_URL_USES,
  type SlackChange,
  TRIGGER_TTL_MS,
} from "../../../devkit/fakeSlack/index.ts";

const CHANNEL = "C0OPS00001";
const ANA = "U0ANA00001";
const BEN = "U0BEN00002";
const TOKEN = "xoxb-test-token";

describe("the fake Slack API (strict)", () => {
  let slack: FakeSlack;
  let changes: SlackChange[];

  const call = async (method: string, args: Record<string, unknown>, token = TOKEN) => {
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(args)) form.set(k, typeof v === "string" ? v : JSON.stringify(v));
    const response = await fetch(`${slack.apiUrl}${method}`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Bearer ${token}` },
      body: form.toString(),
    });
    return (await response.json()) as Record<string, unknown>;
  };
  const respond = async (url: string, body: Record<string, unknown>) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    return response.status;
  };
  const blocks = (text: string) => [{ type: "section", text: { type: "mrkdwn", text } }];

  beforeEach(async () => {
    slack = await FakeSlack.start({
      strict: true,
      realTime: true,
      users: [
        { id: ANA, name: "ana", realName: "Ana" },
        { id: BEN, name: "ben", realName: "Ben" },
      ],
      channels: [{ id: CHANNEL, name: "ops" }],
    });
    slack.token = TOKEN;
    changes = [];
    slack.changes.on("change", (c: SlackChange) => changes.push(c));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await slack.close();
  });

  it("keeps channel messages with increasing ts, and threads replies under their parent", async () => {
    const card = await call("chat.postMessage", { channel: CHANNEL, text: "card", blocks: blocks("card") });
    expect(card).toMatchObject({ ok: true, channel: CHANNEL });
    const reply = await call("chat.postMessage", { channel: CHANNEL, text: "r1", thread_ts: card.ts });
    // A reply to a reply goes to the same thread.
    const second = await call("chat.postMessage", { channel: CHANNEL, text: "r2", thread_ts: reply.ts });
    expect((second.message as Record<string, unknown>).thread_ts).toBe(card.ts);
    const parent = slack.message(CHANNEL, card.ts as string);
    expect(parent).toMatchObject({ replyCount: 2, latestReply: second.ts, threadTs: null });
    expect(slack.listMessages(CHANNEL).map((m) => m.text)).toEqual(["card", "r1", "r2"]);
    expect(Number(reply.ts) > Number(card.ts)).toBe(true);
    expect(changes.filter((c) => c.type === "message")).toHaveLength(5);
    expect(slack.posted.map((p) => p.ts)).toEqual([card.ts, reply.ts, second.ts]);
  });

  it("answers like Slack to bad calls: auth, channels, empty and oversized messages, unknown methods", async () => {
    expect(await call("chat.postMessage", { channel: CHANNEL, text: "x" }, "xoxb-wrong")).toEqual({
      ok: false,
      error: "invalid_auth",
    });
    expect(await call("chat.postMessage", { channel: "C0NOWHERE", text: "x" })).toMatchObject({
      error: "channel_not_found",
    });
    expect(await call("chat.postMessage", { channel: CHANNEL })).toMatchObject({ error: "no_text" });
    const many = Array.from({ length: 51 }, () => ({ type: "divider" }));
    expect(await call("chat.postMessage", { channel: CHANNEL, text: "x", blocks: many })).toMatchObject({
      error: "invalid_blocks",
    });
    expect(await call("chat.unfurl", {})).toMatchObject({ error: "unknown_method" });
  });

  it("edits the bot's own messages in place (blocks kept when left out) and refuses others", async () => {
    const card = await call("chat.postMessage", { channel: CHANNEL, text: "v1", blocks: blocks("v1") });
    expect(await call("chat.update", { channel: CHANNEL, ts: card.ts, text: "v2" })).toMatchObject({
      ok: true,
    });
    const edited = slack.message(CHANNEL, card.ts as string);
    expect(edited).toMatchObject({ text: "v2", blocks: blocks("v1") });
    expect(edited?.edited).not.toBeNull();
    expect(await call("chat.update", { channel: CHANNEL, ts: "1.000001", text: "x" })).toMatchObject({
      error: "message_not_found",
    });
    const human = slack.postUserMessage(CHANNEL, ANA, "hello");
    expect(await call("chat.update", { channel: CHANNEL, ts: human.ts, text: "x" })).toMatchObject({
      error: "cant_update_message",
    });
    expect(await call("chat.delete", { channel: CHANNEL, ts: card.ts })).toMatchObject({ ok: true });
    expect(slack.message(CHANNEL, card.ts as string)).toBeUndefined();
    expect(changes.at(-1)).toEqual({ type: "message_deleted", channel: CHANNEL, ts: card.ts });
  });

  it("keeps ephemeral messages per person", async () => {
    expect(await call("chat.postEphemeral", { channel: CHANNEL, user: ANA, text: "only Ana" })).toMatchObject(
      {
        ok: true,
      },
    );
    expect(await call("chat.postEphemeral", { channel: CHANNEL, user: "U0NOBODY", text: "x" })).toMatchObject(
      {
        error: "user_not_found",
      },
    );
    expect(slack.listEphemerals(ANA).map((m) => m.text)).toEqual(["only Ana"]);
    expect(slack.listEphemerals(BEN)).toEqual([]);
    const note = slack.slackbotNote(CHANNEL, BEN, "/nope is not a valid command.");
    expect(note.from).toBe("USLACKBOT");
    expect(slack.dismissEphemeral(note.id)).toBe(true);
    expect(slack.listEphemerals(BEN)).toEqual([]);
  });

  it("applies a slash command's response_url: ephemeral answer, replace it, delete it, share, then 404", async () => {
    const { url } = slack.registerResponseUrl({
      channel: CHANNEL,
      user: ANA,
      source: null,
      threadTs: null,
      command: "/scrypath status --share",
    });
    expect(await respond(url, { text: "working…", response_type: "ephemeral" })).toBe(200);
    const [working] = slack.listEphemerals(ANA);
    expect(working?.text).toBe("working…");
    expect(await respond(url, { text: "answer", blocks: blocks("answer"), replace_original: true })).toBe(
      200,
    );
    expect(slack.listEphemerals(ANA)).toMatchObject([
      { id: working?.id, text: "answer", blocks: blocks("answer") },
    ]);
    expect(await respond(url, { delete_original: true })).toBe(200);
    expect(slack.listEphemerals(ANA)).toEqual([]);
    expect(await respond(url, { text: "shared", response_type: "in_channel", replace_original: false })).toBe(
      200,
    );
    expect(slack.listMessages(CHANNEL)).toMatchObject([
      { text: "shared", via: { user: ANA, command: "/scrypath status --share" } },
    ]);
    expect(await respond(url, { text: "fifth" })).toBe(200);
    // Slack serves a response_url five times.
    expect(RESPONSE_URL_USES).toBe(5);
    expect(await respond(url, { text: "sixth" })).toBe(404);
    expect(slack.postsTo(url.split("/").pop() as string).map((p) => p.status)).toEqual([
      200, 200, 200, 200, 200, 404,
    ]);
  });

  it("applies a click's response_url to the clicked message: ephemeral or in the channel, and in its thread", async () => {
    const eph = slack.slackbotNote(CHANNEL, ANA, "page 1");
    const onEphemeral = slack.registerResponseUrl({
      channel: CHANNEL,
      user: ANA,
      source: { kind: "ephemeral", id: eph.id },
      threadTs: null,
    });
    await respond(onEphemeral.url, { text: "page 2", replace_original: true });
    expect(slack.ephemeral(eph.id)?.text).toBe("page 2");
    await respond(onEphemeral.url, { text: "new one", replace_original: false });
    await respond(onEphemeral.url, { text: "page 3", replace_original: true });
    expect(slack.ephemeral(eph.id)?.text).toBe("page 3");

    const card = await call("chat.postMessage", { channel: CHANNEL, text: "card" });
    const reply = await call("chat.postMessage", { channel: CHANNEL, text: "reply", thread_ts: card.ts });
    const onReply = slack.registerResponseUrl({
      channel: CHANNEL,
      user: BEN,
      source: { kind: "message", channel: CHANNEL, ts: reply.ts as string },
      threadTs: card.ts as string,
    });
    await respond(onReply.url, { text: "refused", response_type: "ephemeral", replace_original: false });
    expect(slack.listEphemerals(BEN)).toMatchObject([{ text: "refused", threadTs: card.ts }]);
    await respond(onReply.url, { text: "reply, edited", replace_original: true });
    expect(slack.message(CHANNEL, reply.ts as string)?.text).toBe("reply, edited");
  });

  it("opens, updates, pushes and closes modals with single-use, short-lived triggers", async () => {
    const view = { type: "modal", title: { type: "plain_text", text: "Form" }, blocks: [] };
    expect(await call("views.open", { trigger_id: "123.456.abc", view })).toMatchObject({
      error: "invalid_trigger_id",
    });
    const trigger = slack.issueTrigger(ANA);
    const opened = await call("views.open", { trigger_id: trigger, view });
    expect(opened).toMatchObject({ ok: true, view: { type: "modal", root_view_id: expect.any(String) } });
    expect(await call("views.open", { trigger_id: trigger, view })).toMatchObject({
      error: "trigger_exchanged",
    });
    const id = (opened.view as { id: string; hash: string }).id;
    expect(slack.listViews(ANA).map((v) => v.id)).toEqual([id]);

    expect(await call("views.update", { view_id: id, hash: "stale", view })).toMatchObject({
      error: "hash_conflict",
    });
    const hash = (opened.view as { hash: string }).hash;
    const updated = await call("views.update", {
      view_id: id,
      hash,
      view: { ...view, blocks: [{ type: "divider" }] },
    });
    expect(updated).toMatchObject({ ok: true, view: { id, blocks: [{ type: "divider" }] } });
    expect(await call("views.update", { view_id: "V0NONE", view })).toMatchObject({ error: "not_found" });

    const pushed = await call("views.push", { trigger_id: slack.issueTrigger(ANA), view });
    expect(slack.listViews(ANA).map((v) => v.depth)).toEqual([0, 1]);
    slack.closeView((pushed.view as { id: string }).id);
    expect(slack.listViews(ANA).map((v) => v.id)).toEqual([id]);

    const late = slack.issueTrigger(BEN);
    const now = Date.now();
    vi.spyOn(Date, "now").mockReturnValue(now + TRIGGER_TTL_MS + 1);
    expect(await call("views.open", { trigger_id: late, view })).toMatchObject({ error: "trigger_expired" });
    expect(changes.filter((c) => c.type === "view_closed")).toHaveLength(1);
  });

  it("answers usergroups.users.list, users.info and conversations.info from what it was given", async () => {
    slack.usergroups.set("S0OPS", [BEN]);
    expect(await call("usergroups.users.list", { usergroup: "S0OPS" })).toEqual({ ok: true, users: [BEN] });
    expect(await call("users.info", { user: ANA })).toMatchObject({
      ok: true,
      user: { id: ANA, real_name: "Ana" },
    });
    expect(await call("conversations.info", { channel: CHANNEL })).toMatchObject({
      channel: { name: "ops" },
    });
    expect(await call("auth.test", {})).toMatchObject({
      ok: true,
      user_id: "U0BOT0000",
      bot_id: "B0BOT0000",
    });
  });

  it("answers conversations.info with the bot's membership and the channel's archived flag", async () => {
    expect(await call("conversations.info", { channel: CHANNEL })).toMatchObject({
      ok: true,
      channel: { id: CHANNEL, is_member: true, is_archived: false, is_private: false },
    });
    slack.channels.set("C0NOTIN001", { id: "C0NOTIN001", name: "elsewhere", isMember: false });
    slack.channels.set("C0OLD00001", { id: "C0OLD00001", name: "old", isArchived: true });
    slack.channels.set("G0SECRET01", { id: "G0SECRET01", name: "secret", isMember: false, isPrivate: true });
    expect(await call("conversations.info", { channel: "C0NOTIN001" })).toMatchObject({
      ok: true,
      channel: { is_member: false },
    });
    expect(await call("conversations.info", { channel: "C0OLD00001" })).toMatchObject({
      ok: true,
      channel: { is_archived: true },
    });
    // Slack hides a private channel the bot is not in, as it hides one that does not exist.
    expect(await call("conversations.info", { channel: "G0SECRET01" })).toEqual({
      ok: false,
      error: "channel_not_found",
    });
    expect(await call("conversations.info", { channel: "C0UNKNOWN1" })).toEqual({
      ok: false,
      error: "channel_not_found",
    });
  });
});

describe("the fake Slack API (lenient, as the tests use it)", () => {
  it("records calls and posts, accepts edits of messages it never saw, and fails on request", async () => {
    const slack = await FakeSlack.start();
    try {
      const form = (args: Record<string, string>) => ({
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(args).toString(),
      });
      const update = await fetch(
        `${slack.apiUrl}chat.update`,
        form({ channel: "C1", ts: "1700000100.000100" }),
      );
      expect(await update.json()).toMatchObject({ ok: true });
      const posted = (await (
        await fetch(`${slack.apiUrl}chat.postMessage`, form({ channel: "C1", text: "x" }))
      ).json()) as { ts: string };
      expect(posted.ts).toBe("1700000001.000100");
      slack.failApi("chat.postMessage", { status: 429, retryAfter: 1 });
      expect(
        (await fetch(`${slack.apiUrl}chat.postMessage`, form({ channel: "C1", text: "x" }))).status,
      ).toBe(429);
      // Only the calls that match fail, and only they count.
      slack.failApi(
        "chat.postMessage",
        { status: 200, error: "not_in_channel" },
        1,
        (body) => body.channel === "C2",
      );
      const other = await fetch(`${slack.apiUrl}chat.postMessage`, form({ channel: "C1", text: "x" }));
      expect(await other.json()).toMatchObject({ ok: true });
      const refused = await fetch(`${slack.apiUrl}chat.postMessage`, form({ channel: "C2", text: "x" }));
      expect(await refused.json()).toEqual({ ok: false, error: "not_in_channel" });
      const { id, url } = slack.responseUrl();
      slack.failRespond(id, 500);
      expect((await fetch(url, { method: "POST", body: "{}" })).status).toBe(500);
      expect((await fetch(url, { method: "POST", body: "{}" })).status).toBe(200);
      expect(slack.callsTo("chat.postMessage")).toHaveLength(4);
      expect(slack.updatesOf("1700000100.000100")).toHaveLength(1);
    } finally {
      await slack.close();
    }
  });
});

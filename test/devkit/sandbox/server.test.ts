// The sandbox page server's delivery of a choice in a static_select (the alert card's Snooze): the
// block_actions Slack sends, with the option chosen, signed and posted to the bot's events URL (a
// recording endpoint here), and a refusal for an option the element does not offer.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack, readBody } from "../../../devkit/fakeSlack/index.ts";
import { BEN, BOT, CHANNEL, TEAM, USERS } from "../../../devkit/sandbox/seed.ts";
import { listenSandboxServer, type SandboxServer } from "../../../devkit/sandbox/server.ts";
import { newSigningSecret, signature } from "../../../devkit/signer.ts";

const SNOOZE = {
  type: "static_select",
  action_id: "scrypath.alert.snooze",
  placeholder: { type: "plain_text", text: "Snooze…" },
  options: [
    { text: { type: "plain_text", text: "1 h" }, value: "7:1h" },
    { text: { type: "plain_text", text: "until resolved" }, value: "7:resolved" },
  ],
};

describe("the sandbox page server: a choice in a select", () => {
  let slack: FakeSlack;
  let page: SandboxServer;
  let bot: Server;
  const secret = newSigningSecret();
  const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];

  beforeAll(async () => {
    slack = await FakeSlack.start({ team: TEAM, bot: BOT, users: USERS, channels: [CHANNEL] });
    slack.token = "xoxb-sandbox-test";
    bot = createServer((req, res) => {
      readBody(req, 64 * 1024).then((body) => {
        received.push({ headers: req.headers, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => bot.listen(0, "127.0.0.1", resolve));
    page = await listenSandboxServer("127.0.0.1", 0);
    page.ready({
      slack,
      botEventsUrl: `http://127.0.0.1:${(bot.address() as AddressInfo).port}/slack/events`,
      signingSecret: secret,
      channel: CHANNEL,
      users: USERS,
      command: { name: "/scrypath", usageHint: "status" },
      verbs: [],
    });
  });

  afterAll(async () => {
    await page?.close();
    await slack?.close();
    await new Promise((resolve) => bot?.close(resolve));
  });

  it("sends block_actions with the selected option, signed, and refuses an option the select does not offer", async () => {
    const posted = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: "POST",
      headers: { Authorization: `Bearer ${slack.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        channel: CHANNEL.id,
        text: "an alert",
        blocks: [{ type: "actions", block_id: "alert:7:actions", elements: [SNOOZE] }],
      }),
    });
    const { ts } = (await posted.json()) as { ts: string };
    const choose = (selected: string) =>
      fetch(new URL("/api/click", page.url), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          user: BEN.id,
          where: { kind: "message", ts },
          blockIndex: 0,
          elementIndex: 0,
          selected,
        }),
      });

    expect((await choose("7:resolved")).status).toBe(200);
    expect(received).toHaveLength(1);
    const { headers, body } = received[0] as (typeof received)[number];
    expect(headers["x-slack-signature"]).toBe(
      signature(secret, Number(headers["x-slack-request-timestamp"]), body),
    );
    const payload = JSON.parse(new URLSearchParams(body).get("payload") ?? "{}");
    expect(payload).toMatchObject({
      type: "block_actions",
      user: { id: BEN.id },
      container: { type: "message", message_ts: ts, channel_id: CHANNEL.id },
      actions: [
        {
          type: "static_select",
          action_id: "scrypath.alert.snooze",
          block_id: "alert:7:actions",
          selected_option: { text: { type: "plain_text", text: "until resolved" }, value: "7:resolved" },
        },
      ],
    });

    expect((await choose("7:forever")).status).toBe(400);
    expect(received).toHaveLength(1);
  });
});

// Socket Mode end to end: a local WebSocket server stands in for Slack's socket, the fake Web API
// hands out its URL from apps.connections.open, and the answer still goes to response_url.
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import { slashCommandFields } from "../../devkit/slackRequests.ts";
import { createLogger } from "../../src/log.ts";
import { createSlackApp, type SlackApp } from "../../src/slack/app.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";

const APP_TOKEN = "xapp-1-A0SCRYPATH-1234-socketmodetoken";

describe("the Slack app in Socket Mode", () => {
  let d: TestDeployment;
  let fake: FakeSlack;
  let wss: WebSocketServer;
  let bot: SlackApp;
  let routesPort: number;
  const sockets: WebSocket[] = [];
  const received: Record<string, unknown>[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    d = await testDeployment([{ module: "MyApp.Blog.Post", alias: "posts" }]);
    fake = await FakeSlack.start();
    wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
    wss.on("connection", (socket) => {
      sockets.push(socket);
      socket.on("message", (data) => received.push(JSON.parse(String(data)) as Record<string, unknown>));
      socket.send(
        JSON.stringify({ type: "hello", num_connections: 1, connection_info: { app_id: "A0SCRYPATH" } }),
      );
    });
    fake.socketUrl = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/link/?ticket=test`;
    bot = createSlackApp({
      config: d.config,
      operator: d.operator,
      env: {
        SLACK_BOT_TOKEN: "xoxb-socket-mode-bot-token",
        SLACK_APP_TOKEN: APP_TOKEN,
        SLACK_API_URL: fake.apiUrl,
        SLACK_BOT_ID: "B0BOT0000",
        SLACK_BOT_USER_ID: "U0BOT0000",
        PORT: "0",
        ADMIN_PORT: "0",
      },
      logger: createLogger({ write: (line) => logs.push(line), secrets: [APP_TOKEN] }),
    });
    const started = await bot.start();
    expect(started.port).toBeNull();
    routesPort = started.adminPort;
  });

  afterAll(async () => {
    await bot?.stop();
    for (const s of sockets) s.terminate();
    await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
    await fake?.close();
    await d?.close();
  });

  it("opens the socket with the app token and no other Slack call", () => {
    expect(fake.calls.map((c) => c.method)).toEqual(["apps.connections.open"]);
    expect(fake.calls[0]?.token).toBe(APP_TOKEN);
    expect(bot.settings.mode).toBe("socket");
  });

  it("acks a slash_commands envelope on the socket and answers through response_url", async () => {
    const { id, url } = fake.responseUrl();
    const socket = sockets[0] as WebSocket;
    socket.send(
      JSON.stringify({
        envelope_id: "env-0001",
        type: "slash_commands",
        accepts_response_payload: true,
        payload: slashCommandFields({ text: "help", responseUrl: url }),
      }),
    );
    await fake.until(
      () => received.some((m) => m.envelope_id === "env-0001"),
      10_000,
      () => `no ack envelope; received ${JSON.stringify(received)}`,
    );
    const ack = received.find((m) => m.envelope_id === "env-0001") as Record<string, unknown>;
    // An empty ack: no payload, or an empty one.
    expect(ack.payload === undefined || Object.keys(ack.payload as object).length === 0).toBe(true);
    const [post] = await fake.waitForPosts(id);
    expect(post?.body).toMatchObject({ response_type: "ephemeral", replace_original: false });
    expect(String(post?.body.text)).not.toBe("");
  });

  it("serves /healthz, /readyz and /metrics on ADMIN_PORT (Socket Mode opens no Slack port)", async () => {
    expect(routesPort).toEqual(expect.any(Number));
    const health = await fetch(`http://127.0.0.1:${routesPort}/healthz`);
    expect(health.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${routesPort}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${routesPort}/metrics`)).text();
    expect(metrics).toMatch(/scrypath_bot_commands_total\{verb="help",outcome="ok"\} 1/);
  });

  it("never logs the app token", () => {
    expect(logs.join("\n")).not.toContain(APP_TOKEN);
  });
});

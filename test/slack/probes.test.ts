// The admin port's probes against real services: /readyz stays 200 while Meilisearch is black-holed
// (a TCP proxy between the bot and the real Meilisearch swallows every byte), the deep check names
// it with why, the metric says it is down, answers name it; the admin routes are 404 on the Slack
// port, and /slack/events is 404 on the admin port.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, Harness, type TestBot } from "../slack/confirmHarness.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";
import { postsSchema } from "../support/posts.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy.ts";

describe("probes on the admin port while Meilisearch is black-holed", () => {
  let d: TestDeployment;
  let h: Harness;
  let bot: TestBot;
  let proxy: TcpProxy;

  beforeAll(async () => {
    d = await testDeployment([postsSchema({ contract: { fields: ["title"] } })]);
    const url = new URL(d.config.meilisearch.url);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
    h = await Harness.create(d);
    bot = await h.bot({
      meilisearch: {
        ...(d.raw.meilisearch as Record<string, unknown>),
        url: proxy.rewrite(d.config.meilisearch.url),
        timeoutMs: 2_000,
      },
    });
  });

  afterAll(async () => {
    proxy?.setMode("pass");
    await h?.close();
    await proxy?.close();
    await d?.close();
  });

  const deep = async () => {
    const response = await fetch(`${bot.admin}/readyz?deep=1`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const metrics = async () => (await fetch(`${bot.admin}/metrics`)).text();

  it("is ready, and the deep check is 200, while both backends answer", async () => {
    expect((await fetch(`${bot.admin}/healthz`)).status).toBe(200);
    expect((await fetch(`${bot.admin}/readyz`)).status).toBe(200);
    expect(await deep()).toEqual({
      status: 200,
      body: { ready: true, phase: "serving", postgres: { ok: true }, meilisearch: { ok: true } },
    });
  });

  it("stays ready while Meilisearch is dark; the deep check, the metric and answers name it", async () => {
    proxy.setMode("blackhole");
    try {
      const ready = await fetch(`${bot.admin}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ ready: true, phase: "serving" });

      const { status, body } = await deep();
      expect(status).toBe(503);
      expect(body.ready).toBe(false);
      expect(body.postgres).toEqual({ ok: true });
      expect(body.down).toEqual([
        {
          backend: "meilisearch",
          error: expect.stringMatching(
            /^Meilisearch at http:\/\/127\.0\.0\.1:\d+ did not answer \/health within/,
          ),
        },
      ]);
      const text = await metrics();
      expect(text).toMatch(/^scrypath_bot_backend_up\{backend="meilisearch"\} 0$/m);
      expect(text).toMatch(/^scrypath_bot_backend_up\{backend="postgres"\} 1$/m);
      expect(text).toMatch(/^scrypath_bot_ready 1$/m);

      // An answer says which backend did not answer, and readiness never moved.
      const answer = await h.finalAnswer(bot, "status posts", ALICE);
      expect(answer.text).toMatch(/Meilisearch/);
      expect((await fetch(`${bot.admin}/readyz`)).status).toBe(200);
    } finally {
      proxy.setMode("pass");
    }
    expect((await deep()).status).toBe(200);
  }, 60_000);

  it("serves the admin routes on the admin port only, and /slack/events on the Slack port only", async () => {
    for (const path of ["/healthz", "/readyz", "/readyz?deep=1", "/metrics"]) {
      expect((await fetch(`${bot.base}${path}`)).status, path).toBe(404);
    }
    const events = await fetch(`${bot.admin}/slack/events`, { method: "POST", body: "x" });
    expect(events.status).toBe(404);
    expect((await fetch(`${bot.admin}/metrics`, { method: "POST" })).status).toBe(405);
    const scrape = await fetch(`${bot.admin}/metrics`);
    expect(scrape.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await scrape.text()).toMatch(/^# TYPE scrypath_bot_commands_total counter$/m);
  });
});

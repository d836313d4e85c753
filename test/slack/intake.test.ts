// The HTTP front door (src/slack/intake.ts) against the real Bolt app over real sockets, real
// Postgres and Meilisearch behind it: body limits (declared and chunked), header and request
// timeouts, the connection cap, the signature window in both directions, replays answered once
// and duplicated form fields refused with a clear 400.
import type { Server } from "node:http";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { send, signed, slashCommandFields, slashCommandRequest } from "../../devkit/slackRequests.ts";
import { createLogger } from "../../src/log.ts";
import { createSlackApp, EVENTS_PATH, type SlackApp } from "../../src/slack/app.ts";
import { INTAKE_LIMITS, type IntakeLimits } from "../../src/slack/intake.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { slackEnv } from "../support/slack.ts";
import { ALICE, CHANNEL, Harness, type TestBot } from "./confirmHarness.ts";

const FORM = "application/x-www-form-urlencoded";

/** Short limits, so the timeouts show within a test; the production ones are checked apart. */
const SHORT: IntakeLimits = {
  bodyBytes: INTAKE_LIMITS.bodyBytes,
  headersTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  keepAliveTimeoutMs: 1_000,
  connectionsCheckingIntervalMs: 250,
  maxConnections: 20,
};

interface Raw {
  socket: Socket;
  /** Everything the server sent so far. */
  received: () => string;
  /** Resolves with the ms from opening until the server closed the connection. */
  closed: Promise<number>;
}

/** A raw TCP connection to the bot, to send exactly the bytes a test needs, as slowly as it likes. */
async function open(base: string): Promise<Raw> {
  const { hostname, port } = new URL(base);
  const opened = performance.now();
  const socket = connect({ host: hostname, port: Number(port) });
  let data = "";
  socket.on("data", (chunk) => {
    data += chunk.toString("latin1");
  });
  socket.on("error", () => {});
  const closed = new Promise<number>((resolve) =>
    socket.once("close", () => resolve(performance.now() - opened)),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { socket, received: () => data, closed };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes a byte every `everyMs` until the socket closes (a slow-drip client). */
function drip(raw: Raw, everyMs: number, byte = "a"): void {
  const timer = setInterval(() => {
    if (raw.socket.destroyed || raw.socket.writableEnded) clearInterval(timer);
    else raw.socket.write(byte);
  }, everyMs);
  void raw.closed.then(() => clearInterval(timer));
}

function statusOf(response: string): number | null {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(response);
  return match ? Number(match[1]) : null;
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("the Slack intake over real sockets", () => {
  let d: TestDeployment;
  let h: Harness;
  let bot: TestBot;
  let quick: { app: SlackApp; base: string; logs: string[] };

  beforeAll(async () => {
    d = await testDeployment([postsSchema({ contract: { fields: ["title"] } })]);
    await d.meili.createIndex(`${d.indexPrefix}_post`, { primaryKey: "id" }).waitTask();
    h = await Harness.create(d);
    bot = await h.bot();
    // A second app over the same deployment with short timeouts and a small connection cap.
    const logs: string[] = [];
    const app = createSlackApp({
      config: d.config,
      operator: d.operator,
      env: slackEnv(h.fake),
      logger: createLogger({ write: (line) => logs.push(line) }),
      intakeLimits: SHORT,
      digestSchedules: false,
    });
    const { port } = await app.start();
    quick = { app, base: `http://127.0.0.1:${port}`, logs };
  });

  afterAll(async () => {
    await quick?.app.stop();
    await h?.close();
    await d?.close();
  });

  const events = () => `${bot.base}${EVENTS_PATH}`;

  describe("body limits", () => {
    it("refuses a declared oversized body with 413 before reading it, and closes the connection", async () => {
      const raw = await open(bot.base);
      const started = performance.now();
      // Headers only: a server that reads the body first would wait here for ever.
      raw.socket.write(
        `POST ${EVENTS_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM}\r\nContent-Length: ${3_900_000}\r\n\r\n`,
      );
      await waitUntil(() => statusOf(raw.received()) !== null, 5_000, "an answer to the headers");
      expect(statusOf(raw.received())).toBe(413);
      expect(raw.received()).toMatch(/Request body too large/);
      expect(performance.now() - started).toBeLessThan(2_000);
      await expect(Promise.race([raw.closed, sleep(3_000).then(() => "open")])).resolves.not.toBe("open");
      expect(bot.logs.some((l) => l.includes("refused a request body over the limit"))).toBe(true);
    });

    it("cuts a chunked body once it runs past the limit (413), without reading the rest", async () => {
      const raw = await open(bot.base);
      raw.socket.write(
        `POST ${EVENTS_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM}\r\nTransfer-Encoding: chunked\r\n\r\n`,
      );
      const chunk = "a".repeat(64 * 1024);
      let sent = 0;
      // Up to 1 MiB (under Bolt's own 4 MiB limit), stopping as soon as the server answers.
      while (sent < 1024 * 1024 && statusOf(raw.received()) === null && !raw.socket.destroyed) {
        raw.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
        sent += chunk.length;
        await sleep(10);
      }
      await waitUntil(() => statusOf(raw.received()) !== null, 5_000, "an answer to the chunked body");
      expect(statusOf(raw.received())).toBe(413);
      // Refused at the limit, not after the whole megabyte.
      expect(sent).toBeLessThan(1024 * 1024);
      expect(sent).toBeGreaterThan(INTAKE_LIMITS.bodyBytes - chunk.length);
      await expect(Promise.race([raw.closed, sleep(3_000).then(() => "open")])).resolves.not.toBe("open");
    });

    it("refuses anything but POST on the events path; /healthz answers on the admin port only", async () => {
      const get = await fetch(events());
      expect(get.status).toBe(405);
      const health = await fetch(`${bot.admin}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok" });
      expect((await fetch(`${bot.base}/healthz`)).status).toBe(404);
      expect((await fetch(`${bot.base}/nowhere`)).status).toBe(404);
      expect((await fetch(`${bot.admin}/nowhere`)).status).toBe(404);
    });
  });

  describe("timeouts and the connection cap", () => {
    it("production limits close an incomplete request within 40 s, checked often enough", async () => {
      const { requestTimeoutMs, headersTimeoutMs, connectionsCheckingIntervalMs } = INTAKE_LIMITS;
      expect(headersTimeoutMs).toBeLessThanOrEqual(requestTimeoutMs);
      expect(requestTimeoutMs + connectionsCheckingIntervalMs).toBeLessThanOrEqual(40_000);
      expect(INTAKE_LIMITS.bodyBytes).toBe(256 * 1024);
      // …and the default app's server really has them (not Node's 300 s / 30 s defaults).
      const receiver = (bot.bot.app as unknown as { receiver: { server: Server } }).receiver;
      const s = receiver.server as Server & { connectionsCheckingInterval: number };
      expect(s.requestTimeout).toBe(requestTimeoutMs);
      expect(s.headersTimeout).toBe(headersTimeoutMs);
      expect(s.connectionsCheckingInterval).toBe(connectionsCheckingIntervalMs);
      expect(s.keepAliveTimeout).toBe(INTAKE_LIMITS.keepAliveTimeoutMs);
      expect(s.maxConnections).toBe(INTAKE_LIMITS.maxConnections);
    });

    it("gives the admin server (/healthz, /readyz, /metrics) the same limits; Socket Mode opens no other port", async () => {
      const socketApp = createSlackApp({
        config: d.config,
        operator: d.operator,
        env: { ...slackEnv(h.fake), SLACK_APP_TOKEN: "xapp-1-A0SCRYPATH-1-intaketest" },
        logger: createLogger({ write: () => {} }),
        digestSchedules: false,
      });
      const receiver = (socketApp.app as unknown as { receiver: { httpServer?: Server } }).receiver;
      expect(receiver.httpServer).toBeUndefined();
      const routes = socketApp.admin;
      expect(routes.requestTimeout).toBe(INTAKE_LIMITS.requestTimeoutMs);
      expect(routes.headersTimeout).toBe(INTAKE_LIMITS.headersTimeoutMs);
      expect((routes as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval).toBe(
        INTAKE_LIMITS.connectionsCheckingIntervalMs,
      );
      expect(routes.maxConnections).toBe(INTAKE_LIMITS.maxConnections);
    });

    it("closes slow-drip headers, a slow-drip body and a silent connection within the timeouts", async () => {
      const headers = await open(quick.base);
      headers.socket.write(`POST ${EVENTS_PATH} HTTP/1.1\r\nX-Slow: `);
      drip(headers, 100);
      const body = await open(quick.base);
      body.socket.write(
        `POST ${EVENTS_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM}\r\nContent-Length: 1000\r\n\r\n`,
      );
      drip(body, 100);
      const silent = await open(quick.base);
      const bound = SHORT.requestTimeoutMs + SHORT.connectionsCheckingIntervalMs + 1_500;
      const [a, b, c] = await Promise.all(
        [headers, body, silent].map((r) => Promise.race([r.closed, sleep(10_000).then(() => Infinity)])),
      );
      expect(a).toBeLessThan(bound);
      expect(b).toBeLessThan(bound);
      expect(c).toBeLessThan(bound);
      // Each was told why (408) or simply closed; none was answered as a request.
      for (const r of [headers, body, silent]) expect([null, 408]).toContain(statusOf(r.received()));
    });

    it("closes connections beyond the cap at once, and serves again once the idle ones are gone", async () => {
      const hogs = await Promise.all(Array.from({ length: SHORT.maxConnections }, () => open(quick.base)));
      await sleep(100);
      const extra = await open(quick.base);
      const closedIn = await Promise.race([extra.closed, sleep(2_000).then(() => Infinity)]);
      expect(closedIn).toBeLessThan(1_000);
      // The hogs are reaped by the header timeout; then a signed command is acknowledged.
      await Promise.all(hogs.map((r) => r.closed));
      const { id, url } = h.fake.responseUrl();
      const started = performance.now();
      const ack = await send(
        `${quick.base}${EVENTS_PATH}`,
        slashCommandRequest({ text: "help", responseUrl: url }),
      );
      expect(ack).toEqual({ status: 200, body: "" });
      expect(performance.now() - started).toBeLessThan(3_000);
      await h.fake.waitForPosts(id, 1);
    });
  });

  describe("signed requests", () => {
    const now = () => Math.floor(Date.now() / 1000);

    it("refuses a timestamp more than 5 minutes off in either direction; accepts one inside", async () => {
      for (const offset of [+400, -400]) {
        const { id, url } = h.fake.responseUrl();
        const request = slashCommandRequest(
          { text: "help", responseUrl: url },
          { timestamp: now() + offset },
        );
        expect(await send(events(), request)).toEqual({ status: 401, body: "" });
        await sleep(300);
        expect(h.fake.postsTo(id)).toEqual([]);
      }
      const { id, url } = h.fake.responseUrl();
      const inside = slashCommandRequest({ text: "help", responseUrl: url }, { timestamp: now() + 200 });
      expect(await send(events(), inside)).toEqual({ status: 200, body: "" });
      await h.fake.waitForPosts(id, 1);
    });

    it("answers a replayed /scrypath retry once: one card, one confirmation row", async () => {
      const failed = await insertJob(d.oban.pool, d.oban.prefix, {
        state: "discarded",
        queue: QUEUE,
        args: upsertArgs(POST, `${d.indexPrefix}_post`, [7]),
        errors: [obanError("** (Req.TransportError) timeout")],
        attempt: 8,
        maxAttempts: 8,
      });
      const { id, url } = h.fake.responseUrl();
      const request = slashCommandRequest({
        text: `retry posts ${failed}`,
        responseUrl: url,
        channelId: CHANNEL,
        userId: ALICE,
      });
      const before = h.fake.posted.length;
      const first = await send(events(), request);
      const replay = await send(events(), request);
      expect(first).toEqual({ status: 200, body: "" });
      // Acknowledged (a duplicate delivery must not look like a failure), and nothing else.
      expect(replay).toEqual({ status: 200, body: "" });
      await h.nextCard(before);
      await sleep(1_500);
      const cards = h.fake.posted.slice(before).filter((p) => JSON.stringify(p.body).includes(`${failed}`));
      expect(cards).toHaveLength(1);
      const { rows } = await d.oban.pool.query(
        `SELECT count(*)::int AS n FROM "${d.config.state.schema}".confirmations WHERE request::text LIKE $1`,
        [`%${failed}%`],
      );
      expect(rows[0].n).toBe(1);
      expect(h.fake.postsTo(id).length).toBeLessThanOrEqual(1);
      expect(bot.logs.some((l) => l.includes("ignored a signed request seen before"))).toBe(true);
    });

    it("refuses a duplicated form field with a clear 400, logged, and no bug message", async () => {
      const { id, url } = h.fake.responseUrl();
      const fields = new URLSearchParams(slashCommandFields({ text: "status posts", responseUrl: url }));
      fields.append("command", "/other");
      const answer = await send(events(), signed(fields.toString()));
      expect(answer.status).toBe(400);
      expect(answer.body).toMatch(/form field "command" appears more than once/);
      const payloads = new URLSearchParams();
      payloads.append("payload", JSON.stringify({ type: "block_actions", response_url: url }));
      payloads.append("payload", JSON.stringify({ type: "view_submission" }));
      const twice = await send(events(), signed(payloads.toString()));
      expect(twice.status).toBe(400);
      expect(twice.body).toMatch(/form field "payload" appears more than once/);
      await sleep(500);
      expect(h.fake.postsTo(id)).toEqual([]);
      expect(bot.logs.filter((l) => l.includes("duplicated form field"))).toHaveLength(2);
      expect(bot.logs.some((l) => l.includes("unhandled error in Bolt"))).toBe(false);
    });

    it("logs a flood of unsigned requests as one line, not one line each", async () => {
      const refusedLines = () => quick.logs.filter((l) => l.includes("refused an unsigned or stale request"));
      const before = refusedLines().length;
      const answers = await Promise.all(
        Array.from({ length: 40 }, () =>
          send(`${quick.base}${EVENTS_PATH}`, signed("command=%2Fscrypath&text=help", { unsigned: true })),
        ),
      );
      expect(answers.every((a) => a.status === 401)).toBe(true);
      // One line for the flood (two if a 10-second period ended in the middle of it).
      expect(refusedLines().length - before).toBeGreaterThanOrEqual(1);
      expect(refusedLines().length - before).toBeLessThanOrEqual(2);
    });

    it("still refuses an unsigned request (401) and answers Slack's unsigned ssl_check", async () => {
      const { url } = h.fake.responseUrl();
      expect(
        await send(events(), slashCommandRequest({ text: "help", responseUrl: url }, { unsigned: true })),
      ).toEqual({ status: 401, body: "" });
      const check = await send(events(), signed("ssl_check=1&token=abc", { unsigned: true }));
      expect(check.status).toBe(200);
    });
  });
});

// Hostile command texts: thousands through runSlashCommand directly (fast), a few hundred through
// the signed HTTP path. Each gets a usage or result message with a text fallback; nothing throws,
// nothing is left unhandled, the process stays healthy and oban_jobs is still there.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CommandResult, runSlashCommand } from "../../commands/index.ts";
import { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { send, slashCommandRequest } from "../../devkit/slackRequests.ts";
import { parseConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { createSlackApp, type SlackApp } from "../../src/slack/app.ts";
import { validateMessage } from "../support/blockKit.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema } from "../support/posts.ts";
import { slackEnv } from "../support/slack.ts";

const ATOMS = [
  "status",
  "failed",
  "reconcile",
  "drift",
  "help",
  "retry",
  "STATUS",
  "posts",
  "post",
  POST,
  `Elixir.${POST}`,
  "MyApp.Nope",
  "--class",
  "--class=validation",
  "--class --class=--page",
  "--page",
  "--page=2",
  "--page=0",
  "--page=-1",
  "--page=1e9",
  "--page=999999999",
  "--page 101",
  "--source",
  "--source=oban",
  "--source=meilisearch",
  "--source=../../etc",
  "--share",
  "--share=yes",
  "--help",
  "--target-index",
  "--target-index=x;y",
  "--",
  "---",
  "--=",
  "-x",
  '"unterminated',
  "'half",
  '""',
  "''",
  '"posts --share"',
  "<!channel>",
  "<!here>",
  "<@U0ALICE001>",
  "<#C0ONCALL01|oncall>",
  "<https://evil.example|click>",
  "&amp;",
  "posts'; DROP TABLE oban_jobs;--",
  "'; DELETE FROM oban_jobs; --",
  "1 OR 1=1",
  "$(rm -rf /)",
  "`rm -rf /`",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion as hostile input
  "${PATH}",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  '{"__proto__":{"polluted":1}}',
  "\u202Eevil\u202C",
  "\u200B",
  "\u200Bstatus",
  "status\u200D",
  "\uFEFF",
  "ｓｔａｔｕｓ",
  "ß",
  "İ",
  "שלום",
  "مرحبا",
  "😀",
  "👩‍👩‍👧‍👦",
  "🔥posts",
  "\u0000",
  "\u0007",
  "%s%n%x",
  "../../../../etc/passwd",
  "null",
  "undefined",
  "NaN",
  "Infinity",
  "-0",
  "0x10",
  "a".repeat(300),
];
const SEPARATORS = [" ", " ", " ", "  ", "\t", "\n", "\u00A0", "=", ""];

/** Deterministic PRNG (mulberry32) so a failure can be reproduced. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hostileTexts(count: number, seed: number): string[] {
  const random = rng(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
  const texts = [
    "",
    " ",
    "x".repeat(10_000),
    "status ".repeat(1_000),
    "--class ".repeat(80),
    `failed ${"--page ".repeat(40)}`,
    Array.from({ length: 200 }, () => "--share").join(" "),
    String.fromCharCode(...Array.from({ length: 300 }, (_, i) => 0x300 + i)),
  ];
  while (texts.length < count) {
    const words = Array.from({ length: Math.floor(random() * 9) }, () => pick(ATOMS));
    // Often start with a real verb so the argument parsers get exercised, not only the verb lookup.
    if (random() < 0.6) words.unshift(pick(["status", "failed", "reconcile", "drift", "help"]));
    let text = "";
    for (const w of words) text += w + pick(SEPARATORS);
    texts.push(text);
  }
  return texts;
}

function expectAnswer(text: string, result: CommandResult): void {
  const where = `for ${JSON.stringify(text.slice(0, 120))}`;
  expect(["ok", "usage", "denied", "backend_error"], where).toContain(result.outcome);
  expect(result.message.text.trim(), where).not.toBe("");
  expect(validateMessage(result.message), where).toEqual([]);
}

describe("hostile command texts", () => {
  let d: TestDeployment;
  let fake: FakeSlack;
  let bot: SlackApp;
  let base: string;
  let admin: string;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled);
    d = await testDeployment([postsSchema()]);
    await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: "search_sync",
      args: upsertArgs(POST, `${d.indexPrefix}_post`, [1]),
      errors: [obanError("** (RuntimeError) boom")],
      attempt: 8,
      maxAttempts: 8,
    });
    fake = await FakeSlack.start();
    bot = createSlackApp({
      config: parseConfig({ ...d.raw, access: { channels: ["C0ONCALL01"] } }, {}),
      operator: d.operator,
      env: slackEnv(fake, "xoxb-fuzz-token-0000"),
      logger: createLogger({ write: () => {} }),
    });
    const { port, adminPort } = await bot.start();
    base = `http://127.0.0.1:${port}`;
    admin = `http://127.0.0.1:${adminPort}`;
  });

  afterAll(async () => {
    process.off("unhandledRejection", onUnhandled);
    await bot?.stop();
    await fake?.close();
    await d?.close();
  });

  it("answers 3000 texts through runSlashCommand with a usage or a result", {
    timeout: 120_000,
  }, async () => {
    const deps = { operator: d.operator, config: d.config, now: () => new Date() };
    const texts = hostileTexts(3_000, 20261120);
    const outcomes = new Map<string, number>();
    for (const text of texts) {
      const result = await runSlashCommand(text, { userId: "U0ALICE001", channelId: "C0ONCALL01" }, deps);
      expectAnswer(text, result);
      outcomes.set(result.outcome, (outcomes.get(result.outcome) ?? 0) + 1);
    }
    // The generator reaches both the parsers' refusals and real reads.
    expect(outcomes.get("usage")).toBeGreaterThan(100);
    expect(outcomes.get("ok")).toBeGreaterThan(10);
    expect(unhandled).toEqual([]);
  });

  it("answers 200 texts through the signed HTTP path", { timeout: 120_000 }, async () => {
    const texts = hostileTexts(200, 7);
    for (let i = 0; i < texts.length; i += 20) {
      const batch = texts.slice(i, i + 20);
      await Promise.all(
        batch.map(async (text) => {
          const { id, url } = fake.responseUrl();
          const ack = await send(
            `${base}/slack/events`,
            slashCommandRequest({ text, responseUrl: url, channelId: "C0ONCALL01" }),
          );
          expect(ack, `ack for ${JSON.stringify(text.slice(0, 80))}`).toEqual({ status: 200, body: "" });
          const [post] = await fake.waitForPosts(id);
          const body = post?.body as Record<string, unknown>;
          expect(String(body.text).trim()).not.toBe("");
          expect(validateMessage({ text: body.text, blocks: body.blocks })).toEqual([]);
          expect(JSON.stringify(body)).not.toMatch(/request id r[0-9a-f]{12}/);
        }),
      );
    }
    expect(unhandled).toEqual([]);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).not.toMatch(/scrypath_bot_unexpected_errors_total\{[^}]*\} [1-9]/);
  });

  it("stays healthy, and oban_jobs is still there", async () => {
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    const { rows } = await d.oban.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${d.oban.prefix}".oban_jobs`,
    );
    expect(rows[0]?.n).toBe(1);
    const { rows: tables } = await d.oban.pool.query<{ t: string | null }>(
      "SELECT to_regclass('public.oban_jobs')::text AS t",
    );
    expect(tables[0]?.t).toBe("oban_jobs");
  });
});

// Shared set-up for the read fault tests: a real deployment (Postgres, Meilisearch) reached only
// through fault proxies the test controls, the real Bolt app over signed HTTP answering on the
// fake Slack, and the CLI run in-process against a config file that names the same proxies.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, inject } from "vitest";
import { stringify } from "yaml";
import { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { SIGNING_SECRET, send, slashCommandRequest } from "../../devkit/slackRequests.ts";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { createPool, type PoolOptions } from "../../src/backends/postgres.ts";
import { type Config, parseConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { createOperator, type Operator } from "../../src/operator/index.ts";
import { createSlackApp, type SlackApp } from "../../src/slack/app.ts";
import type { SlackMessage } from "../../views/types.ts";
import { ALICE, CHANNEL, operatorsConfig } from "../slack/confirmHarness.ts";
import { validateMessage } from "../support/blockKit.ts";
import { runCaptured } from "../support/cli.ts";
import { insertJob } from "../support/db.ts";
import { failDocumentTask } from "../support/meili.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { slackEnv } from "../support/slack.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy.ts";
import { visibleText } from "../views/fixtures.ts";

export const POST = "MyApp.Blog.Post";
export const QUEUE = "search_sync";
/** What every slash command must meet (DESIGN.md "Time bounds"). */
export const ANSWER_BOUND_MS = 15_000;

const SECRETS = [
  inject("meilisearchApiKey"),
  decodeURIComponent(new URL(inject("databaseUrl")).password),
].filter((s): s is string => typeof s === "string" && s.length > 0);

export interface Answer {
  body: Record<string, unknown>;
  /** From the signed request to the final answer on response_url. */
  ms: number;
  /** Everything the user can read, as one string. */
  text: string;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface FaultyDeployment {
  d: TestDeployment;
  /** The failed queue jobs: one discarded, one retryable. */
  jobs: number[];
  pgProxy: TcpProxy;
  meiliProxy: TcpProxy;
  /** The deployment's config with both backends reached through the proxies. */
  config: Config;
  raw: Record<string, unknown>;
  operator: Operator;
  fake: FakeSlack;
  bot: SlackApp;
  base: string;
  /** The admin server (/healthz, /readyz, /metrics). */
  admin: string;
  logs: string[];
  /** `/scrypath <text>` as an operator in the allowed channel: its final answer and how long it took. */
  slash(text: string): Promise<Answer>;
  /** The CLI in-process with `config` (or `raw` overridden), timed. */
  cli(argv: string[], raw?: Record<string, unknown>): Promise<CliResult>;
  close(): Promise<void>;
}

const WORKING = /^Still working on /;

/** A bot wired to `raw` (its own pool and Meilisearch client), on the fake Slack. */
export async function startBot(raw: Record<string, unknown>, fake: FakeSlack, pool: PoolOptions = {}) {
  const config = parseConfig(raw, {});
  const operator = createOperator({
    config,
    db: createPool(config.database.url, { max: 5, ...pool }),
    meili: createMeiliClient(config.meilisearch),
  });
  const logs: string[] = [];
  const bot = createSlackApp({
    config,
    operator,
    env: slackEnv(fake),
    logger: createLogger({ write: (line) => logs.push(line), secrets: [SIGNING_SECRET] }),
  });
  const { port, adminPort } = await bot.start();
  const base = `http://127.0.0.1:${port}`;
  const admin = `http://127.0.0.1:${adminPort}`;
  const slash = async (text: string): Promise<Answer> => {
    const { id, url } = fake.responseUrl();
    const started = Date.now();
    const ack = await send(
      `${base}/slack/events`,
      slashCommandRequest({ text, responseUrl: url, channelId: CHANNEL, userId: ALICE }),
    );
    expect(ack).toEqual({ status: 200, body: "" });
    let found: Record<string, unknown> | undefined;
    await fake.waitFor(
      () => {
        found = fake.postsTo(id).find((p) => !WORKING.test(String(p.body.text)))?.body;
        return found !== undefined;
      },
      () => `no final answer to /scrypath ${text}`,
      ANSWER_BOUND_MS + 10_000,
    );
    const ms = Date.now() - started;
    const body = found as Record<string, unknown>;
    expect(validateMessage({ text: body.text, blocks: body.blocks })).toEqual([]);
    const all = JSON.stringify(body);
    for (const secret of SECRETS) expect(all).not.toContain(secret);
    return { body, ms, text: visibleText(body as unknown as SlackMessage) };
  };
  return { config, operator, bot, base, admin, logs, slash };
}

/** The CLI in-process with the config `raw` written to `path`, timed; no secret in its output. */
export async function runCli(argv: string[], raw: Record<string, unknown>, path: string): Promise<CliResult> {
  writeFileSync(path, stringify(raw));
  const t0 = Date.now();
  const { code, stdout, stderr } = await runCaptured([...argv, "--config", path], {
    env: {},
  });
  for (const secret of SECRETS) {
    expect(stdout).not.toContain(secret);
    expect(stderr).not.toContain(secret);
  }
  return { code, stdout, stderr, ms: Date.now() - t0 };
}

export async function faultyDeployment(): Promise<FaultyDeployment> {
  const d = await testDeployment([
    {
      module: POST,
      alias: "posts",
      syncMode: "oban",
      obanQueue: QUEUE,
      contract: { fields: ["title"], filterable: ["status"] },
    },
  ]);
  const live = `${d.indexPrefix}_post`;
  // Two failed queue jobs (one terminal, one retrying), one failed Meilisearch task.
  const discarded = await insertJob(d.oban.pool, d.oban.prefix, {
    state: "discarded",
    queue: QUEUE,
    args: upsertArgs(POST, live, [1]),
    errors: [obanError("** (RuntimeError) boom")],
    attempt: 8,
    maxAttempts: 8,
  });
  const retryable = await insertJob(d.oban.pool, d.oban.prefix, {
    state: "retryable",
    queue: QUEUE,
    args: upsertArgs(POST, live, [2]),
    errors: [obanError("** (Req.TransportError) timeout")],
    attempt: 1,
  });
  await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
  await d.meili
    .index(live)
    .updateSettings({ filterableAttributes: ["status"] })
    .waitTask();
  await failDocumentTask(d.meili, live, "missing_primary_key");

  const dbUrl = new URL(inject("databaseUrl"));
  const meiliUrl = new URL(inject("meilisearchUrl"));
  const pgProxy = await startTcpProxy({ host: dbUrl.hostname, port: Number(dbUrl.port) });
  const meiliProxy = await startTcpProxy({ host: meiliUrl.hostname, port: Number(meiliUrl.port) });
  const base = d.raw as { database: Record<string, unknown>; meilisearch: Record<string, unknown> };
  const raw = {
    ...d.raw,
    access: operatorsConfig(),
    database: { ...base.database, url: pgProxy.rewrite(dbUrl.href) },
    meilisearch: { ...base.meilisearch, url: meiliProxy.rewrite(meiliUrl.href).replace(/\/$/, "") },
  };
  const fake = await FakeSlack.start();
  const started = await startBot(raw, fake);
  const dir = mkdtempSync(join(tmpdir(), "scrypath-faults-"));
  let files = 0;

  const cli = (argv: string[], override: Record<string, unknown> = raw) =>
    runCli(argv, override, join(dir, `config-${files++}.yml`));
  return {
    d,
    jobs: [discarded, retryable],
    pgProxy,
    meiliProxy,
    raw,
    fake,
    ...started,
    cli,
    async close() {
      pgProxy.setMode("pass");
      meiliProxy.setMode("pass");
      await started.bot.stop();
      await started.operator.close();
      await fake.close();
      await pgProxy.close();
      await meiliProxy.close();
      await d.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The one line a CLI failure prints, after `<task> failed: `. */
export function cliSentence(result: CliResult, task: string): string {
  const lines = result.stderr.split("\n").filter((l) => l !== "");
  expect(lines, result.stderr).toHaveLength(1);
  const prefix = `${task} failed: `;
  expect(lines[0]?.startsWith(prefix), result.stderr).toBe(true);
  return (lines[0] as string).slice(prefix.length);
}

/** Waits (bounded) until an "answered" log line with a backend error carries `sentence`. */
export async function loggedAnswer(logs: string[], sentence: string | RegExp): Promise<string> {
  const matches = (l: string) =>
    l.includes('"outcome":"backend_error"') &&
    (typeof sentence === "string" ? l.includes(sentence) : sentence.test(l));
  for (let waited = 0; waited < 5_000; waited += 20) {
    const line = logs.find(matches);
    if (line) return line;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no answered log line with ${sentence}`);
}

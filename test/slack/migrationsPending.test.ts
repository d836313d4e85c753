// The bot never runs DDL: with its state schema not migrated, a mutation requested through the real
// Bolt app (signed HTTP, real Postgres and Meilisearch, the fake Slack) is refused privately with the
// `scrypath-bot migrate` hint, reads still answer, and nothing is created in the bot's schema. Once
// `migrate` ran, the same running bot takes the request (a pending answer is never cached).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { send, slashCommandRequest } from "../../devkit/slackRequests.ts";
import { createLogger } from "../../src/log.ts";
import { main } from "../../src/main.ts";
import { STATE_VERSION } from "../../src/state/migrations.ts";
import { runCaptured } from "../support/cli.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { slackEnv } from "../support/slack.ts";
import { ALICE, CHANNEL, Harness, operatorsConfig, type TestBot, textOf } from "./confirmHarness.ts";

describe("a bot whose migrations are pending", () => {
  let d: TestDeployment;
  let h: Harness;
  let bot: TestBot;
  let failed: number;

  /** Everything in the bot's state schema, as information_schema lists it (the schema included). */
  const stateObjects = async (schema = d.config.state.schema): Promise<string[]> => {
    const { rows } = await d.oban.pool.query<{ name: string }>(
      `SELECT 'schema ' || schema_name AS name FROM information_schema.schemata WHERE schema_name = $1
       UNION ALL SELECT 'table ' || table_name FROM information_schema.tables WHERE table_schema = $1
       UNION ALL SELECT 'sequence ' || sequence_name FROM information_schema.sequences WHERE sequence_schema = $1`,
      [schema],
    );
    return rows.map((r) => r.name);
  };

  beforeAll(async () => {
    d = await testDeployment([postsSchema({ contract: { fields: ["title"] } })], { migrate: false });
    const live = `${d.indexPrefix}_post`;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    failed = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [401]),
      errors: [obanError("** (Req.TransportError) timeout")],
      attempt: 8,
      maxAttempts: 8,
    });
    h = await Harness.create(d);
    // A short sweep interval: the sweeper runs against the missing tables during the test too.
    bot = await h.bot({ sweepIntervalMs: 100 });
  });

  afterAll(async () => {
    await h?.close();
    await d?.close();
  });

  it("refuses a retry privately with the migrate hint; status and failed still answer; creates nothing", async () => {
    const before = h.fake.posted.length;
    const answer = textOf(await h.answer(await h.command(bot, `retry posts ${failed}`, ALICE)));
    expect(answer).toContain("migrations_pending");
    expect(answer).toContain("scrypath-bot migrate");
    expect(answer).toContain("not in the audit log");
    // Anything the bot would have posted (a card) would be there by now.
    await new Promise((r) => setTimeout(r, 300));
    expect(h.fake.posted.slice(before)).toEqual([]);

    const status = await h.finalAnswer(bot, "status posts", ALICE);
    expect(status.text).not.toMatch(/migrat|could not|failed to/i);
    expect(status.text).toContain("1 terminal");
    const failedWork = await h.finalAnswer(bot, "failed posts", ALICE);
    expect(failedWork.text).not.toMatch(/migrat/i);
    expect(failedWork.text).toContain(String(failed));

    expect(await stateObjects()).toEqual([]);
  });

  it("after `scrypath-bot migrate` (another process's pool), the same running bot takes the request", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scrypath-migrate-"));
    let stdout = "";
    try {
      writeFileSync(join(dir, "bot.yml"), stringify(d.raw));
      const migrated = await runCaptured(["migrate", "--config", join(dir, "bot.yml")], { env: {} });
      expect(migrated.code).toBe(0);
      stdout = migrated.stdout;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(stdout).toBe(`applied ${STATE_VERSION} migrations (0 → ${STATE_VERSION})\n`);
    const before = h.fake.posted.length;
    await h.command(bot, `retry posts ${failed}`, ALICE);
    const card = await h.nextCard(before);
    expect(textOf(card.body)).toContain(String(failed));
    expect(await stateObjects()).toContain("table confirmations");
  });

  it("the production entry (serve) on a state schema nobody migrated: starts, creates nothing, refuses, reads", async () => {
    const schema = `${d.config.state.schema}_serve`;
    const dir = mkdtempSync(join(tmpdir(), "scrypath-serve-"));
    const lines: string[] = [];
    let stop: (() => Promise<void>) | null = null;
    try {
      const file = join(dir, "bot.yml");
      writeFileSync(file, stringify({ ...d.raw, state: { schema }, access: operatorsConfig() }));
      const started = await main(["--config", file], {
        env: slackEnv(h.fake),
        stderr: (t) => lines.push(t),
        logger: createLogger({ write: (line) => lines.push(line) }),
      });
      if (!("stop" in started)) throw new Error(`serve did not start: ${lines.join("")}`);
      stop = started.stop;
      const listening = lines.map((l) => /listening on http:\/\/[^:]+:(\d+)\//.exec(l)).find(Boolean);
      const base = `http://127.0.0.1:${listening?.[1]}`;
      const ask = async (text: string) => {
        const { id, url } = h.fake.responseUrl();
        const ack = await send(
          `${base}/slack/events`,
          slashCommandRequest({ text, responseUrl: url, channelId: CHANNEL, userId: ALICE }),
        );
        expect(ack.status).toBe(200);
        await h.fake.until(
          () => h.fake.postsTo(id).some((p) => !/Still working/.test(textOf(p.body))),
          30_000,
          () => `no final answer to /scrypath ${text}`,
        );
        return textOf(h.fake.postsTo(id).at(-1)?.body ?? {});
      };
      const refused = await ask(`retry posts ${failed}`);
      expect(refused).toContain("migrations_pending");
      expect(refused).toContain("scrypath-bot migrate");
      expect(await ask("status posts")).not.toMatch(/migrat/i);
      expect(await stateObjects(schema)).toEqual([]);
    } finally {
      await stop?.();
      await d.oban.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

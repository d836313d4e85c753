// `npm run bench:intake` (issue 11): the bot's HTTP intake under unsigned traffic and a burst of
// signed slash commands. The bot runs in its own process (bench/intakeBot.ts) so its RSS is its
// own; the unsigned traffic comes from another (bench/intakeAttack.ts) and the signed commands
// from a third (bench/slackLoad.ts), all on loopback. Prints ONE JSON document on stdout.
//
//   1. baseline: signed acks (rounds of 10 `help` commands, 200 ms apart) with no attack;
//   2. bodies: 300 concurrent unsigned ~3.9 MB bodies kept in flight for 15 s, signed acks meanwhile;
//   3. drip: 3,000 connections sending a request one header line a second, counted while still
//      open 10, 25 and 45 s later, signed acks meanwhile;
//   4. burst: 200 concurrent signed `/scrypath status|failed posts`, 5 rounds after 1 warm-up,
//      each round's answers awaited at response_url (the ack p99 and every command answered).
//
// Environment: DATABASE_URL / MEILISEARCH_URL (+ MEILISEARCH_API_KEY) as for the tests, else
// embedded servers start. BENCH_INTAKE_ROWS (default 100000) oban_jobs rows behind the burst.
// BENCH_INTAKE_ONLY=baseline,bodies,drip,burst runs a subset.
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setPriority } from "node:os";
import { Meilisearch } from "meilisearch";
import pg from "pg";
import { FakeSlack } from "../devkit/fakeSlack/index.ts";
import { createObanSchema } from "../devkit/oban/schema.ts";
import { type Services, startServices } from "../devkit/services/services.ts";
import { ensureState } from "../src/state/migrations.ts";
import { BENCH_SCHEMA, benchConfigObject } from "./dataset.ts";
import type { Attack, AttackResult } from "./intakeAttack.ts";
import type { BotMessage } from "./intakeBot.ts";
import { percentile, summarize } from "./measure.ts";
import { liveIndexOf, seedPostgres } from "./seed.ts";
import { benchSlackEnv, loadGenerator } from "./slack.ts";

const ROWS = Number(process.env.BENCH_INTAKE_ROWS ?? 100_000);
const ONLY = new Set((process.env.BENCH_INTAKE_ONLY ?? "baseline,bodies,drip,burst").split(","));
/** A fixed command text for the burst instead of status/failed (e.g. `help`, to isolate the ack). */
const BURST_TEXT = process.env.BENCH_INTAKE_BURST_TEXT;
const CHANNEL = "C0BENCH001";
const log = (line: string) => process.stderr.write(`[bench:intake] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A forked child answering each message with one message. */
function child<In, Out>(file: string) {
  const proc = fork(new URL(file, import.meta.url), { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  let exited: Error | null = null;
  proc.once("exit", (code) => {
    exited = new Error(`${file} exited with ${code}`);
  });
  return {
    proc,
    ask(message: In): Promise<Out> {
      if (exited) return Promise.reject(exited);
      return new Promise((resolve, reject) => {
        const onExit = () => reject(exited);
        proc.once("exit", onExit);
        proc.once("message", (m: Out | { error: string }) => {
          proc.off("exit", onExit);
          if (m && typeof m === "object" && "error" in m) reject(new Error(`${file}: ${m.error}`));
          else resolve(m as Out);
        });
        proc.send(message as object);
      });
    },
  };
}

interface BotFigures {
  peakMb: number;
  nowMb: number;
  cpuShare: number;
}

const runId = randomBytes(4).toString("hex");
const prefix = `bench_intake_${runId}`;
const stateSchema = `${prefix}_state`;
const indexPrefix = `benchintake${runId}`;

let services: Services | undefined;
let admin: pg.Pool | undefined;

async function main() {
  services = await startServices({ env: process.env });
  const { databaseUrl, meilisearchUrl, meilisearchApiKey } = services;
  admin = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  admin.on("error", () => {});
  const meili = new Meilisearch({ host: meilisearchUrl, apiKey: meilisearchApiKey ?? undefined });
  await createObanSchema(admin, prefix);
  if (ONLY.has("burst")) {
    log(`seeding ${ROWS} oban_jobs rows into ${prefix}`);
    await seedPostgres(admin, prefix, indexPrefix, ROWS);
  }
  await meili
    .createIndex(liveIndexOf(indexPrefix, BENCH_SCHEMA.indexSuffix), { primaryKey: "id" })
    .waitTask();
  await ensureState(admin, stateSchema);
  const rawConfig = benchConfigObject({
    meilisearchUrl,
    meilisearchApiKey,
    databaseUrl,
    obanPrefix: prefix,
    indexPrefix,
    stateSchema,
  });

  const fake = await FakeSlack.start();
  const attacker = child<Attack, AttackResult>("./intakeAttack.ts");
  // The attacker's CPU is not the bot's in life (it is another machine): on this shared 2-core
  // box it runs at the lowest priority, so the figures show the bot, not the attacker's load.
  if (attacker.proc.pid) setPriority(attacker.proc.pid, 19);
  const loader = loadGenerator();
  const results: Record<string, unknown> = {};
  type Bot = ReturnType<typeof child<BotMessage, { port: number } & BotFigures>>;
  let bot: Bot | undefined;
  try {
    let events = "";
    const rss = () => (bot as Bot).ask({ type: "rss" });
    /** A fresh bot process per scenario, so that each RSS figure is that scenario's alone. */
    const freshBot = async (): Promise<BotFigures> => {
      await bot?.ask({ type: "stop" }).catch(() => {});
      bot = child<BotMessage, { port: number } & BotFigures>("./intakeBot.ts");
      const { port } = await bot.ask({
        type: "start",
        config: rawConfig,
        env: benchSlackEnv(fake.apiUrl),
      });
      events = `http://127.0.0.1:${port}/slack/events`;
      // Warm up (JIT, pool, first answers), then the idle memory.
      await signedAcks(2_000);
      await bot.ask({ type: "reset" });
      return rss();
    };

    /** Rounds of `concurrency` signed commands, `spacingMs` apart, for `durationMs`. */
    const signedAcks = async (durationMs: number, concurrency = 10, spacingMs = 200) => {
      const latencies: number[] = [];
      const ids: string[] = [];
      let failures = 0;
      const deadline = performance.now() + durationMs;
      while (performance.now() < deadline) {
        const urls = Array.from({ length: concurrency }, () => fake.responseUrl());
        ids.push(...urls.map((u) => u.id));
        try {
          latencies.push(
            ...(await loader.run({
              events,
              channelId: CHANNEL,
              commands: urls.map(({ url }) => ({ text: "help", responseUrl: url })),
            })),
          );
        } catch {
          failures += concurrency;
        }
        await sleep(spacingMs);
      }
      await sleep(2_000);
      const answered = ids.filter((id) => fake.postsTo(id).length > 0).length;
      return {
        requests: ids.length,
        failedRounds: failures / concurrency,
        answered,
        ...summarize(latencies),
        p99Ms: percentile(latencies, 0.99),
        samplesMs: undefined,
      };
    };

    /** 200 concurrent signed commands, 1 warm-up + 5 rounds; with `answers`, each round's awaited. */
    const burst = async (url: string, answers: boolean) => {
      const acks: number[] = [];
      const lastAnswerMs: number[] = [];
      const perRound: unknown[] = [];
      let sent = 0;
      let answered = 0;
      for (let round = 0; round < 6; round++) {
        const urls = Array.from({ length: 200 }, () => fake.responseUrl());
        const started = performance.now();
        const latencies = await loader.run({
          events: url,
          channelId: CHANNEL,
          commands: urls.map(({ url: responseUrl }, i) => ({
            text: BURST_TEXT ?? (i % 2 ? `status ${BENCH_SCHEMA.alias}` : `failed ${BENCH_SCHEMA.alias}`),
            responseUrl,
          })),
        });
        // The final answer: a "still working" note first is not the answer.
        const final = (id: string) =>
          fake.postsTo(id).some((p) => !String(p.body.text ?? "").startsWith("Still working"));
        const deadline = performance.now() + 60_000;
        while (answers && urls.some((u) => !final(u.id)) && performance.now() < deadline) await sleep(20);
        const done = urls.filter((u) => final(u.id)).length;
        const inBot = answers ? await rss() : null;
        if (round > 0) {
          acks.push(...latencies);
          if (answers) lastAnswerMs.push(performance.now() - started);
          sent += urls.length;
          answered += done;
          perRound.push({ ackP99Ms: percentile(latencies, 0.99), answered: done, bot: inBot });
        }
        log(
          `round ${round}: ack p99 ${percentile(latencies, 0.99)} ms, ${done}/200 answered ${JSON.stringify(inBot)}`,
        );
        if (answers) await bot?.ask({ type: "reset" });
        await sleep(1_000);
      }
      return {
        concurrency: 200,
        rounds: 5,
        sent,
        ...(answers ? { answered, allAnsweredWithinMs: summarize(lastAnswerMs) } : {}),
        acks: { ...summarize(acks), p99Ms: percentile(acks, 0.99), samplesMs: undefined },
        perRound,
      };
    };

    if (ONLY.has("baseline")) {
      log("baseline: signed acks, no attack");
      const idle = await freshBot();
      const acks = await signedAcks(5_000);
      results.baseline = { idle, acks, rss: await rss() };
    }

    if (ONLY.has("bodies")) {
      log("bodies: 300 concurrent unsigned 3.9 MB bodies for 15 s");
      const idle = await freshBot();
      const attack = attacker.ask({
        kind: "bodies",
        url: events,
        concurrency: 300,
        bytes: 3_900_000,
        durationMs: 15_000,
      });
      await sleep(1_000);
      const acks = await signedAcks(12_000);
      const attackResult = await attack;
      results.bodies = { idle, attack: attackResult, acks, rss: await rss() };
      await sleep(2_000);
    }

    if (ONLY.has("drip")) {
      log("drip: 3000 slow-drip connections, counted at 10, 25 and 45 s");
      const idle = await freshBot();
      const attack = attacker.ask({
        kind: "drip",
        url: events,
        connections: 3_000,
        everyMs: 1_000,
        checkpointsMs: [10_000, 25_000, 45_000],
      });
      await sleep(2_000);
      const acks = await signedAcks(15_000);
      const attackResult = await attack;
      results.drip = { idle, attack: attackResult, acks, rss: await rss() };
      await sleep(2_000);
    }

    if (ONLY.has("burst")) {
      log("burst: 200 concurrent signed status/failed commands, 1 warm-up + 5 rounds");
      const idle = await freshBot();
      results.burst = { idle, ...(await burst(events, true)) };
      // The same 200-burst against a bare node:http server in the bot's place (answers 200 after
      // reading the body): what this machine and generator cost before any bot code runs.
      log("burst floor: the same load against a bare node:http server");
      const floor = child<BotMessage, { port: number }>("./intakeBot.ts");
      try {
        const { port: floorPort } = await floor.ask({ type: "floor" });
        results.burstFloor = await burst(`http://127.0.0.1:${floorPort}/slack/events`, false);
      } finally {
        await floor.ask({ type: "stop" }).catch(() => {});
      }
    }
  } finally {
    loader.close();
    attacker.proc.kill();
    await bot?.ask({ type: "stop" }).catch(() => {});
    await fake.close();
  }
  process.stdout.write(
    `${JSON.stringify({ benchmark: "scrypath-bot intake (issue 11)", date: new Date().toISOString(), rows: ROWS, results }, null, 2)}\n`,
  );
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  exitCode = 1;
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  if (admin) {
    await admin.query(`DROP SCHEMA IF EXISTS "${prefix}" CASCADE`).catch(() => {});
    await admin.query(`DROP SCHEMA IF EXISTS "${stateSchema}" CASCADE`).catch(() => {});
    await admin.end().catch(() => {});
  }
  if (services) {
    const meili = new Meilisearch({
      host: services.meilisearchUrl,
      apiKey: services.meilisearchApiKey ?? undefined,
    });
    await meili
      .deleteIndex(liveIndexOf(indexPrefix, BENCH_SCHEMA.indexSuffix))
      .waitTask()
      .catch(() => {});
    await services.stop().catch(() => {});
  }
}
process.exit(exitCode);

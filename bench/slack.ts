// Slash-command figures (issue 4): the HTTP ack latency of the real Bolt app at 20 concurrent
// signed requests (p50, p99), and the time from sending `/scrypath status <schema>` or
// `/scrypath failed <schema>` to the final answer arriving at response_url, on the bench
// dataset. Slack is the local fake Web API server the tests use; nothing leaves loopback.
import { fork } from "node:child_process";
import type { Config } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import { openOperator } from "../src/operator/index.ts";
import { createSlackApp } from "../src/slack/app.ts";
import { FakeSlack } from "../test/slack/fakeSlack.ts";
import { SIGNING_SECRET, send, slashCommandRequest } from "../test/slack/signing.ts";
import { summarize, type Timing } from "./measure.ts";
import type { LoadJob } from "./slackLoad.ts";

export interface SlackBenchFigures {
  ack: Timing & { p99Ms: number; concurrency: number; requests: number };
  finalAnswer: Record<"status" | "failed", Timing>;
}

const CHANNEL = "C0BENCH001";
const WARMUP_ROUNDS = 2;

/** Nearest-rank percentile, in ms (one decimal). */
function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const value = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
  return Math.round(value * 10) / 10;
}

function inChild(job: LoadJob): Promise<number[]> {
  return new Promise((resolve, reject) => {
    // fork() reuses this process's execArgv, so the child runs under tsx too.
    const child = fork(new URL("./slackLoad.ts", import.meta.url), {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    child.once("message", (m: { latencies: number[] } | { error: string }) => {
      child.kill();
      if ("error" in m) reject(new Error(`load generator failed: ${m.error}`));
      else resolve(m.latencies);
    });
    child.once("exit", (code) => reject(new Error(`load generator exited with ${code}`)));
    child.send(job);
  });
}

export async function benchSlack(
  config: Config,
  schema: string,
  options: { rounds?: number; concurrency?: number; answers?: number } = {},
): Promise<SlackBenchFigures> {
  const rounds = options.rounds ?? 10;
  const concurrency = options.concurrency ?? 20;
  const fake = await FakeSlack.start();
  const operator = openOperator(config);
  const bot = createSlackApp({
    config,
    operator,
    env: {
      SLACK_BOT_TOKEN: "xoxb-bench-token",
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: fake.apiUrl,
      SLACK_BOT_ID: "B0BENCH",
      SLACK_BOT_USER_ID: "U0BENCH",
      PORT: "0",
      HOST: "127.0.0.1",
    },
    logger: createLogger({ level: "error", write: () => {} }),
    digestSchedules: false,
  });
  try {
    const { port } = await bot.start();
    const events = `http://127.0.0.1:${port}/slack/events`;
    const command = async (text: string) => {
      const { id, url } = fake.responseUrl();
      const started = performance.now();
      const answer = await send(events, slashCommandRequest({ text, responseUrl: url, channelId: CHANNEL }));
      const ackMs = performance.now() - started;
      if (answer.status !== 200) throw new Error(`ack answered HTTP ${answer.status}`);
      return { id, started, ackMs };
    };

    // Ack latency: rounds of `concurrency` signed status/failed commands sent together from a
    // separate process; the ack must not wait for the backend work (Slack's 3-second wall).
    const round = (n: number) =>
      Array.from({ length: concurrency }, (_, i) => ({
        text: i % 2 ? `status ${schema}` : `failed ${schema}`,
        responseUrl: fake.responseUrl(`r${n}-${i}`).url,
      }));
    const acks = await inChild({
      events,
      channelId: CHANNEL,
      rounds: Array.from({ length: rounds + WARMUP_ROUNDS }, (_, n) => round(n)),
    });
    acks.splice(0, WARMUP_ROUNDS * concurrency);
    // Every one of them got its answer before the next measurement starts.
    await Promise.all(
      Array.from({ length: (rounds + WARMUP_ROUNDS) * concurrency }, (_, k) =>
        fake.waitForPosts(`r${Math.floor(k / concurrency)}-${k % concurrency}`, 1, 60_000),
      ),
    );

    // Time to the final answer, one command at a time.
    const finalAnswer = {} as SlackBenchFigures["finalAnswer"];
    for (const verb of ["status", "failed"] as const) {
      const samples: number[] = [];
      for (let i = 0; i < (options.answers ?? 15); i++) {
        const { id, started } = await command(`${verb} ${schema}`);
        // The fake notifies waiters as each post arrives, so this resolves on the answer itself;
        // a "still working" note, if one came first, is not the answer.
        const [first] = await fake.waitForPosts(id, 1, 60_000);
        if (String(first?.body.text ?? "").startsWith("Still working"))
          await fake.waitForPosts(id, 2, 60_000);
        samples.push(performance.now() - started);
      }
      finalAnswer[verb] = summarize(samples);
    }
    return {
      ack: { ...summarize(acks), p99Ms: percentile(acks, 0.99), concurrency, requests: acks.length },
      finalAnswer,
    };
  } finally {
    await bot.stop();
    await operator.close();
    await fake.close();
  }
}

// Slash-command figures (issue 4): the HTTP ack latency of the real Bolt app at 20 concurrent
// signed requests (p50, p99), and the time from sending `/scrypath status <schema>` or
// `/scrypath failed <schema>` to the final answer arriving at response_url, on the bench
// dataset. Slack is the local fake Web API server the tests use; nothing leaves loopback.
import { fork } from "node:child_process";
import { FakeSlack } from "../devkit/fakeSlack/index.ts";
import { SIGNING_SECRET, send, slashCommandRequest } from "../devkit/slackRequests.ts";
import type { Config } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import { openOperator } from "../src/operator/index.ts";
import { createSlackApp } from "../src/slack/app.ts";
import { percentile, summarize, type Timing } from "./measure.ts";
import type { LoadRound } from "./slackLoad.ts";

type AckFigures = Timing & { p99Ms: number; concurrency: number; requests: number };

/** The environment of a bench bot: HTTP mode on a free loopback port, Slack's API faked at `apiUrl`. */
export function benchSlackEnv(apiUrl: string): NodeJS.ProcessEnv {
  return {
    SLACK_BOT_TOKEN: "xoxb-bench-token",
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: apiUrl,
    SLACK_BOT_ID: "B0BENCH",
    SLACK_BOT_USER_ID: "U0BENCH",
    PORT: "0",
    ADMIN_PORT: "0",
    HOST: "127.0.0.1",
  };
}

export interface SlackBenchFigures {
  /** Each burst sent once the previous burst's answers are in: 20 commands in flight. */
  ack: AckFigures;
  /** Bursts 300 ms apart, so the previous bursts' work is still running (a stress figure). */
  ackUnderLoad: AckFigures;
  finalAnswer: Record<"status" | "failed", Timing>;
}

const CHANNEL = "C0BENCH001";
const WARMUP_ROUNDS = 2;

/** The load generator process: `run` fires one round and resolves with its ack latencies. */
export function loadGenerator() {
  // fork() reuses this process's execArgv, so the child runs under tsx too.
  const child = fork(new URL("./slackLoad.ts", import.meta.url), {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  let exited: Error | null = null;
  child.once("exit", (code) => {
    exited = new Error(`load generator exited with ${code}`);
  });
  return {
    run(round: LoadRound): Promise<number[]> {
      if (exited) return Promise.reject(exited);
      return new Promise((resolve, reject) => {
        const onExit = () => reject(exited);
        child.once("exit", onExit);
        child.once("message", (m: { latencies: number[] } | { error: string }) => {
          child.off("exit", onExit);
          if ("error" in m) reject(new Error(`load generator failed: ${m.error}`));
          else resolve(m.latencies);
        });
        child.send(round);
      });
    },
    close: () => child.kill(),
  };
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
    env: benchSlackEnv(fake.apiUrl),
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

    // The answer itself: a "still working" note, if one came first, is not the answer.
    const answered = async (id: string) => {
      const [first] = await fake.waitForPosts(id, 1, 60_000);
      if (String(first?.body.text ?? "").startsWith("Still working")) await fake.waitForPosts(id, 2, 60_000);
    };

    // Ack latency: rounds of `concurrency` signed status/failed commands sent together from a
    // separate process; the ack must not wait for the backend work (Slack's 3-second wall).
    const loader = loadGenerator();
    let roundNo = 0;
    const ackRounds = async (spacing: "answers" | "300ms"): Promise<AckFigures> => {
      const acks: number[] = [];
      const keys: string[] = [];
      for (let n = 0; n < rounds + WARMUP_ROUNDS; n++) {
        const urls = Array.from({ length: concurrency }, (_, i) => fake.responseUrl(`r${roundNo}-${i}`));
        roundNo++;
        keys.push(...urls.map((u) => u.id));
        const commands = urls.map(({ url }, i) => ({
          text: i % 2 ? `status ${schema}` : `failed ${schema}`,
          responseUrl: url,
        }));
        const latencies = await loader.run({ events, channelId: CHANNEL, commands });
        if (n >= WARMUP_ROUNDS) acks.push(...latencies);
        // "answers": the next burst comes once this one is answered (on-call bursts are spaced
        // in life); "300ms": the next burst lands on this one's work still running.
        if (spacing === "answers") await Promise.all(urls.map((u) => answered(u.id)));
        else await new Promise((resolve) => setTimeout(resolve, 300));
      }
      // Every command got its answer before the next measurement starts.
      await Promise.all(keys.map(answered));
      return { ...summarize(acks), p99Ms: percentile(acks, 0.99), concurrency, requests: acks.length };
    };
    let ack: AckFigures;
    let ackUnderLoad: AckFigures;
    try {
      ack = await ackRounds("answers");
      ackUnderLoad = await ackRounds("300ms");
    } finally {
      loader.close();
    }

    // Time to the final answer, one command at a time.
    const finalAnswer = {} as SlackBenchFigures["finalAnswer"];
    for (const verb of ["status", "failed"] as const) {
      const samples: number[] = [];
      for (let i = 0; i < (options.answers ?? 15); i++) {
        const { id, started } = await command(`${verb} ${schema}`);
        // The fake notifies waiters as each post arrives, so this resolves on the answer itself.
        await answered(id);
        samples.push(performance.now() - started);
      }
      finalAnswer[verb] = summarize(samples);
    }
    return { ack, ackUnderLoad, finalAnswer };
  } finally {
    await bot.stop();
    await operator.close();
    await fake.close();
  }
}

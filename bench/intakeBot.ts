// The bot under the intake benchmark, in its own process so that its RSS is its own: it opens the
// operator on the config it is sent, starts the real Slack app (HTTP receiver) and answers
// requests for its memory (peak since the last reset, sampled every 20 ms).
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { Session } from "node:inspector/promises";
import type { AddressInfo } from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseConfig } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import { openOperator } from "../src/operator/index.ts";
import { createSlackApp } from "../src/slack/app.ts";

export type BotMessage =
  | { type: "start"; config: Record<string, unknown>; env: NodeJS.ProcessEnv }
  | { type: "rss" }
  | { type: "reset" }
  | { type: "stop" }
  /** The floor: a bare node:http server that reads the body and answers 200, nothing else. */
  | { type: "floor" };

const MB = 1024 * 1024;
const mb = (bytes: number) => Math.round((bytes / MB) * 10) / 10;
let peak = 0;
let cpuSince = process.cpuUsage();
let resetAt = performance.now();
const sample = () => {
  peak = Math.max(peak, process.memoryUsage.rss());
};
setInterval(sample, 20).unref();

let stop: (() => Promise<void>) | undefined;

// BENCH_INTAKE_PROFILE=<file.cpuprofile>: a CPU profile of the bot from start to stop.
let profiled: (() => Promise<void>) | undefined;
const profileFile = process.env.BENCH_INTAKE_PROFILE;
if (profileFile) {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  profiled = async () => {
    const { profile } = await session.post("Profiler.stop");
    await writeFile(profileFile, JSON.stringify(profile));
  };
}
/** Server-side time of each /slack/events request (arrival of its headers → response written). */
let served: number[] = [];
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const nearest = (samples: number[], q: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return Math.round((sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0) * 10) / 10;
};

process.on("message", (m: BotMessage) => {
  void (async () => {
    if (m.type === "start") {
      const config = parseConfig(m.config, {});
      const operator = openOperator(config);
      const bot = createSlackApp({
        config,
        operator,
        env: m.env,
        logger: createLogger({ level: "error", write: () => {} }),
        digestSchedules: false,
      });
      const { port } = await bot.start();
      // Both the HTTPReceiver and the intake receiver keep their server in `server`.
      const server = (bot.app as unknown as { receiver: { server?: Server } }).receiver.server;
      server?.prependListener("request", (req, res) => {
        const at = performance.now();
        if (req.url?.startsWith("/slack/events"))
          res.once("finish", () => served.push(performance.now() - at));
      });
      stop = async () => {
        await bot.stop();
        await operator.close();
      };
      process.send?.({ port });
    } else if (m.type === "floor") {
      const server = createServer((req, res) => {
        req.resume();
        req.once("end", () => {
          res.writeHead(200);
          res.end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      stop = () => new Promise((resolve) => server.close(() => resolve()));
      process.send?.({ port: (server.address() as AddressInfo).port });
    } else if (m.type === "rss") {
      sample();
      const cpu = process.cpuUsage(cpuSince);
      process.send?.({
        peakMb: mb(peak),
        nowMb: mb(process.memoryUsage.rss()),
        // CPU time the bot spent since the reset, as a share of one core over that time.
        cpuShare: Math.round(((cpu.user + cpu.system) / 1000 / (performance.now() - resetAt)) * 100) / 100,
        served: { requests: served.length, p50Ms: nearest(served, 0.5), p99Ms: nearest(served, 0.99) },
        eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e5) / 10,
      });
    } else if (m.type === "reset") {
      peak = process.memoryUsage.rss();
      cpuSince = process.cpuUsage();
      resetAt = performance.now();
      served = [];
      loopDelay.reset();
      process.send?.({ ok: true });
    } else if (m.type === "stop") {
      await stop?.();
      await profiled?.();
      process.exit(0);
    }
  })().catch((error: unknown) => {
    process.send?.({ error: error instanceof Error ? error.message : String(error) });
  });
});

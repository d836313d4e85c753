// The load generator for the ack benchmark, run in its own process (as Slack is not the bot's
// process): sends rounds of signed slash commands concurrently and reports each ack latency.
import { send, slashCommandRequest } from "../test/slack/signing.ts";

export interface LoadJob {
  events: string;
  /** One round = these commands sent together; each has its own response_url. */
  rounds: { text: string; responseUrl: string }[][];
  channelId: string;
}

export async function runLoad(job: LoadJob): Promise<number[]> {
  const latencies: number[] = [];
  for (const round of job.rounds) {
    const times = await Promise.all(
      round.map(async ({ text, responseUrl }) => {
        const request = slashCommandRequest({ text, responseUrl, channelId: job.channelId });
        const started = performance.now();
        const answer = await send(job.events, request);
        if (answer.status !== 200) throw new Error(`ack answered HTTP ${answer.status}`);
        return performance.now() - started;
      }),
    );
    latencies.push(...times);
    // Let the bot finish this round's answers before the next one (as rounds are spaced in life).
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return latencies;
}

if (process.send) {
  process.once("message", (job: LoadJob) => {
    runLoad(job).then(
      (latencies) => process.send?.({ latencies }),
      (error: unknown) => process.send?.({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
}

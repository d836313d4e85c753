// The load generator for the ack benchmark, run in its own process (as Slack is not the bot's
// process): for each round it is sent, it fires the round's signed slash commands at once and
// reports each ack latency.
import { send, slashCommandRequest } from "../test/slack/signing.ts";

export interface LoadRound {
  events: string;
  channelId: string;
  /** Sent together; each has its own response_url. */
  commands: { text: string; responseUrl: string }[];
}

export async function runRound(round: LoadRound): Promise<number[]> {
  return Promise.all(
    round.commands.map(async ({ text, responseUrl }) => {
      const request = slashCommandRequest({ text, responseUrl, channelId: round.channelId });
      const started = performance.now();
      const answer = await send(round.events, request);
      if (answer.status !== 200) throw new Error(`ack answered HTTP ${answer.status}`);
      return performance.now() - started;
    }),
  );
}

if (process.send) {
  process.on("message", (round: LoadRound) => {
    runRound(round).then(
      (latencies) => process.send?.({ latencies }),
      (error: unknown) => process.send?.({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
}

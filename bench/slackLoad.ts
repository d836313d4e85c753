// The load generator for the ack benchmarks, run in its own process (as Slack is not the bot's
// process): for each round it is sent, it fires the round's signed slash commands at once and
// reports each ack latency. `node:http` with a fresh connection per request (as Slack connects):
// lighter than fetch, so that with 200 in flight the generator's own overhead stays small.
import { request } from "node:http";
import { type SignedRequest, slashCommandRequest } from "../devkit/slackRequests.ts";

export interface LoadRound {
  events: string;
  channelId: string;
  /** Sent together; each has its own response_url. */
  commands: { text: string; responseUrl: string }[];
}

/** POSTs `signed` to `url`; resolves with the ms until the answer's status line and headers. */
export function timedPost(url: string, signed: SignedRequest): Promise<{ status: number; ms: number }> {
  const target = new URL(url);
  const body = Buffer.from(signed.body);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        agent: false,
        headers: { ...signed.headers, "Content-Length": String(body.length) },
      },
      (res) => {
        const ms = performance.now() - started;
        res.resume();
        res.once("end", () => resolve({ status: res.statusCode ?? 0, ms }));
      },
    );
    req.once("error", reject);
    req.end(body);
  });
}

export async function runRound(round: LoadRound): Promise<number[]> {
  // Signed before the clock starts: the generator's signing is not the bot's latency.
  const requests = round.commands.map(({ text, responseUrl }) =>
    slashCommandRequest({ text, responseUrl, channelId: round.channelId }),
  );
  return Promise.all(
    requests.map(async (signed) => {
      const answer = await timedPost(round.events, signed);
      if (answer.status !== 200) throw new Error(`ack answered HTTP ${answer.status}`);
      return answer.ms;
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

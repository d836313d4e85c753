// The unsigned traffic of the intake benchmark, in its own process: (1) `bodies`: `concurrency`
// unsigned POSTs of `bytes` each kept in flight for `durationMs` (each ended one is replaced);
// (2) `drip`: `connections` connections that send a request one byte every `everyMs`, counted
// while still open at each of `checkpointsMs`, then closed. Only loopback; bounded in time.
import { request } from "node:http";
import { connect, type Socket } from "node:net";

export type Attack =
  | { kind: "bodies"; url: string; concurrency: number; bytes: number; durationMs: number }
  | { kind: "drip"; url: string; connections: number; everyMs: number; checkpointsMs: number[] };

export interface AttackResult {
  kind: Attack["kind"];
  /** bodies: requests ended, by HTTP status ("error" when the connection broke first). */
  statuses?: Record<string, number>;
  /** drip: connections opened, and still open at each checkpoint (ms after the last opened). */
  opened?: number;
  openAt?: Record<string, number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function bodies(a: Extract<Attack, { kind: "bodies" }>): Promise<AttackResult> {
  const url = new URL(a.url);
  const payload = Buffer.alloc(a.bytes, "a");
  const statuses: Record<string, number> = {};
  const count = (key: string) => {
    statuses[key] = (statuses[key] ?? 0) + 1;
  };
  const deadline = performance.now() + a.durationMs;
  const one = () =>
    new Promise<void>((resolve) => {
      let done = false;
      const end = (key: string) => {
        if (done) return;
        done = true;
        count(key);
        resolve();
      };
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          agent: false,
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": String(a.bytes),
            "X-Slack-Request-Timestamp": String(Math.floor(Date.now() / 1000)),
            "X-Slack-Signature": "v0=0000000000000000000000000000000000000000000000000000000000000000",
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => end(String(res.statusCode)));
          res.on("error", () => end(String(res.statusCode)));
        },
      );
      req.on("error", () => end("error"));
      req.end(payload);
    });
  await Promise.all(
    Array.from({ length: a.concurrency }, async () => {
      while (performance.now() < deadline) await one();
    }),
  );
  return { kind: "bodies", statuses };
}

async function drip(a: Extract<Attack, { kind: "drip" }>): Promise<AttackResult> {
  const url = new URL(a.url);
  const sockets: Socket[] = [];
  let open = 0;
  for (let i = 0; i < a.connections; i++) {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    let connected = false;
    socket.on("error", () => {});
    socket.once("connect", () => {
      connected = true;
      open++;
      socket.write(
        `POST ${url.pathname} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n`,
      );
    });
    socket.once("close", () => {
      if (connected) open--;
    });
    sockets.push(socket);
    if (i % 100 === 99) await sleep(5);
  }
  const timer = setInterval(() => {
    for (const s of sockets) if (!s.destroyed && s.writable) s.write("X-Drip: a\r\n");
  }, a.everyMs);
  const started = performance.now();
  const openAt: Record<string, number> = {};
  for (const at of a.checkpointsMs) {
    await sleep(Math.max(0, at - (performance.now() - started)));
    openAt[`${at / 1000}s`] = open;
  }
  clearInterval(timer);
  for (const s of sockets) s.destroy();
  return { kind: "drip", opened: sockets.length, openAt };
}

if (process.send) {
  process.on("message", (a: Attack) => {
    (a.kind === "bodies" ? bodies(a) : drip(a)).then(
      (result) => process.send?.(result),
      (error: unknown) => process.send?.({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
}

// A small TCP proxy on loopback that a fault test puts between the bot and a real server, and
// controls: pass traffic, black-hole it (nothing moves either way, connections stay open, as a
// dead network path does), drop the server's answers (the request arrives, its answer never
// does), delay the answers, or cut every connection. A watcher sees each chunk a client sends
// before it moves on, so a test can switch the fault at the exact moment a given request passes.
import { createConnection, createServer, type Server, type Socket } from "node:net";

export type ProxyMode =
  /** Bytes flow both ways. */
  | "pass"
  /** Nothing flows either way; sockets stay open; new connections hang before reaching the server. */
  | "blackhole"
  /** The client's bytes reach the server; the server's answers are thrown away. */
  | "dropAnswers";

/** One client connection through the proxy, as a watcher sees it. */
export interface ProxiedConnection {
  /** 1, 2, … in the order the proxy accepted them. */
  readonly id: number;
  /** Resolves once the connection is gone (either side closed it, or a reset). */
  readonly closed: Promise<void>;
}

/**
 * Called with each chunk a client sends, before the proxy passes it on (or holds it): a mode
 * switched here applies to this very chunk.
 */
export type ChunkWatcher = (chunk: Buffer, connection: ProxiedConnection) => void;

export interface TcpProxy {
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string;
  readonly mode: ProxyMode;
  /**
   * Switch mode. Leaving "blackhole" delivers what was held back (as TCP retransmission does when a
   * path heals), to sockets that are still open.
   */
  setMode(mode: ProxyMode): void;
  /** Hold every answer from the server back for `ms` before passing it on (0: none). */
  setAnswerDelay(ms: number): void;
  /** Connections open through the proxy right now. */
  readonly connections: number;
  /** Connections accepted since the proxy started. */
  readonly accepted: number;
  /** Watch what clients send; returns the function that stops watching. */
  watch(watcher: ChunkWatcher): () => void;
  /** Destroy every open connection (both sides), as a reset would. */
  resetAll(): void;
  close(): Promise<void>;
}

interface Pair {
  connection: ProxiedConnection;
  closed: () => void;
  client: Socket;
  server: Socket | null;
  /** Chunks held back while black-holed: toServer then toClient order is kept per direction. */
  heldToServer: Buffer[];
  heldToClient: Buffer[];
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = "pass";
  let answerDelayMs = 0;
  let accepted = 0;
  const pairs = new Set<Pair>();
  const watchers = new Set<ChunkWatcher>();

  const toClient = (pair: Pair, chunk: Buffer) => {
    if (mode === "dropAnswers") return;
    if (mode === "blackhole") {
      pair.heldToClient.push(chunk);
      return;
    }
    const deliver = () => {
      if (!pair.client.destroyed) pair.client.write(chunk);
    };
    if (answerDelayMs > 0) setTimeout(deliver, answerDelayMs).unref();
    else deliver();
  };

  const toServer = (pair: Pair, chunk: Buffer) => {
    for (const watcher of [...watchers]) watcher(chunk, pair.connection);
    if (mode === "blackhole" || !pair.server) {
      pair.heldToServer.push(chunk);
      return;
    }
    if (!pair.server.destroyed) pair.server.write(chunk);
  };

  const destroy = (pair: Pair) => {
    pair.client.destroy();
    pair.server?.destroy();
    pairs.delete(pair);
    pair.closed();
  };

  const connectUpstream = (pair: Pair) => {
    const server = createConnection({ host: target.host, port: target.port });
    pair.server = server;
    server.setNoDelay(true);
    server.on("data", (chunk: Buffer) => toClient(pair, chunk));
    server.on("error", () => destroy(pair));
    server.on("close", () => destroy(pair));
    flush(pair);
  };

  const flush = (pair: Pair) => {
    if (pair.server && !pair.server.destroyed) {
      for (const chunk of pair.heldToServer.splice(0)) pair.server.write(chunk);
    }
    const back = pair.heldToClient.splice(0);
    for (const chunk of back) toClient(pair, chunk);
  };

  const server: Server = createServer((client) => {
    accepted++;
    client.setNoDelay(true);
    let closed = () => {};
    const connection = {
      id: accepted,
      closed: new Promise<void>((resolve) => {
        closed = resolve;
      }),
    };
    const pair: Pair = { connection, closed, client, server: null, heldToServer: [], heldToClient: [] };
    pairs.add(pair);
    client.on("data", (chunk: Buffer) => toServer(pair, chunk));
    client.on("error", () => destroy(pair));
    client.on("close", () => destroy(pair));
    if (mode !== "blackhole") connectUpstream(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  return {
    port,
    rewrite(url: string) {
      const u = new URL(url);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    get mode() {
      return mode;
    },
    setMode(next: ProxyMode) {
      const was = mode;
      mode = next;
      if (was === "blackhole" && next !== "blackhole") {
        for (const pair of pairs) {
          if (!pair.server) connectUpstream(pair);
          else flush(pair);
        }
      }
    },
    setAnswerDelay(ms: number) {
      answerDelayMs = ms;
    },
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    watch(watcher: ChunkWatcher) {
      watchers.add(watcher);
      return () => {
        watchers.delete(watcher);
      };
    },
    resetAll() {
      for (const pair of [...pairs]) {
        pair.client.resetAndDestroy?.();
        destroy(pair);
      }
    },
    async close() {
      for (const pair of [...pairs]) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

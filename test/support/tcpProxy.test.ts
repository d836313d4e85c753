// The fault proxy itself: what each mode lets through, against a real echo server on loopback.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpProxy, type TcpProxy } from "./tcpProxy.ts";

function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** What arrives on `socket` within `ms`. */
function received(socket: Socket, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
    };
    socket.on("data", onData);
    setTimeout(() => {
      socket.off("data", onData);
      resolve(text);
    }, ms);
  });
}

describe("tcpProxy", () => {
  let echo: Server;
  let proxy: TcpProxy;
  const seen: string[] = [];

  beforeAll(async () => {
    echo = createServer((s) =>
      s.on("data", (chunk) => {
        seen.push(chunk.toString());
        s.write(chunk);
      }),
    );
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", () => resolve()));
    proxy = await startTcpProxy({ host: "127.0.0.1", port: (echo.address() as { port: number }).port });
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  it("passes bytes both ways", async () => {
    const s = await connect(proxy.port);
    const got = received(s, 200);
    s.write("ping");
    expect(await got).toBe("ping");
    s.destroy();
  });

  it("black-holes both directions, then delivers what it held once healed", async () => {
    const s = await connect(proxy.port);
    proxy.setMode("blackhole");
    seen.length = 0;
    const during = received(s, 300);
    s.write("held");
    expect(await during).toBe("");
    expect(seen).toEqual([]);
    const after = received(s, 300);
    proxy.setMode("pass");
    expect(await after).toBe("held");
    s.destroy();
  });

  it("lets a request through but drops its answer", async () => {
    const s = await connect(proxy.port);
    proxy.setMode("dropAnswers");
    seen.length = 0;
    const got = received(s, 300);
    s.write("lost");
    expect(await got).toBe("");
    expect(seen).toEqual(["lost"]);
    proxy.setMode("pass");
    s.destroy();
  });

  it("delays answers, and cuts every connection on reset", async () => {
    const s = await connect(proxy.port);
    proxy.setAnswerDelay(400);
    const early = received(s, 150);
    s.write("slow");
    expect(await early).toBe("");
    expect(await received(s, 500)).toBe("slow");
    proxy.setAnswerDelay(0);
    const closed = new Promise((resolve) => s.once("close", resolve));
    proxy.resetAll();
    await closed;
    expect(proxy.connections).toBe(0);
  });
  it("shows watchers each client chunk before it moves on, so a fault can start on that very chunk", async () => {
    const s = await connect(proxy.port);
    seen.length = 0;
    const watched: [string, number][] = [];
    let closedId = 0;
    const stop = proxy.watch((chunk, connection) => {
      watched.push([chunk.toString(), connection.id]);
      // Black-hole from the chunk that says so: it is held, not passed on.
      if (chunk.toString() === "stop here") proxy.setMode("blackhole");
      void connection.closed.then(() => {
        closedId = connection.id;
      });
    });
    const first = received(s, 300);
    s.write("go on");
    expect(await first).toBe("go on");
    const second = received(s, 300);
    s.write("stop here");
    expect(await second).toBe("");
    expect(seen).toEqual(["go on"]);
    expect(watched.map(([text]) => text)).toEqual(["go on", "stop here"]);
    expect(watched[0]?.[1]).toBe(proxy.accepted);
    stop();
    proxy.setMode("pass");
    // Healing delivers the held chunk; the stopped watcher sees nothing more.
    const healed = received(s, 300);
    s.write("!");
    expect(await healed).toBe("stop here!");
    expect(watched).toHaveLength(2);
    s.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closedId).toBe(watched[0]?.[1]);
  });
});

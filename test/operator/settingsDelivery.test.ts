// How a settings PATCH reaches the real Meilisearch through a fault proxy, at the backend level:
// a request that never left (refused connection) throws; one that left without an answer comes
// back `answered: false`, and Meilisearch did receive it; a connection cut before the request
// reached Meilisearch is also "no answer" (the client cannot know), and nothing arrived.
import { createServer } from "node:net";
import type { Meilisearch } from "meilisearch";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { createMeiliClient, neverSent, sendSettings } from "../../src/backends/meilisearch.ts";
import { deleteIndexes, testClient, uniqueIndexPrefix } from "../support/meili.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy.ts";

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("sendSettings: never sent, answered, or sent without an answer", () => {
  const direct = testClient();
  const prefix = uniqueIndexPrefix();
  const index = `${prefix}settings`;
  let proxy: TcpProxy;
  let viaProxy: Meilisearch;
  const apiKey = inject("meilisearchApiKey") ?? null;

  beforeAll(async () => {
    await direct.createIndex(index, { primaryKey: "id" }).waitTask();
    const url = new URL(inject("meilisearchUrl"));
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
    viaProxy = createMeiliClient({ url: proxy.rewrite(url.toString()), apiKey, timeoutMs: 10_000 });
  });
  afterEach(() => {
    proxy.setMode("pass");
  });
  afterAll(async () => {
    await proxy?.close();
    await deleteIndexes(direct, prefix);
  });

  const stopWords = () => direct.index(index).getStopWords();

  it("answered: the task uid", async () => {
    const sent = await sendSettings(viaProxy, index, { stopWords: ["one"] }, 5_000);
    expect(sent).toEqual({ answered: true, taskUid: expect.any(Number) });
    if (sent.answered) await direct.tasks.waitForTask(sent.taskUid);
    expect(await stopWords()).toEqual(["one"]);
  });

  it("a refused connection never left: it throws, quickly, and says the connection was refused", async () => {
    const down = createMeiliClient({
      url: `http://127.0.0.1:${await closedPort()}`,
      apiKey,
      timeoutMs: 10_000,
    });
    const started = Date.now();
    const error = await sendSettings(down, index, { stopWords: ["refused"] }, 5_000).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toMatchObject({
      code: "meilisearch_unreachable",
      message: expect.stringContaining("refused the connection"),
    });
    expect(neverSent((error as Error).cause)).toBe(true);
  });

  it("Meilisearch refusing the settings answers: it throws with its error, nothing changed", async () => {
    const error = await sendSettings(viaProxy, index, { stopWords: "not a list" }, 5_000).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "meilisearch_error", message: expect.stringContaining("HTTP 400") });
  });

  it("the answer is dropped: answered false after the timeout, and Meilisearch received it", async () => {
    const stop = proxy.watch((chunk) => {
      if (chunk.toString("latin1").startsWith("PATCH ")) proxy.setMode("dropAnswers");
    });
    const started = Date.now();
    const sent = await sendSettings(viaProxy, index, { stopWords: ["two"] }, 1_500);
    stop();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(1_400);
    expect(took).toBeLessThan(4_000);
    expect(sent).toMatchObject({
      answered: false,
      error: {
        code: "meilisearch_unreachable",
        message: expect.stringContaining("did not answer the settings PATCH within 1.5 s"),
      },
    });
    expect(neverSent(sent.answered ? null : sent.error.cause)).toBe(false);
    await expect.poll(stopWords, { timeout: 5_000 }).toEqual(["two"]);
  });

  it("the connection is cut as the PATCH arrives: no answer (the client cannot tell), and nothing arrived", async () => {
    const before = (await direct.tasks.getTasks({ types: ["settingsUpdate"], indexUids: [index] })).total;
    const stop = proxy.watch((chunk) => {
      if (chunk.toString("latin1").startsWith("PATCH ")) {
        proxy.setMode("blackhole");
        proxy.resetAll();
      }
    });
    const sent = await sendSettings(viaProxy, index, { stopWords: ["three"] }, 5_000);
    stop();
    expect(sent).toMatchObject({
      answered: false,
      error: {
        message: expect.stringMatching(
          /^the connection to Meilisearch at .* failed after the settings PATCH was sent \(\w+\)$/,
        ),
      },
    });
    expect((await direct.tasks.getTasks({ types: ["settingsUpdate"], indexUids: [index] })).total).toBe(
      before,
    );
    expect(await stopWords()).toEqual(["two"]);
  });
});

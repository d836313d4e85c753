// "Break Meilisearch for a minute" against the real sandbox: its own Meilisearch process is really
// stopped (a request times out), the demo application's sync jobs really fail (retryable, then
// discarded with the transport error an Elixir worker records), a second press changes nothing, and
// Meilisearch is back afterwards. Stopping the sandbox mid-outage continues the process before it
// stops it: it ends on SIGTERM, never left stopped (nor killed after SIGTERM's grace ran out).
import { readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Sandbox, startSandbox } from "../../../devkit/sandbox/index.ts";
import { ANA, DEMO_MAX_ATTEMPTS } from "../../../devkit/sandbox/seed.ts";
import { eventually } from "../../support/eventually.ts";

const OUTAGE_MS = 30_000;

interface Outage {
  label: string;
  status: "ok" | "broken" | "back";
  remainingMs: number | null;
  startedAt: string | null;
  already?: boolean;
}

interface AppJob {
  id: string;
  state: string;
  attempt: number;
  max_attempts: number;
  errors: { attempt: number; error: string }[];
}

/** Waits until the process is stopped (SIGSTOP is delivered asynchronously). */
const stoppedProcess = (pid: number) =>
  eventually(async () => (processState(pid) === "T" ? true : undefined), 5_000, `process ${pid} stopped`);

/** The process's state letter in /proc (T: stopped), or null once it is gone. */
function processState(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8")
      .replace(/^.*\) /s, "")
      .slice(0, 1);
  } catch {
    return null;
  }
}

describe("Break Meilisearch: a real outage of the sandbox's own Meilisearch", { timeout: 150_000 }, () => {
  let sandbox: Sandbox;
  let pool: pg.Pool;
  let stopped = false;

  const api = async (action: string, body: Record<string, unknown> = {}) => {
    const res = await fetch(new URL(`/api/${action}`, sandbox.url), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: ANA.id, ...body }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { outage: Outage };
  };
  const outage = async () =>
    ((await (await fetch(new URL("/api/state", sandbox.url))).json()) as { outage: Outage }).outage;
  const health = () =>
    fetch(`${sandbox.config.meilisearch.url}/health`, { signal: AbortSignal.timeout(1_500) });
  const appJobs = async (after: number) =>
    (
      await pool.query<AppJob>(
        `SELECT id, state::text, attempt, max_attempts, errors FROM public.oban_jobs
          WHERE queue = 'search_sync' AND id > $1 ORDER BY id`,
        [after],
      )
    ).rows;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, botLog: () => {}, workerIntervalMs: 200, outageMs: OUTAGE_MS });
    pool = new pg.Pool({ connectionString: sandbox.config.database.url, max: 2 });
  }, 90_000);

  afterAll(async () => {
    if (!stopped) {
      await pool?.end();
      await sandbox?.stop();
    }
  });

  it("stops the process: requests time out, the application's sync jobs fail to discarded, and it comes back", async () => {
    const pid = sandbox.meilisearch?.pid as number;
    expect(pid).toBeGreaterThan(0);
    expect(await outage()).toMatchObject({ label: "Break Meilisearch for 30 seconds", status: "ok" });
    expect((await health()).status).toBe(200);
    const { rows } = await pool.query<{ max: string | null }>("SELECT max(id) FROM public.oban_jobs");
    const before = Number(rows[0]?.max ?? 0);

    const broken = (await api("break")).outage;
    expect(broken).toMatchObject({ status: "broken", already: false });
    expect(broken.remainingMs).toBeGreaterThan(OUTAGE_MS - 5_000);
    await stoppedProcess(pid);
    await expect(health()).rejects.toMatchObject({ name: "TimeoutError" });

    // A second press while broken: the same outage, nothing restarted or extended.
    const again = (await api("break")).outage;
    expect(again).toMatchObject({ status: "broken", already: true, startedAt: broken.startedAt });
    expect(again.remainingMs).toBeLessThanOrEqual(broken.remainingMs as number);

    // The application's saves meanwhile: their jobs time out, are retried, and end discarded.
    const retrying = await eventually(
      async () => (await appJobs(before)).find((j) => j.state === "retryable"),
      20_000,
      "a retryable sync job",
    );
    expect(retrying.errors[0]?.error).toMatch(/^\*\* \(Req\.TransportError\) timeout\n {4}\(req /);
    const discarded = await eventually(
      async () => (await appJobs(before)).find((j) => j.state === "discarded"),
      OUTAGE_MS,
      "a discarded sync job",
    );
    expect(discarded).toMatchObject({ attempt: DEMO_MAX_ATTEMPTS, max_attempts: DEMO_MAX_ATTEMPTS });
    expect(discarded.errors.map((e) => e.attempt)).toEqual([1, 2, 3]);
    for (const e of discarded.errors) expect(e.error).toMatch(/^\*\* \(Req\.TransportError\) timeout\n/);
    expect(processState(pid)).toBe("T");

    // Then it is back: the process runs, /health answers, the page says so.
    await eventually(
      async () => ((await outage()).status === "back" ? true : undefined),
      OUTAGE_MS + 20_000,
      "Meilisearch back",
    );
    expect(processState(pid)).not.toBe("T");
    expect((await health()).status).toBe(200);
    // The jobs that still had attempts left complete once Meilisearch answers again.
    await eventually(
      async () =>
        (await appJobs(before)).every((j) => j.state === "completed" || j.state === "discarded")
          ? true
          : undefined,
      45_000,
      "every sync job completed or discarded",
    );
    expect((await appJobs(before)).some((j) => j.state === "completed")).toBe(true);
  });

  it("continues Meilisearch when the sandbox stops mid-outage: it ends on SIGTERM, nothing left stopped", async () => {
    const pid = sandbox.meilisearch?.pid as number;
    expect((await api("break")).outage).toMatchObject({ status: "broken", already: false });
    await stoppedProcess(pid);
    // The sandbox's Postgres stops too: this test's connections go first.
    await pool.end();
    stopped = true;
    await sandbox.stop();
    expect(processState(pid)).toBeNull();
    expect(sandbox.meilisearch?.exit).not.toBeNull();
    expect(sandbox.meilisearch?.exit?.signal).not.toBe("SIGKILL");
  });
});

// Honest messages under trouble: a lock held on oban_jobs reads as a lock wait (never
// "unreachable"), a closed port as "refused the connection", an unknown host as "did not
// resolve"; statement and lock timeouts from a real Postgres are named as such; the audit log
// and mutation requests answer a backend failure with its sentence, never as the bot's bug; and
// Slack and the CLI say the same sentence.
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeDatabase, postgresError } from "../../src/backends/postgres.ts";
import {
  ANSWER_BOUND_MS,
  cliSentence,
  type FaultyDeployment,
  faultyDeployment,
  loggedAnswer,
  startBot,
} from "./readsSupport.ts";

let f: FaultyDeployment;

beforeAll(async () => {
  f = await faultyDeployment();
}, 60_000);

afterAll(async () => {
  await f?.close();
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Another session holding ACCESS EXCLUSIVE on the deployment's oban_jobs until `release`. */
async function lockObanJobs() {
  const client = await f.d.oban.pool.connect();
  await client.query("BEGIN");
  await client.query(`LOCK TABLE "${f.d.oban.prefix}".oban_jobs IN ACCESS EXCLUSIVE MODE`);
  const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  return {
    pid: rows[0]?.pid as number,
    async release() {
      await client.query("ROLLBACK");
      client.release();
    },
  };
}

describe("a lock held on oban_jobs", () => {
  it("is reported as a lock wait naming the table and the session, the same on Slack and the CLI", async () => {
    const lock = await lockObanJobs();
    try {
      const where = describeDatabase(String((f.raw.database as { url: string }).url));
      const sentence = `Postgres at ${where} could not answer: the read was waiting for a lock on oban_jobs held by another session (pid ${lock.pid}, AccessExclusiveLock); find that session with pg_blocking_pids() or pg_stat_activity and let it finish or end it, then try again`;
      const [status, failed, cli] = await Promise.all([
        f.slash("status posts"),
        f.slash("failed posts --source oban"),
        f.cli(["status", "posts"]),
      ]);
      for (const answer of [status, failed]) {
        expect(answer.ms).toBeLessThan(ANSWER_BOUND_MS);
        expect(answer.text).toContain(sentence);
        expect(answer.text).not.toMatch(/unreachable|Something went wrong/);
      }
      expect(status.text).toContain("*PostgreSQL waited for a lock:*");
      expect(failed.text).toContain("pg_blocking_pids()");
      expect(cli.ms).toBeLessThan(ANSWER_BOUND_MS);
      expect(cli.code).toBe(1);
      expect(cliSentence(cli, "scrypath.status")).toBe(sentence);
    } finally {
      await lock.release();
    }
    // The lock gone, the same read answers in full.
    const after = await f.slash("status posts");
    expect(after.text).not.toMatch(/lock|not read/);
  }, 60_000);

  it("a read canceled at statement_timeout while it waited for the lock is still a lock wait", async () => {
    const quick = await startBot(f.raw, f.fake, { statementTimeoutMs: 1_000 });
    const lock = await lockObanJobs();
    try {
      const answer = await quick.slash("status posts");
      // Canceled by the server after 1 s, then the lock check: well before the 10 s read bound.
      expect(answer.ms).toBeLessThan(8_000);
      expect(answer.text).toContain(
        `waiting for a lock on oban_jobs held by another session (pid ${lock.pid}, AccessExclusiveLock)`,
      );
      expect(answer.text).not.toMatch(/statement_timeout|unreachable/);
    } finally {
      await lock.release();
      await quick.bot.stop();
      await quick.operator.close();
    }
  }, 30_000);
});

describe("what a real Postgres says, mapped", () => {
  it("lock_timeout (55P03) and statement_timeout (57014)", async () => {
    const where = "db.internal:5432/app";
    const lock = await lockObanJobs();
    const client = await f.d.oban.pool.connect();
    try {
      await client.query("SET lock_timeout = '200ms'");
      const lockError = await client.query(`SELECT 1 FROM "${f.d.oban.prefix}".oban_jobs`).catch((e) => e);
      expect(lockError.code).toBe("55P03");
      const mapped = postgresError(lockError, where);
      expect(mapped).toMatchObject({ code: "postgres_lock", backend: "postgres" });
      expect(mapped.message).toBe(
        `Postgres at ${where} could not answer: the read was waiting for a lock held by another session (lock_timeout, 55P03); find that session with pg_blocking_pids() or pg_stat_activity and let it finish or end it, then try again`,
      );
      await client.query("RESET lock_timeout");
      await client.query("SET statement_timeout = '100ms'");
      const slow = await client.query("SELECT pg_sleep(2)").catch((e) => e);
      expect(slow.code).toBe("57014");
      expect(postgresError(slow, where)).toMatchObject({
        code: "postgres_timeout",
        message: `Postgres at ${where} canceled the read at its statement_timeout (57014); the database may be overloaded: try again, and check its slow queries`,
      });
    } finally {
      await client.query("RESET ALL").catch(() => {});
      client.release();
      await lock.release();
    }
  });
});

describe("closed ports and unknown hosts", () => {
  it("a closed port: 'refused the connection', for each backend, the same on Slack and the CLI", async () => {
    const pgPort = await closedPort();
    const meiliPort = await closedPort();
    const raw = f.raw as { database: Record<string, unknown>; meilisearch: Record<string, unknown> };
    const dbUrl = new URL(String(raw.database.url));
    dbUrl.port = String(pgPort);
    const refused = {
      ...f.raw,
      database: { ...raw.database, url: dbUrl.href },
      meilisearch: { ...raw.meilisearch, url: `http://127.0.0.1:${meiliPort}` },
    };
    const pgSentence = `Postgres at 127.0.0.1:${pgPort}/scrypath is unreachable: it refused the connection (ECONNREFUSED); check that the server is running and that database.url names its host and port`;
    const meiliSentence = `Meilisearch at http://127.0.0.1:${meiliPort} is unreachable: it refused the connection (ECONNREFUSED); check that the server is running and that meilisearch.url names its host and port`;
    const bot = await startBot(refused, f.fake);
    try {
      const [audit, drift, retry, cliAudit, cliAuditJson, cliDrift] = await Promise.all([
        bot.slash("audit"),
        bot.slash("drift posts"),
        // A mutation request stores its card in Postgres, outside the read commands.
        bot.slash(`retry posts --id ${f.jobs[0]}`),
        f.cli(["audit"], refused),
        f.cli(["audit", "--json"], refused),
        f.cli(["drift", "posts"], refused),
      ]);
      for (const answer of [audit, drift, retry]) {
        expect(answer.ms).toBeLessThan(5_000);
        expect(answer.text).not.toContain("Something went wrong");
      }
      expect(audit.text).toContain(pgSentence);
      expect(retry.text).toContain(pgSentence);
      expect(drift.text).toContain(meiliSentence);
      expect(cliSentence(cliAudit, "scrypath-bot.audit")).toBe(pgSentence);
      expect(cliSentence(cliAuditJson, "scrypath-bot.audit")).toBe(pgSentence);
      expect(cliSentence(cliDrift, "scrypath.index.contract_drift")).toBe(meiliSentence);
      for (const r of [cliAudit, cliAuditJson, cliDrift]) {
        expect(r.code).toBe(1);
        expect(r.stderr).not.toContain("unexpected error");
      }
      // The log line of each answer carries the same sentence.
      await loggedAnswer(bot.logs, pgSentence);
      await loggedAnswer(bot.logs, meiliSentence);
    } finally {
      await bot.bot.stop();
      await bot.operator.close();
    }
  }, 30_000);

  it("an unknown host: 'did not resolve'", async () => {
    const raw = f.raw as { database: Record<string, unknown>; meilisearch: Record<string, unknown> };
    const dbUrl = new URL(String(raw.database.url));
    dbUrl.hostname = "scrypath-no-such-host.invalid";
    const unknown = {
      ...f.raw,
      database: { ...raw.database, url: dbUrl.href },
      meilisearch: { ...raw.meilisearch, url: "http://scrypath-no-such-host.invalid:7700" },
    };
    const [audit, drift] = await Promise.all([f.cli(["audit"], unknown), f.cli(["drift", "posts"], unknown)]);
    expect(cliSentence(audit, "scrypath-bot.audit")).toMatch(
      /^Postgres at scrypath-no-such-host\.invalid:\d+\/scrypath is unreachable: its host name did not resolve \((ENOTFOUND|EAI_AGAIN)\); check the host in database\.url and the bot's DNS$/,
    );
    expect(cliSentence(drift, "scrypath.index.contract_drift")).toMatch(
      /^Meilisearch at http:\/\/scrypath-no-such-host\.invalid:7700 is unreachable: its host name did not resolve \((ENOTFOUND|EAI_AGAIN)\); check the host in meilisearch\.url and the bot's DNS$/,
    );
  }, 30_000);
});

// The credential corpus and hostile control characters through the real CLI (text and --json)
// against the real Postgres and Meilisearch: job errors and args carrying every credential shape,
// ANSI escapes and bidi overrides; the configured secrets; the meilisearch.url password in error
// lines.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { runCaptured } from "../support/cli.ts";
import { ALL_SECRETS, CREDENTIALS } from "../support/credentials.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const SIGNING_SECRET = "cliSigningS3cretValue";
const MEILI_PASSWORD = "meiliUrlPassw0rd";
// Terminal escapes and bidi controls: none may reach the terminal raw.
function hostile(text: string): boolean {
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f)) return true;
    if (c === 0x061c || c === 0x200e || c === 0x200f) return true;
    if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) return true;
  }
  return false;
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(
  argv: string[],
  env: NodeJS.ProcessEnv,
  confirm?: (question: string) => Promise<boolean>,
): Promise<Result> {
  const { code, stdout, stderr } = await runCaptured(argv, {
    env,
    ...(confirm ? { confirm } : {}),
  });
  return { code, stdout, stderr };
}

function expectClean(r: Result): void {
  const all = r.stdout + r.stderr;
  for (const secret of [...ALL_SECRETS, SIGNING_SECRET, MEILI_PASSWORD]) expect(all).not.toContain(secret);
  expect(hostile(all)).toBe(false);
  expect(all).not.toContain("\\u001b");
}

describe("CLI output carries no credential and no control character", () => {
  let d: TestDeployment;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  /** Failed jobs whose last error carries a credential and terminal escapes, and a configured secret. */
  const hostileJobs: number[] = [];

  beforeAll(async () => {
    d = await testDeployment([postsSchema()]);
    dir = mkdtempSync(join(tmpdir(), "scrypath-cli-redaction-"));
    const config = join(dir, "config.yml");
    writeFileSync(config, stringify(d.raw));
    env = { SCRYPATH_BOT_CONFIG: config, SLACK_SIGNING_SECRET: SIGNING_SECRET };
    const live = `${d.indexPrefix}_post`;
    let id = 1;
    for (const c of CREDENTIALS) {
      // The error with colour codes and a bidi override around it, once as Oban's error map (shown
      // as `last_error`) and once as a plain string (upstream shows that one as the `reason`).
      const error = `\u001b[31m** (RuntimeError) ${c.text}\u001b[0m \u202egnp.exe`;
      for (const errors of [[obanError(error)], [error]]) {
        const job = await insertJob(d.oban.pool, d.oban.prefix, {
          state: "discarded",
          queue: QUEUE,
          args: upsertArgs(POST, live, [id++], { note: `\u202e${c.text}\u202c` }),
          errors,
          attempt: 20,
        });
        if (errors[0] !== error && hostileJobs.length < 3) hostileJobs.push(job);
      }
    }
    // A configured secret with no recognisable shape, only known because it is configured.
    const signing = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [9999]),
      errors: [obanError(`** (RuntimeError) webhook signature mismatch using ${SIGNING_SECRET}`)],
      attempt: 20,
    });
    hostileJobs.push(signing);
  });

  afterAll(async () => {
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("failed (text): every row shown, every shape redacted, no escape sequence", async () => {
    const r = await cli(["failed", "posts", "--limit", "200"], env);
    expect(r.code, r.stderr).toBe(0);
    expectClean(r);
    const rows = r.stdout.split("\n").filter((l) => l.startsWith("- id="));
    expect(rows).toHaveLength(2 * CREDENTIALS.length + 1);
    const shown = rows.filter((l) => l.includes("reason=** (RuntimeError) "));
    expect(shown).toHaveLength(CREDENTIALS.length);
    for (const row of shown) {
      expect(row).toContain("[REDACTED]");
      expect(row).toMatch(/gnp\.exe$/);
    }
  });

  it("failed --json: valid JSON, values redacted and stripped", async () => {
    const r = await cli(["failed", "posts", "--limit", "200", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    expectClean(r);
    const doc = JSON.parse(r.stdout) as { entries: { reason: string; last_error: string | null }[] };
    expect(doc.entries).toHaveLength(2 * CREDENTIALS.length + 1);
    const texts = doc.entries.flatMap((e) => [e.reason, e.last_error ?? ""]);
    const errors = texts.filter((t) => t.startsWith("** (RuntimeError) "));
    // Every job's error is shown once (reason or last_error), each with its secret redacted.
    expect(errors.length).toBeGreaterThanOrEqual(2 * CREDENTIALS.length);
    for (const t of errors) expect(t).toContain("[REDACTED]");
  });

  it("the confirmation question (a retry's last error) is cleaned like every other line", async () => {
    expect(hostileJobs).toHaveLength(4);
    for (const id of hostileJobs) {
      const asked: string[] = [];
      const r = await cli(["retry", "posts", "--id", String(id)], env, async (question) => {
        asked.push(question);
        return false;
      });
      expect(r.code).toBe(1);
      expect(asked).toHaveLength(1);
      expect(asked[0]).toContain("Last error: ** (RuntimeError) ");
      expectClean({ ...r, stderr: `${r.stderr}${asked.join("")}` });
    }
  });

  it("the meilisearch.url password and the configured secrets stay out of error lines", async () => {
    const bad = join(dir, "meili-password.yml");
    const raw = d.raw as { meilisearch: Record<string, unknown> };
    writeFileSync(
      bad,
      stringify({
        ...d.raw,
        meilisearch: { ...raw.meilisearch, url: `http://admin:${MEILI_PASSWORD}@127.0.0.1:1` },
      }),
    );
    for (const argv of [
      ["status", "posts", "--config", bad],
      ["status", "posts", "--config", bad, "--json"],
      ["status", "posts", "--meilisearch-url", `http://admin:${MEILI_PASSWORD}@127.0.0.1:1`],
      ["status", "posts", "--meilisearch-url", `ftp://admin:${MEILI_PASSWORD}@127.0.0.1:1`],
    ]) {
      const r = await cli(argv, env);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      // One line naming the server; the credentials are redacted or left out of its description.
      expect(r.stderr).toMatch(/^scrypath\.status failed: [^\n]*127\.0\.0\.1:1[^\n]*\n$/);
      expect(r.stderr).not.toContain(MEILI_PASSWORD);
      expectClean(r);
    }
  });

  it("an xoxb token in the environment or a stack trace is redacted with --debug", async () => {
    const token = "xoxb-1234567890-1234567890123-CliTokenInStackTrace0";
    const r = await cli(["status", "NoSuchSchema", "--debug", "--config", `/nonexistent/${token}.yml`], {
      ...env,
      SLACK_BOT_TOKEN: token,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[REDACTED]");
    expect(r.stderr).not.toContain("CliTokenInStackTrace0");
  });
});

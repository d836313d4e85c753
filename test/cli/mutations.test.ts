// The CLI's mutating commands end to end, in-process through `run(argv, io)` over the real
// Postgres and Meilisearch: retry, reconcile --action, settings hot-apply/revert and the audit
// listing. Mix-compatible stdout (spec §8.3, §8.4, §8.7), one-line failures, confirmation or
// --yes before anything changes, and an audit row for every attempt. One spawn of the real bin
// proves a non-interactive `retry … --yes`.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { runCaptured, spawnBin } from "../support/cli.ts";
import { insertJob } from "../support/db.ts";
import { failDocumentTask } from "../support/meili.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const PAGE = "MyApp.Blog.Page";
const PAGE_QUEUE = "search_pages";
const ACTOR = `cli:${userInfo().username}`;

/** Values that must never appear in any output. */
const SECRETS = [
  inject("meilisearchApiKey"),
  decodeURIComponent(new URL(inject("databaseUrl")).password),
].filter((s): s is string => typeof s === "string" && s.length > 0);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout split into lines, without the final newline's empty string. */
  lines: string[];
  /** The questions asked through io.confirm. */
  asked: string[];
}

let configFile = "";

function checkSecrets(r: { stdout: string; stderr: string }) {
  for (const secret of SECRETS) {
    expect(r.stdout).not.toContain(secret);
    expect(r.stderr).not.toContain(secret);
  }
}

async function cli(
  argv: string[],
  options: { confirm?: (question: string) => Promise<boolean>; env?: NodeJS.ProcessEnv } = {},
): Promise<Result> {
  const asked: string[] = [];
  const confirm = options.confirm;
  const { code, stdout, stderr } = await runCaptured(argv, {
    env: { SCRYPATH_BOT_CONFIG: configFile, ...options.env },
    ...(confirm
      ? {
          confirm: (question: string) => {
            asked.push(question);
            return confirm(question);
          },
        }
      : {}),
  });
  const result = { code, stdout, stderr, asked };
  checkSecrets(result);
  return { ...result, lines: stdout === "" ? [] : stdout.replace(/\n$/, "").split("\n") };
}

/** The one-line failure contract: exit 1, nothing on stdout; returns the text after `<task> failed: `. */
async function fails(task: string, argv: string[], options: Parameters<typeof cli>[1] = {}): Promise<string> {
  const r = await cli(argv, options);
  expect(r.code, r.stderr).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(/^[^\n]+\n$/);
  const prefix = `${task} failed: `;
  expect(r.stderr.startsWith(prefix), r.stderr).toBe(true);
  return r.stderr.slice(prefix.length, -1);
}

describe("scrypath-bot CLI mutations (spec §8.3, §8.4, §8.7)", () => {
  let d: TestDeployment;
  let dir: string;
  let workerConfigFile: string;
  let live: string;
  let pageLive: string;
  let pageTarget: string;

  beforeAll(async () => {
    d = await testDeployment([
      postsSchema({ obanMaxAttempts: 5 }),
      {
        module: PAGE,
        alias: "pages",
        syncMode: "oban",
        obanQueue: PAGE_QUEUE,
        contract: { fields: ["title"] },
      },
    ]);
    live = `${d.indexPrefix}_post`;
    pageLive = `${d.indexPrefix}_page`;
    pageTarget = `${pageLive}__reindex`;
    dir = mkdtempSync(join(tmpdir(), "scrypath-cli-mutations-"));
    configFile = join(dir, "scrypath-bot.yml");
    writeFileSync(configFile, stringify(d.raw));
    // The same deployment with a backfill worker configured for posts.
    const schemas = d.raw.schemas as Record<string, unknown>[];
    workerConfigFile = join(dir, "with-worker.yml");
    writeFileSync(
      workerConfigFile,
      stringify({
        ...d.raw,
        schemas: [
          {
            ...schemas[0],
            backfillWorker: { worker: "MyApp.Search.BackfillWorker", queue: "search_maintenance" },
          },
          ...schemas.slice(1),
        ],
      }),
    );
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    await d.meili
      .index(live)
      .updateSettings({ stopWords: ["a"], rankingRules: ["words", "typo"] })
      .waitTask();
  });

  afterAll(async () => {
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // --- helpers over the real services ---

  const failedJob = (args: Record<string, unknown> = upsertArgs(POST, live, [7, 8])) =>
    insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args,
      errors: [obanError("** (RuntimeError) boom")],
      attempt: 5,
      maxAttempts: 5,
    });

  const jobRow = async (id: number) =>
    (
      await d.oban.pool.query(
        `SELECT id::int, state::text, queue, worker, args, meta, errors, attempt, max_attempts,
           inserted_at, scheduled_at, attempted_at, discarded_at
         FROM "${d.oban.prefix}".oban_jobs WHERE id = $1`,
        [id],
      )
    ).rows[0];

  /** Ids of the jobs that replay `failedId`. */
  const replaysOf = async (failedId: number) =>
    (
      await d.oban.pool.query(
        `SELECT id::int FROM "${d.oban.prefix}".oban_jobs WHERE meta @> $1::jsonb ORDER BY id`,
        [JSON.stringify({ scrypath_bot: { replay_of: failedId } })],
      )
    ).rows.map((r) => r.id as number);

  const jobCount = async () =>
    (await d.oban.pool.query(`SELECT count(*)::int AS n FROM "${d.oban.prefix}".oban_jobs`)).rows[0]
      .n as number;

  /** The audit log, oldest first; empty while the bot's tables do not exist yet. */
  const audits = async () => {
    const table = `"${d.config.state.schema}".audit_log`;
    const { rows } = await d.oban.pool.query("SELECT to_regclass($1)::text AS t", [table]);
    if (rows[0].t === null) return [];
    return (
      await d.oban.pool.query(
        `SELECT id::int, actor, action, schema_module, outcome, reason, target, details, context
         FROM ${table} ORDER BY id`,
      )
    ).rows;
  };

  const liveSettings = () => d.meili.index(live).getSettings();
  const taskTotal = async (index: string) =>
    (await d.meili.tasks.getTasks({ indexUids: [index], limit: 1 })).total;

  // --- audit before anything happened ---

  describe("audit on a fresh deployment", () => {
    // The deployment's own state schema was migrated at set-up (as `scrypath-bot migrate` does
    // before a rollout); a fresh deployment is a state schema nobody migrated yet.
    let fresh: { env: NodeJS.ProcessEnv; schema: string };
    beforeAll(() => {
      const schema = `${d.config.state.schema}_fresh`;
      const file = join(dir, "fresh.yml");
      writeFileSync(file, stringify({ ...d.raw, state: { schema } }));
      fresh = { env: { SCRYPATH_BOT_CONFIG: file }, schema };
    });

    it("prints No audit entries. (and [] with --json) before any mutation, without creating tables", async () => {
      for (const argv of [["audit"], ["audit", "posts"], ["audit", "--limit", "1"]]) {
        const r = await cli(argv, { env: fresh.env });
        expect(r.code).toBe(0);
        expect(r.stderr).toBe("");
        expect(r.lines).toEqual(["No audit entries."]);
      }
      const json = await cli(["audit", "--json"], { env: fresh.env });
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual([]);
      const { rows } = await d.oban.pool.query("SELECT to_regnamespace($1)::text AS s", [fresh.schema]);
      expect(rows[0].s).toBeNull();
    });

    it("still names an unknown schema and a bad --limit", async () => {
      expect(await fails("scrypath-bot.audit", ["audit", "Nope"])).toMatch(
        /^unknown schema "Nope"; configured schemas: /,
      );
      expect(await fails("scrypath-bot.audit", ["audit", "--limit", "0"])).toBe(
        '--limit expects a positive whole number, got "0"',
      );
    });
  });

  // --- retry ---

  describe("retry", () => {
    it("refuses without --yes when nobody can be asked, and does nothing", async () => {
      const failed = await failedJob();
      const before = await jobCount();
      const message = await fails("scrypath.retry", ["retry", "posts", "--id", String(failed)]);
      expect(message).toBe(
        `this command changes production (retry failed work oban:${failed} in ${POST}); pass --yes to confirm when not running in a terminal`,
      );
      expect(await jobCount()).toBe(before);
      expect(await replaysOf(failed)).toEqual([]);
      expect((await audits()).filter((a) => a.outcome === "accepted")).toEqual([]);
    });

    it("stops when the person at the terminal says no", async () => {
      const failed = await failedJob();
      const before = await jobCount();
      const r = await cli(["retry", "posts", "--id", String(failed)], { confirm: async () => false });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        "scrypath.retry failed: cancelled at the confirmation prompt; nothing was done\n",
      );
      expect(r.asked).toHaveLength(1);
      expect(await jobCount()).toBe(before);
      expect(await replaysOf(failed)).toEqual([]);
      expect((await audits()).filter((a) => a.target?.id === failed)).toEqual([]);
    });

    it("retries when the person at the terminal says yes; the question names the job", async () => {
      const failed = await failedJob();
      const before = await jobRow(failed);
      const r = await cli(["retry", "posts", "--id", String(failed)], { confirm: async () => true });
      expect(r.code, r.stderr).toBe(0);
      expect(r.asked).toHaveLength(1);
      // What the Slack card shows, as plain text: the row, what it was, what the retry inserts.
      expect(r.asked[0]).toBe(
        [
          `About to retry failed work oban:${failed} in ${POST} (index ${live}, operation upsert, 2 documents, reason class queue_exhausted). Inserts one new Oban job in queue ${QUEUE}; the failed job stays as it is.`,
          "Last error: ** (RuntimeError) boom",
          "Type yes to continue: ",
        ].join("\n"),
      );
      expect(r.lines).toEqual([
        `Retried failed work ${failed}`,
        "Status: accepted",
        "Mode: oban",
        `Reference: ${live}`,
      ]);
      expect(await replaysOf(failed)).toHaveLength(1);
      expect(await jobRow(failed)).toEqual(before);
    });

    it("--yes: the four mix lines, a note naming the new job, one new available job; the failed job untouched", async () => {
      const failed = await failedJob();
      const before = await jobRow(failed);
      const r = await cli(["retry", "posts", "--id", String(failed), "--yes"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.asked).toEqual([]);
      expect(r.stdout).toBe(
        [`Retried failed work ${failed}`, "Status: accepted", "Mode: oban", `Reference: ${live}`, ""].join(
          "\n",
        ),
      );
      const replays = await replaysOf(failed);
      expect(replays).toHaveLength(1);
      const newId = replays[0] as number;
      expect(r.stderr).toBe(
        `New Oban job ${newId} (Scrypath.Oban.UpsertWorker) in queue ${QUEUE}, state available. Accepted is not searchable yet: the worker still has to run.\n`,
      );
      expect(await jobRow(newId)).toMatchObject({
        state: "available",
        queue: QUEUE,
        worker: "Scrypath.Oban.UpsertWorker",
        attempt: 0,
        max_attempts: 5,
        errors: [],
        args: { operation: "upsert", index: live, document_ids: [7, 8], sync_mode: "oban" },
        meta: { scrypath_bot: { replay_of: failed, requested_by: ACTOR } },
      });
      expect(await jobRow(failed)).toEqual(before);
      expect((await audits()).at(-1)).toMatchObject({
        actor: ACTOR,
        action: "scrypath.ops.failed_work_retry",
        schema_module: POST,
        outcome: "accepted",
        target: { source: "oban", id: failed, new_job_id: newId },
        context: { via: "cli" },
      });
    });

    it("a row Oban retries by itself: with --yes the note still goes to stderr first; --json keeps its shape", async () => {
      const at = new Date("2031-01-02T03:04:05Z");
      const retrying = await insertJob(d.oban.pool, d.oban.prefix, {
        state: "retryable",
        queue: QUEUE,
        args: upsertArgs(POST, live, [9]),
        errors: [obanError("** (Req.TransportError) timeout")],
        attempt: 2,
        maxAttempts: 5,
        scheduledAt: at,
      });
      const r = await cli(["retry", "posts", "--id", String(retrying), "--yes", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const [newId] = await replaysOf(retrying);
      expect(r.stderr.split("\n")).toEqual([
        "Oban will retry this by itself at 2031-01-02T03:04:05Z (attempt 3 of 5); a replay now runs the same work twice.",
        `New Oban job ${newId} (Scrypath.Oban.UpsertWorker) in queue ${QUEUE}, state available. Accepted is not searchable yet: the worker still has to run.`,
        "",
      ]);
      expect(Object.keys(JSON.parse(r.stdout))).toEqual([
        "id",
        "status",
        "mode",
        "index",
        "document_ids",
        "document_count",
        "job",
      ]);
    });

    it("-y and oban:<id> work too", async () => {
      const failed = await failedJob();
      const r = await cli(["retry", POST, "--id", `oban:${failed}`, "-y"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.lines[0]).toBe(`Retried failed work ${failed}`);
      expect(await replaysOf(failed)).toHaveLength(1);
    });

    it("--json: one JSON document with the new job", async () => {
      const failed = await failedJob();
      const r = await cli(["retry", "posts", "--id", String(failed), "--yes", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout);
      const [newId] = await replaysOf(failed);
      expect(doc).toEqual({
        id: failed,
        status: "accepted",
        mode: "oban",
        index: live,
        document_ids: [7, 8],
        document_count: 2,
        job: {
          id: newId,
          worker: "Scrypath.Oban.UpsertWorker",
          queue: QUEUE,
          state: "available",
          attempt: 0,
          max_attempts: 5,
        },
      });
      expect(r.stderr).toContain(`New Oban job ${newId} `);
    });

    it("refuses a second retry of the same job (already_replayed) and audits it", async () => {
      const failed = await failedJob();
      const first = await cli(["retry", "posts", "--id", String(failed), "--yes"]);
      expect(first.code, first.stderr).toBe(0);
      const [newId] = await replaysOf(failed);
      const message = await fails("scrypath.retry", ["retry", "posts", "--id", String(failed), "--yes"]);
      expect(message).toMatch(
        new RegExp(
          `^already_replayed: job ${failed} was already replayed as job ${newId} \\(available\\) by ${ACTOR} at \\d{4}-`,
        ),
      );
      expect(await replaysOf(failed)).toEqual([newId]);
      expect((await audits()).at(-1)).toMatchObject({
        actor: ACTOR,
        action: "scrypath.ops.failed_work_retry",
        outcome: "refused",
        reason: "already_replayed",
      });
    });

    it("refusals print <reason>: <sentence>, exit 1, insert nothing and leave a refused audit row", async () => {
      const noPayload = await failedJob({ operation: "upsert", schema: `Elixir.${POST}`, index: live });
      const otherIndex = await failedJob(upsertArgs(POST, "old_prefix_post"));
      const task = await failDocumentTask(d.meili, live, "missing_primary_key");
      const cases: [string, string, string][] = [
        [String(noPayload), "not_retryable", `job ${noPayload} has no replayable payload (operation upsert)`],
        [
          String(otherIndex),
          "index_mismatch",
          `the job targets index old_prefix_post but ${POST} now writes to ${live} (did the index prefix change?); reindex instead`,
        ],
        ["999999", "not_found", "no failed work found for id 999999"],
        [
          `meilisearch:${task.uid}`,
          "not_retryable",
          `Meilisearch task ${task.uid} is a backend row; backend rows have no replay action`,
        ],
      ];
      for (const [id, reason, sentence] of cases) {
        const jobs = await jobCount();
        const before = (await audits()).length;
        expect(await fails("scrypath.retry", ["retry", "posts", "--id", id, "--yes"])).toBe(
          `${reason}: ${sentence}`,
        );
        expect(await jobCount()).toBe(jobs);
        const after = await audits();
        expect(after).toHaveLength(before + 1);
        expect(after.at(-1)).toMatchObject({
          actor: ACTOR,
          action: "scrypath.ops.failed_work_retry",
          outcome: "refused",
          reason,
        });
      }
      const listed = await cli(["audit", "posts"]);
      expect(listed.code).toBe(0);
      expect(listed.lines[0]).toMatch(
        new RegExp(
          `^\\S+Z ${ACTOR} scrypath\\.ops\\.failed_work_retry ${POST} refused reason=not_retryable id=${task.uid} source=meilisearch$`,
        ),
      );
      expect(listed.lines[1]).toContain(" refused reason=not_found id=999999 source=oban");
      expect(listed.lines[2]).toContain(` refused reason=index_mismatch id=${otherIndex} source=oban`);
      expect(listed.lines[3]).toContain(` refused reason=not_retryable id=${noPayload} source=oban`);
    });

    it("--id is required, and must be an id, before anything is asked", async () => {
      for (const extra of [[], ["--yes"]]) {
        expect(await fails("scrypath.retry", ["retry", "posts", ...extra])).toBe(
          "`--id` is required for this command",
        );
        expect(await fails("scrypath.retry", ["retry", "posts", "--id", "abc", ...extra])).toBe(
          'invalid id "abc"; expected a job id such as 601 or oban:601',
        );
      }
      const asked = await cli(["retry", "posts", "--id", "abc"], { confirm: async () => true });
      expect(asked.asked).toEqual([]);
      expect(await fails("scrypath.retry", ["retry", "Nope", "--id", "1"])).toMatch(
        /^unknown schema "Nope"; configured schemas: /,
      );
    });

    it("the real executable retries non-interactively with --yes", async () => {
      const failed = await failedJob();
      const { DATABASE_URL: _db, MEILISEARCH_URL: _m, MEILISEARCH_API_KEY: _k, ...env } = process.env;
      const r = await spawnBin(
        ["retry", "posts", "--id", String(failed), "--yes", "--config", configFile],
        env,
      );
      checkSecrets(r);
      const [newId] = await replaysOf(failed);
      expect(r.stdout).toBe(
        [`Retried failed work ${failed}`, "Status: accepted", "Mode: oban", `Reference: ${live}`, ""].join(
          "\n",
        ),
      );
      expect(r.stderr).toContain(`New Oban job ${newId} `);
      expect(r.stderr).toContain("Accepted is not searchable yet");
      expect(r.code).toBe(0);
      expect(await jobRow(newId as number)).toMatchObject({ state: "available", queue: QUEUE });
    });
  });

  // --- reconcile --action ---

  describe("reconcile --action", () => {
    it("retry: Applied action: retry and the mix lines", async () => {
      const failed = await failedJob();
      const r = await cli(["reconcile", "posts", "--action", "retry", "--id", String(failed), "--yes"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.lines).toEqual([
        "Applied action: retry",
        "Status: accepted",
        "Mode: oban",
        `Reference: ${live}`,
      ]);
      const [newId] = await replaysOf(failed);
      expect(newId).toEqual(expect.any(Number));
      expect(r.stderr).toBe(
        `New Oban job ${newId} in queue ${QUEUE} replays failed work ${failed}. Accepted is not searchable yet.\n`,
      );
      const json = await cli([
        "reconcile",
        "posts",
        "--action",
        "retry",
        "--id",
        String(await failedJob()),
        "--yes",
        "--json",
      ]);
      expect(json.code, json.stderr).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({
        action: "retry",
        status: "accepted",
        mode: "oban",
        reference: live,
        job_id: expect.any(Number),
      });
    });

    it("retry needs --id; its refusals read like retry's", async () => {
      expect(await fails("scrypath.reconcile", ["reconcile", "posts", "--action", "retry", "--yes"])).toBe(
        "`--id` is required for this command",
      );
      expect(await fails("scrypath.reconcile", ["reconcile", "posts", "--action", "retry"])).toBe(
        "`--id` is required for this command",
      );
      expect(
        await fails("scrypath.reconcile", [
          "reconcile",
          "posts",
          "--action",
          "retry",
          "--id",
          "999999",
          "--yes",
        ]),
      ).toBe("not_found: no failed work found for id 999999");
    });

    it("refuses without --yes when nobody can be asked", async () => {
      const failed = await failedJob();
      expect(
        await fails("scrypath.reconcile", [
          "reconcile",
          "posts",
          "--action",
          "retry",
          "--id",
          String(failed),
        ]),
      ).toBe(
        `this command changes production (retry failed work oban:${failed} in ${POST}); pass --yes to confirm when not running in a terminal`,
      );
      expect(await replaysOf(failed)).toEqual([]);
    });

    it("backfill without a configured worker: exit 1 with the exact mix command to run", async () => {
      await failedJob();
      const jobs = await jobCount();
      const message = await fails("scrypath.reconcile", [
        "reconcile",
        "posts",
        "--action",
        "backfill",
        "--yes",
      ]);
      expect(message).toBe(
        `hand_off_not_configured: the bot cannot build documents for ${POST}; run \`mix scrypath.reconcile ${POST} --action backfill --index-prefix ${d.indexPrefix}\` in the application, or configure schemas[].backfillWorker`,
      );
      expect(await jobCount()).toBe(jobs);
      expect((await audits()).at(-1)).toMatchObject({
        action: "scrypath.ops.backfill",
        outcome: "refused",
        reason: "hand_off_not_configured",
      });
    });

    it("backfill with backfillWorker configured: Applied action: backfill, one hand-off job", async () => {
      await failedJob();
      const r = await cli([
        "reconcile",
        "posts",
        "--action",
        "backfill",
        "--yes",
        "--config",
        workerConfigFile,
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.lines).toEqual([
        "Applied action: backfill",
        "Status: accepted",
        "Mode: oban",
        `Reference: ${live}`,
      ]);
      const { rows } = await d.oban.pool.query(
        `SELECT id::int, state::text, queue, worker, args FROM "${d.oban.prefix}".oban_jobs WHERE worker = $1`,
        ["MyApp.Search.BackfillWorker"],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        state: "available",
        queue: "search_maintenance",
        args: {
          schema: `Elixir.${POST}`,
          action: "backfill",
          index: live,
          target_index: `${live}__reindex`,
          requested_by: ACTOR,
        },
      });
      expect(r.stderr).toBe(
        `Handed off as Oban job ${rows[0].id} (MyApp.Search.BackfillWorker) in queue search_maintenance; the application performs the backfill.\n`,
      );
      expect((await audits()).at(-1)).toMatchObject({
        actor: ACTOR,
        action: "scrypath.ops.backfill",
        outcome: "accepted",
      });
      // A second one while the first is unfinished is refused.
      expect(
        await fails("scrypath.reconcile", [
          "reconcile",
          "posts",
          "--action",
          "backfill",
          "--yes",
          "--config",
          workerConfigFile,
        ]),
      ).toMatch(
        new RegExp(
          `^hand_off_pending: a backfill hand-off for ${POST} is already pending: job ${rows[0].id} `,
        ),
      );
    });

    it("reindex when the report does not recommend it: no_action", async () => {
      const jobs = await jobCount();
      expect(await fails("scrypath.reconcile", ["reconcile", "posts", "--action", "reindex", "--yes"])).toBe(
        "no_action: no reindex action is available for this report",
      );
      expect(await jobCount()).toBe(jobs);
      expect((await audits()).at(-1)).toMatchObject({
        action: "scrypath.ops.reindex",
        outcome: "refused",
        reason: "no_action",
      });
    });

    it("an unsupported action is named before anything is asked", async () => {
      const expected = 'unsupported action "nuke"; --action must be one of retry, backfill, reindex, or swap';
      expect(await fails("scrypath.reconcile", ["reconcile", "posts", "--action", "nuke", "--yes"])).toBe(
        expected,
      );
      expect(await fails("scrypath.reconcile", ["reconcile", "posts", "--action", "nuke"])).toBe(expected);
    });

    it("swap: refused while the target has no history (target_unobserved), and audited", async () => {
      await d.meili.createIndex(pageLive, { primaryKey: "id" }).waitTask();
      const tasks = await taskTotal(pageLive);
      const refusal = `target_unobserved: a swap of ${pageLive} with ${pageTarget} would be refused: ${pageTarget} has no task history (build it first)`;
      expect(await fails("scrypath.reconcile", ["reconcile", "pages", "--action", "swap", "--yes"])).toBe(
        refusal,
      );
      expect(await taskTotal(pageLive)).toBe(tasks);
      expect((await audits()).at(-1)).toMatchObject({
        actor: ACTOR,
        action: "scrypath.ops.swap_live",
        schema_module: PAGE,
        outcome: "refused",
        reason: "target_unobserved",
        target: { live_index: pageLive, target_index: pageTarget },
        details: { step: "check", failing: ["target_unobserved"] },
      });
      // At a terminal too, it is refused before anything is asked.
      const asked = await cli(["reconcile", "pages", "--action", "swap"], { confirm: async () => true });
      expect(asked.code).toBe(1);
      expect(asked.asked).toEqual([]);
      expect(asked.stderr).toBe(`scrypath.reconcile failed: ${refusal}\n`);
    });

    it("swap: the question says what it swaps; no means nothing happens", async () => {
      await d.meili
        .index(pageLive)
        .addDocuments([{ id: 1, title: "old" }])
        .waitTask();
      await d.meili.createIndex(pageTarget, { primaryKey: "id" }).waitTask();
      await d.meili
        .index(pageTarget)
        .addDocuments([{ id: 1, title: "rebuilt" }])
        .waitTask();
      const r = await cli(["reconcile", "pages", "--action", "swap"], { confirm: async () => false });
      expect(r.code).toBe(1);
      expect(r.asked).toEqual([
        `About to swap ${pageLive} with ${pageTarget} in ${PAGE}. Swaps the live index ${pageLive} with ${pageTarget} in one step, if every promotion rule still holds when confirmed; ${pageTarget} then holds the previous documents.\nType yes to continue: `,
      ]);
      expect(r.stderr).toBe(
        "scrypath.reconcile failed: cancelled at the confirmation prompt; nothing was done\n",
      );
      expect((await d.meili.index(pageLive).getDocument(1)).title).toBe("old");
    });

    it("swap: swaps live and target when every promotion rule holds", async () => {
      const r = await cli(["reconcile", "pages", "--action", "swap", "--yes"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.lines).toEqual([
        "Applied action: swap",
        "Status: succeeded",
        "Mode: meilisearch",
        `Reference: ${pageLive}`,
      ]);
      expect(r.stderr).toMatch(
        new RegExp(
          `^Swapped ${pageLive} with ${pageTarget} \\(task \\d+\\); ${pageTarget} now holds the previous documents\\.\n$`,
        ),
      );
      expect((await d.meili.index(pageLive).getDocument(1)).title).toBe("rebuilt");
      expect((await d.meili.index(pageTarget).getDocument(1)).title).toBe("old");
      expect((await audits()).at(-1)).toMatchObject({
        actor: ACTOR,
        action: "scrypath.ops.swap_live",
        outcome: "succeeded",
        details: { task_uid: expect.any(Number) },
      });
    });
  });

  // --- settings hot-apply and revert ---

  describe("settings hot-apply and revert", () => {
    const file = (name: string, content: string) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    };
    let good: string;

    beforeAll(() => {
      good = file("good.json", JSON.stringify({ synonyms: { car: ["automobile"] }, stopWords: ["the"] }));
    });

    it("guards, in order; none of them touches the live settings", async () => {
      const settingsBefore = await liveSettings();
      const tasksBefore = await taskTotal(live);
      const missing = join(dir, "missing.json");
      const invalid = file("invalid.json", "{ synonyms: ");
      const array = file("array.json", "[1, 2]");
      const refused = file(
        "refused.json",
        JSON.stringify({ synonyms: { a: ["b"] }, rankingRules: ["words"], distinct_attribute: "slug" }),
      );
      const empty = file("empty.json", "{}");
      const task = "scrypath.settings.hot_apply";
      const hot = ["settings", "hot-apply", "posts"];
      const cases: [string[], string | RegExp][] = [
        [
          [...hot, "--settings-file", good, "--yes"],
          "live settings PATCH requires --ack-live acknowledgement",
        ],
        [[...hot, "--yes"], "live settings PATCH requires --ack-live acknowledgement"],
        [[...hot, "--settings-file", good], "live settings PATCH requires --ack-live acknowledgement"],
        [[...hot, "--ack-live", "--yes"], "--settings-file PATH is required"],
        [[...hot, "--ack-live"], "--settings-file PATH is required"],
        [
          [...hot, "--ack-live", "--yes", "--settings-file", missing],
          new RegExp(`^cannot read ${missing}: ENOENT`),
        ],
        [
          [...hot, "--ack-live", "--yes", "--settings-file", invalid],
          new RegExp(`^${invalid} is not valid JSON: `),
        ],
        [
          [...hot, "--ack-live", "--yes", "--settings-file", array],
          "settings JSON must be an object at the top level",
        ],
        [
          [...hot, "--ack-live", "--yes", "--settings-file", refused],
          "unsupported_hot_apply_keys: only synonyms, stop_words and typo_tolerance can be hot-applied; refused keys: distinct_attribute, rankingRules",
        ],
        [
          [...hot, "--ack-live", "--yes", "--settings-file", empty],
          "empty_hot_apply_payload: the settings payload is empty; give synonyms, stop_words or typo_tolerance",
        ],
        // A file that cannot be applied is reported before the confirmation question.
        [
          [...hot, "--ack-live", "--settings-file", array],
          "settings JSON must be an object at the top level",
        ],
        [[...hot, "--ack-live", "--settings-file", empty], /^empty_hot_apply_payload: /],
        [
          [...hot, "--ack-live", "--settings-file", good],
          `this command changes production (hot-apply settings to ${live} in ${POST}); pass --yes to confirm when not running in a terminal`,
        ],
      ];
      for (const [argv, expected] of cases) {
        const message = await fails(task, argv);
        if (typeof expected === "string") expect(message, argv.join(" ")).toBe(expected);
        else expect(message, argv.join(" ")).toMatch(expected);
      }
      const no = await cli([...hot, "--ack-live", "--settings-file", good], { confirm: async () => false });
      expect(no.code).toBe(1);
      expect(no.stderr).toBe(`${task} failed: cancelled at the confirmation prompt; nothing was done\n`);
      expect(await liveSettings()).toEqual(settingsBefore);
      expect(await taskTotal(live)).toBe(tasksBefore);
      const refusals = (await audits()).filter((a) => a.action === "scrypath.ops.hot_apply");
      // Every refusal is audited, also those found while reading the command line and the file
      // (only the confirmation question, which nobody could answer, is not a refusal of the request).
      expect(refusals.map((a) => [a.outcome, a.reason])).toEqual([
        ["refused", "live_ack_required"],
        ["refused", "live_ack_required"],
        ["refused", "live_ack_required"],
        ["refused", "settings_file_required"],
        ["refused", "settings_file_required"],
        ["refused", "settings_file_unreadable"],
        ["refused", "invalid_settings_json"],
        ["refused", "invalid_settings_json"],
        ["refused", "unsupported_hot_apply_keys"],
        ["refused", "empty_hot_apply_payload"],
        ["refused", "invalid_settings_json"],
        ["refused", "empty_hot_apply_payload"],
      ]);
      expect(refusals[0]).toMatchObject({ schema_module: POST, context: { via: "cli" } });
    });

    let changeId = 0;

    it("applies: task uid=<n> status=succeeded, a revert hint, the live settings changed", async () => {
      const r = await cli(["settings", "hot-apply", "posts", "--settings-file", good, "--ack-live", "--yes"]);
      expect(r.code, r.stderr).toBe(0);
      const match = /^task uid=(\d+) status=succeeded\n$/.exec(r.stdout);
      expect(match, r.stdout).not.toBeNull();
      const uid = Number(match?.[1]);
      const task = await d.meili.tasks.getTask(uid);
      expect(task).toMatchObject({ indexUid: live, type: "settingsUpdate", status: "succeeded" });
      const hint = new RegExp(
        `^Settings change (\\d+) on ${live}; undo it with: scrypath-bot settings revert (\\d+)\n$`,
      ).exec(r.stderr);
      expect(hint, r.stderr).not.toBeNull();
      expect(hint?.[1]).toBe(hint?.[2]);
      changeId = Number(hint?.[1]);
      const settings = await liveSettings();
      expect(settings.synonyms).toEqual({ car: ["automobile"] });
      expect(settings.stopWords).toEqual(["the"]);
      expect(settings.rankingRules).toEqual(["words", "typo"]);
      expect((await audits()).at(-1)).toMatchObject({
        actor: ACTOR,
        action: "scrypath.ops.hot_apply",
        outcome: "succeeded",
        details: { task_uid: uid, change_id: changeId },
      });
    });

    it("reverts: task uid=<n> status=succeeded, settings restored; a second revert is refused", async () => {
      expect(changeId).toBeGreaterThan(0);
      const r = await cli(["settings", "revert", String(changeId), "--yes"]);
      expect(r.code, r.stderr).toBe(0);
      const match = /^task uid=(\d+) status=succeeded\n$/.exec(r.stdout);
      expect(match, r.stdout).not.toBeNull();
      expect(r.stderr).toBe(`Reverted settings change ${changeId} on ${live}.\n`);
      const settings = await liveSettings();
      expect(settings.synonyms).toEqual({});
      expect(settings.stopWords).toEqual(["a"]);
      expect(settings.rankingRules).toEqual(["words", "typo"]);

      expect(
        await fails("scrypath.settings.revert", ["settings", "revert", String(changeId), "--yes"]),
      ).toMatch(
        new RegExp(
          `^already_reverted: settings change ${changeId} was already reverted by ${ACTOR} at \\d{4}-`,
        ),
      );
      expect((await audits()).at(-1)).toMatchObject({
        action: "scrypath.ops.hot_apply",
        outcome: "refused",
        reason: "already_reverted",
      });
    });

    it("--json for hot-apply and revert", async () => {
      const applied = await cli([
        "settings",
        "hot-apply",
        "posts",
        "--settings-file",
        good,
        "--ack-live",
        "--yes",
        "--json",
      ]);
      expect(applied.code, applied.stderr).toBe(0);
      const doc = JSON.parse(applied.stdout);
      expect(doc).toEqual({
        change_id: expect.any(Number),
        index: live,
        task: { uid: expect.any(Number), status: "succeeded", error: null },
      });
      const reverted = await cli(["settings", "revert", String(doc.change_id), "--yes", "--json"]);
      expect(reverted.code, reverted.stderr).toBe(0);
      expect(JSON.parse(reverted.stdout)).toMatchObject({
        change_id: doc.change_id,
        task: { status: "succeeded" },
      });
      expect((await liveSettings()).stopWords).toEqual(["a"]);
    });

    it("a bad or unknown change id is a clear error, before anything is asked", async () => {
      const before = (await audits()).length;
      for (const extra of [[], ["--yes"]]) {
        expect(await fails("scrypath.settings.revert", ["settings", "revert", "abc", ...extra])).toBe(
          'invalid settings change id "abc"',
        );
      }
      // A change already reverted is refused before the --yes question, not after it.
      expect(await fails("scrypath.settings.revert", ["settings", "revert", String(changeId)])).toMatch(
        new RegExp(
          `^already_reverted: settings change ${changeId} was already reverted by ${ACTOR} at \\d{4}-`,
        ),
      );
      expect(await fails("scrypath.settings.revert", ["settings", "revert", "999999", "--yes"])).toBe(
        "no settings change 999999; list them with the audit log",
      );
      expect(await fails("scrypath.settings.revert", ["settings", "revert", "--yes"])).toBe(
        "expected one settings change id, for example `12`",
      );
      // Each refused id is audited, as the operator's own refusals are.
      const added = (await audits()).slice(before);
      expect(added.map((a) => [a.action, a.outcome, a.reason, a.target])).toEqual([
        ["scrypath.ops.hot_apply", "refused", "invalid_change_id", { revert_of: "abc" }],
        ["scrypath.ops.hot_apply", "refused", "invalid_change_id", { revert_of: "abc" }],
        [
          "scrypath.ops.hot_apply",
          "refused",
          "already_reverted",
          { keys: ["stopWords", "synonyms"], revert_of: changeId },
        ],
        ["scrypath.ops.hot_apply", "refused", "unknown_change", { revert_of: "999999" }],
      ]);
      expect(added[3]?.details).toMatchObject({
        message: "unknown_change: no settings change 999999; list them with the audit log",
      });
    });
  });

  // --- the audit listing after all of the above ---

  describe("audit", () => {
    it("lists every attempt newest first, with the CLI actor, action and outcome", async () => {
      const r = await cli(["audit", "--limit", "200"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      const rows = await audits();
      expect(r.lines).toHaveLength(rows.length);
      const line = /^(\S+Z) (\S+) (\S+) (\S+) (\S+)/;
      const parsed = r.lines.map((l) => {
        const m = line.exec(l);
        expect(m, l).not.toBeNull();
        return { at: m?.[1] as string, actor: m?.[2], action: m?.[3], schema: m?.[4], outcome: m?.[5] };
      });
      expect(new Set(parsed.map((p) => p.actor))).toEqual(new Set([ACTOR]));
      expect(new Set(parsed.map((p) => p.action))).toEqual(
        new Set([
          "scrypath.ops.failed_work_retry",
          "scrypath.ops.hot_apply",
          "scrypath.ops.backfill",
          "scrypath.ops.reindex",
          "scrypath.ops.swap_live",
        ]),
      );
      expect(new Set(parsed.map((p) => p.outcome))).toEqual(new Set(["accepted", "refused", "succeeded"]));
      const times = parsed.map((p) => Date.parse(p.at));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      // The newest entry is the refused revert of an unknown change; the newest success is the
      // last revert (a succeeded hot_apply naming what it reverted).
      expect(r.lines[0]).toMatch(new RegExp(`^\\S+Z ${ACTOR} scrypath\\.ops\\.hot_apply \\S+ refused `));
      expect(r.lines[0]).toContain("reason=unknown_change");
      expect(r.lines[0]).toContain("revert_of=999999");
      const lastSuccess = r.lines.find((l) => / succeeded /.test(l));
      expect(lastSuccess).toMatch(
        new RegExp(`^\\S+Z ${ACTOR} scrypath\\.ops\\.hot_apply ${POST} succeeded `),
      );
      expect(lastSuccess).toContain("revert_of=");
      expect(r.lines.some((l) => / scrypath\.ops\.swap_live MyApp\.Blog\.Page succeeded /.test(l))).toBe(
        true,
      );
      expect(
        r.lines.some((l) =>
          / scrypath\.ops\.backfill MyApp\.Blog\.Post refused reason=hand_off_not_configured/.test(l),
        ),
      ).toBe(true);

      const json = await cli(["audit", "--json", "--limit", "200"]);
      const docs = JSON.parse(json.stdout) as { id: number; actor: string }[];
      expect(docs.map((e) => e.id)).toEqual(rows.map((e) => e.id).reverse());
    });

    it("--limit 1 prints one line; a schema argument filters", async () => {
      const one = await cli(["audit", "--limit", "1"]);
      expect(one.code).toBe(0);
      expect(one.lines).toHaveLength(1);
      const pages = await cli(["audit", "pages"]);
      expect(pages.lines.length).toBeGreaterThan(0);
      for (const l of pages.lines) expect(l).toContain(` ${PAGE} `);
      expect(pages.lines[0]).toContain(" scrypath.ops.swap_live MyApp.Blog.Page succeeded ");
      const posts = await cli(["audit", "posts", "--limit", "500"]);
      expect(posts.code).toBe(0);
      expect(posts.lines.length).toBeGreaterThan(0);
      for (const l of posts.lines) expect(l).toContain(` ${POST} `);
    });
  });
});

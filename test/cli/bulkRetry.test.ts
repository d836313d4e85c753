// `scrypath-bot retry <Schema> --class C [--since D] [--state S] [--yes]` end to end, in-process,
// over the real Postgres: the blast radius on stderr, the refusal without --yes when nobody can be
// asked, the prompt, progress per batch, one stdout line per outcome group, exit codes, and
// refusals (over the cap, nothing matches, unknown class) audited or refused as usage errors.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { runCaptured } from "../support/cli.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const TRANSPORT = "** (Req.TransportError) timeout connecting to 127.0.0.1:7700 token=sk_live_abcdef123456";

describe("scrypath-bot retry --class (bulk retry)", () => {
  let d: TestDeployment;
  let dir: string;
  let live: string;

  const write = (name: string, access: Record<string, unknown> = {}) => {
    const file = join(dir, name);
    writeFileSync(file, stringify({ ...d.raw, access }));
    return file;
  };

  beforeEach(async () => {
    d = await testDeployment([postsSchema()]);
    live = `${d.indexPrefix}_post`;
    dir = mkdtempSync(join(tmpdir(), "scrypath-cli-bulk-"));
  });
  afterEach(async () => {
    await d?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (argv: string[], options: { confirm?: () => Promise<boolean>; config?: string } = {}) =>
    runCaptured(argv, {
      env: { SCRYPATH_BOT_CONFIG: options.config ?? write("bot.yml") },
      ...(options.confirm ? { confirm: options.confirm } : {}),
    });

  const failed = async (n: number, state = "discarded") => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(
        await insertJob(d.oban.pool, d.oban.prefix, {
          state,
          queue: QUEUE,
          args: upsertArgs(POST, live, [i + 1]),
          errors: [obanError(TRANSPORT, 1, new Date(Date.UTC(2026, 10, 20, 10, i)))],
          attempt: 3,
          maxAttempts: 3,
          attemptedAt: new Date(Date.UTC(2026, 10, 20, 10, i)),
        }),
      );
    }
    return ids;
  };
  const replays = async () =>
    (
      await d.oban.pool.query(
        `SELECT (meta->'scrypath_bot'->>'replay_of')::int AS of FROM "${d.oban.prefix}".oban_jobs WHERE meta ? 'scrypath_bot' ORDER BY 1`,
      )
    ).rows.map((r) => r.of as number);
  const audits = async () =>
    (
      await d.oban.pool.query(
        `SELECT outcome, reason, details FROM "${d.config.state.schema}".audit_log ORDER BY id`,
      )
    ).rows;

  it("--yes: blast radius and progress on stderr, one line per outcome group on stdout, exit 0", async () => {
    const ids = await failed(3);
    await d.operator.retrySyncWork("posts", ids[0] as number, { id: "U_ALICE" });
    await failed(1, "retryable");
    const r = await cli(["retry", "posts", "--class", "transport", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        "Retried failed work of class transport (2 jobs)",
        "Replayed: 2",
        "Mode: oban",
        `Reference: ${live}`,
        "",
      ].join("\n"),
    );
    const err = r.stderr.split("\n");
    expect(err[0]).toBe(`About to retry 2 failed jobs of class transport in ${POST} (state terminal).`);
    expect(err).toContain("By class: 2 transport; by state: 2 discarded.");
    expect(err).toContain("Oldest failure: 2026-11-20T10:01:00Z; newest: 2026-11-20T10:02:00Z.");
    expect(err).toContain("Excluded: 1 already replayed (a single retry would refuse them).");
    expect(err).toContain(
      `What will happen: 2 new Oban jobs in queue ${QUEUE}, available now; the failed jobs stay as they are.`,
    );
    expect(err).toContain("Retried 2 of 2");
    // Sample lines carry the last error, redacted.
    expect(r.stderr).toContain("Req.TransportError");
    expect(r.stderr).not.toContain("sk_live_abcdef123456");
    expect(await replays()).toEqual(ids);

    // Again: nothing left to retry, refused (exit 1) and audited.
    const again = await cli(["retry", "posts", "--class", "transport", "--yes"]);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe("");
    expect(again.stderr).toMatch(/^scrypath\.retry failed: nothing_to_retry: .*3 already replayed/);
    expect((await audits()).at(-1)).toMatchObject({ outcome: "refused", reason: "nothing_to_retry" });
  });

  it("refuses without --yes when nobody can be asked, and asks at a terminal", async () => {
    await failed(2);
    const refused = await cli(["retry", "posts", "--class", "transport"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `scrypath.retry failed: this command changes production (retry 2 failed jobs of class transport in ${POST}); pass --yes to confirm when not running in a terminal\n`,
    );
    expect(await replays()).toEqual([]);

    const no = await cli(["retry", "posts", "--class", "transport"], { confirm: async () => false });
    expect(no.code).toBe(1);
    expect(no.stderr).toContain("cancelled at the confirmation prompt; nothing was done");
    expect(await replays()).toHaveLength(0);

    const yes = await cli(["retry", "posts", "--class", "transport", "--state", "all"], {
      confirm: async () => true,
    });
    expect(yes.code, yes.stderr).toBe(0);
    expect(await replays()).toHaveLength(2);
  });

  it("refuses over the cap (audited), an unknown class and a bad --since, changing nothing", async () => {
    await failed(3);
    const capped = await cli(["retry", "posts", "--class", "transport", "--yes"], {
      config: write("capped.yml", { bulkRetryLimit: 2 }),
    });
    expect(capped.code).toBe(1);
    expect(capped.stderr).toContain("bulk_limit: 3 failed jobs of class transport match");
    expect(capped.stderr).toContain("narrow the filter with --since or --state");
    expect((await audits()).at(-1)).toMatchObject({ outcome: "refused", reason: "bulk_limit" });

    const unknown = await cli(["retry", "posts", "--class", "nope", "--yes"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^scrypath\.retry failed: --class must be one of /);
    const since = await cli(["retry", "posts", "--class", "transport", "--since", "yesterday", "--yes"]);
    expect(since.code).toBe(1);
    expect(since.stderr).toContain("--since expects a duration such as 2h");
    const both = await cli(["retry", "posts", "--class", "transport", "--id", "5", "--yes"]);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain("pass either --id (one job) or --class (a bulk retry), not both");
    expect(await replays()).toEqual([]);
  });

  it("--since keeps only recent failures", async () => {
    await failed(2);
    const r = await cli(["retry", "posts", "--class", "transport", "--since", "2h", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nothing_to_retry: no failed terminal jobs of class transport can be retried/);
  });
});

// The mutating verbs only ask: `retry`, `reconcile --action`, `settings hot-apply|revert` parse into
// a request (or a modal) for the listener; nothing reaches the operator. `audit` reads the log.
import { describe, expect, it } from "vitest";
import { helpEntries, runSlashCommand } from "../../commands/index.ts";
import type { CommandDeps } from "../../commands/types.ts";
import { parseConfig } from "../../src/config.ts";
import type { AuditRow, Operator } from "../../src/operator/index.ts";
import { mutationRequest } from "../../src/operator/requests.ts";
import { expectValidMessage } from "../support/blockKit.ts";

const CONFIG_RAW = {
  meilisearch: { url: "http://127.0.0.1:9" },
  database: { url: "postgres://bot@127.0.0.1:9/app" },
  schemas: [{ module: "MyApp.Blog.Post", alias: "posts", syncMode: "oban", obanQueue: "search_sync" }],
  access: { channels: ["C0ONCALL01"] },
};
const CONFIG = parseConfig(CONFIG_RAW, {});
const who = { userId: "U0ALICE001", channelId: "C0ONCALL01" };

/** Alice and Bob hold the operator role. */
const operatorRole = async (userId: string) =>
  ["U0ALICE001", "U0BOB00002"].includes(userId)
    ? ({ allowed: true } as const)
    : ({ allowed: false, reason: "not_an_operator", message: "this needs the operator role" } as const);

function deps(operator: Partial<Operator> = {}): { deps: CommandDeps; calls: string[] } {
  const calls: string[] = [];
  // Every operator call is recorded: requests must not make any.
  const proxy = new Proxy(
    { context: { config: CONFIG }, ...operator },
    {
      get(target, key) {
        if (key !== "context" && typeof key === "string") calls.push(key);
        return (target as Record<string | symbol, unknown>)[key];
      },
    },
  ) as unknown as Operator;
  return {
    deps: { operator: proxy, config: CONFIG, now: () => new Date("2026-11-24T12:00:00Z"), operatorRole },
    calls,
  };
}

async function run(text: string, operator: Partial<Operator> = {}) {
  const d = deps(operator);
  const result = await runSlashCommand(text, who, d.deps);
  expectValidMessage(result.message);
  return { ...result, calls: d.calls };
}

describe("mutating verbs become requests, never actions", () => {
  it.each([
    ["retry posts 601", { kind: "retry", schema: "posts", target: "601" }],
    ["retry posts oban:601", { kind: "retry", schema: "posts", target: "oban:601" }],
    ["retry posts --id 601", { kind: "retry", schema: "posts", target: "601" }],
    [
      "reconcile posts --action retry --id 601",
      { kind: "action", schema: "posts", action: "retry", id: "601", targetIndex: null },
    ],
    ["reconcile posts --action backfill", { kind: "action", schema: "posts", action: "backfill", id: null }],
    [
      "reconcile posts --action reindex --target-index blog_post__v2",
      { kind: "action", schema: "posts", action: "reindex", targetIndex: "blog_post__v2" },
    ],
    ["reconcile posts --action swap", { kind: "action", schema: "posts", action: "swap" }],
    ["settings revert 12", { kind: "revert", changeId: 12 }],
    // A bulk retry: the state defaults to terminal; --since is made absolute from the clock (12:00).
    [
      "retry posts --class transport",
      { kind: "bulk_retry", schema: "posts", reasonClass: "transport", state: "terminal", since: null },
    ],
    [
      "retry posts --class transport --since 2h --state all --source oban",
      {
        kind: "bulk_retry",
        schema: "posts",
        reasonClass: "transport",
        state: "all",
        since: "2026-11-24T10:00:00.000Z",
        source: "oban",
      },
    ],
    [
      "retry posts --class validation --since 2026-11-20T08:00:00Z --state retrying",
      {
        kind: "bulk_retry",
        reasonClass: "validation",
        state: "retrying",
        since: "2026-11-20T08:00:00.000Z",
      },
    ],
  ])("%s", async (text, expected) => {
    const result = await run(text);
    expect(result.outcome).toBe("ok");
    expect(result.confirmation).toMatchObject(expected);
    expect(mutationRequest.safeParse(result.confirmation).success).toBe(true);
    expect(result.share).toBe(false);
    expect(result.calls).toEqual([]);
  });

  it("opens a modal for settings hot-apply, with the schema resolved to its module", async () => {
    const result = await run("settings hot-apply posts");
    expect(result.modal).toEqual({ kind: "hot_apply", schema: "MyApp.Blog.Post" });
    expect(result.confirmation).toBeUndefined();
    expect(result.calls).toEqual([]);
  });

  it.each([
    ["retry", /expected a schema and a failed job id/],
    ["retry posts", /expected a schema and a failed job id/],
    ["retry posts 601 602", /unexpected extra words: 602/],
    ["retry posts abc", /job id such as/],
    ["retry posts meilisearch:x", /job id such as/],
    ["retry posts 601 --share", /unknown option --share/],
    ["retry posts 601 --class transport", /either a job id \(one job\) or --class/],
    ["retry posts --id 601 --class transport", /either a job id \(one job\) or --class/],
    ["retry posts --since 2h", /--since filters a bulk retry: pass it with --class/],
    ["retry posts 601 --state all", /--state filters a bulk retry: pass it with --class/],
    ["retry posts --class bogus", /--class must be one of/],
    ["retry posts --class transport --since yesterday", /--since expects a duration such as 2h/],
    ["retry posts --class transport --state failed", /--state must be one of terminal, retrying, all/],
    ["retry posts --class transport --source meilisearch", /replays queue rows only: --source oban/],
    ["retry --class transport", /expected a schema/],
    ["reconcile posts --action retry", /--action retry needs --id/],
    ["reconcile posts --action delete", /--action must be one of retry, backfill, reindex, swap/],
    ["reconcile posts --id 601", /--id only goes with --action retry/],
    ["settings", /sub-command/],
    // The sub-command was given: what is missing is its schema (issue 12).
    [
      "settings hot-apply",
      /^expected a schema, for example `\/scrypath settings hot-apply posts`; configured schemas: /,
    ],
    ["settings revert", /^expected a settings change id/],
    ["settings frobnicate posts", /unknown settings sub-command `frobnicate`/],
    ["settings revert abc", /settings change id/],
    ["settings revert 0", /settings change id/],
    ["audit posts extra", /at most one schema/],
    ["audit --limit 500", /--limit must be between 1 and 200/],
  ])("answers %j with usage", async (text, message) => {
    const result = await run(text);
    expect(result.outcome).toBe("usage");
    expect(result.confirmation).toBeUndefined();
    expect(result.message.text).toMatch(message);
    expect(result.calls).toEqual([]);
  });

  it("suggests the schema for an unknown one before any modal opens", async () => {
    const result = await run("settings hot-apply postz");
    expect(result.outcome).toBe("usage");
    expect(result.modal).toBeUndefined();
    expect(result.message.text).toContain("unknown schema");
  });

  it("refuses a channel outside access.channels like every other verb", async () => {
    const d = deps();
    const result = await runSlashCommand("retry posts 601", { ...who, channelId: "C0ELSEWHERE" }, d.deps);
    expect(result.outcome).toBe("denied");
    expect(result.confirmation).toBeUndefined();
  });

  it("lists the new verbs in help, marked as changing state", () => {
    const entries = helpEntries();
    for (const name of ["retry", "settings", "reconcile --action"]) {
      expect(entries.find((e) => e.name === name)).toMatchObject({ mutates: true });
    }
    expect(entries.find((e) => e.name === "audit")).toMatchObject({ mutates: false });
    expect(entries.find((e) => e.name === "reconcile")).toMatchObject({ mutates: false });
  });
});

describe("/scrypath audit", () => {
  const row = (id: number, outcome: string): AuditRow => ({
    id,
    at: new Date(`2026-11-24T11:0${id}:00Z`),
    actor: "U0BOB00002",
    action: "scrypath.ops.failed_work_retry",
    schema: "MyApp.Blog.Post",
    index: "blog_post",
    target: { source: "oban", id: 601 },
    outcome,
    reason: null,
    details: {},
    context: { via: "slack" },
  });

  it("reads the log for a schema, resolved to its module, with the limit", async () => {
    const asked: unknown[] = [];
    const result = await run("audit posts --limit 5", {
      auditLog: async (options) => {
        asked.push(options);
        return [row(1, "requested"), row(2, "confirmed")];
      },
    });
    expect(result.outcome).toBe("ok");
    expect(asked).toEqual([{ schema: "MyApp.Blog.Post", limit: 5 }]);
    expect(JSON.stringify(result.message)).toContain("confirmed");
  });

  it("reads every schema by default, 20 entries", async () => {
    const asked: unknown[] = [];
    await run("audit", {
      auditLog: async (options) => {
        asked.push(options);
        return [];
      },
    });
    expect(asked).toEqual([{ schema: null, limit: 20 }]);
  });

  it("is for operators by default: anyone else is refused before the log is read", async () => {
    for (const role of [operatorRole, undefined]) {
      const read: unknown[] = [];
      const d = deps({
        auditLog: async (options) => {
          read.push(options);
          return [];
        },
      });
      const result = await runSlashCommand(
        "audit --share",
        { ...who, userId: "U0DAVE0004" },
        { ...d.deps, operatorRole: role },
      );
      expect(result.outcome).toBe("denied");
      expect(result.share).toBe(false);
      // The person refused is told what the verb needs, not the name of a config key.
      expect(JSON.stringify(result.message)).toContain(
        "`/scrypath audit` is for operators in this workspace",
      );
      expect(JSON.stringify(result.message)).not.toContain("access.");
      expect(read).toEqual([]);
    }
  });

  it("is open to everyone in the allowed channels with access.auditReaders: everyone", async () => {
    const config = parseConfig(
      { ...CONFIG_RAW, access: { channels: ["C0ONCALL01"], auditReaders: "everyone" } },
      {},
    );
    expect(config.access.auditReaders).toBe("everyone");
    const result = await runSlashCommand(
      "audit",
      { ...who, userId: "U0DAVE0004" },
      {
        ...deps({ auditLog: async () => [] }).deps,
        config,
        operatorRole: undefined,
      },
    );
    expect(result.outcome).toBe("ok");
  });
});

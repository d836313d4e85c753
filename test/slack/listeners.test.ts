// Listener units: the real listener functions with fake ack/respond and a fake operator. No
// Bolt, no network.
import type { BlockAction, RespondArguments, SlashCommand } from "@slack/bolt";
import { RespondError } from "@slack/bolt";
import { describe, expect, it, vi } from "vitest";
import { blockActionsPayload } from "../../devkit/slackRequests.ts";
import { parseConfig } from "../../src/config.ts";
import { OperatorError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import { createMetrics } from "../../src/metrics.ts";
import type { Operator } from "../../src/operator/index.ts";
import { VERBS } from "../../src/slack/labels.ts";
import { ignoredAction, OTHER_ACTIONS, openAction } from "../../src/slack/listeners/actions.ts";
import { COMMAND_PATTERN, scrypathCommand } from "../../src/slack/listeners/commands.ts";
import {
  MUTATION_ACTION_IDS,
  register as registerConfirmations,
  requestFromValue,
} from "../../src/slack/listeners/confirmations.ts";
import type { ListenerDeps } from "../../src/slack/listeners/deps.ts";
import { ACTIONS, type BulkRetryRequestValue, REQUEST_ACTIONS } from "../../views/types.ts";

const CONFIG = parseConfig(
  {
    meilisearch: { url: "http://127.0.0.1:9" },
    database: { url: "postgres://bot:pw@127.0.0.1:9/app" },
    schemas: [{ module: "MyApp.Blog.Post", alias: "posts" }],
    access: { channels: ["C0ONCALL01"] },
  },
  {},
);

function meiliDown(): OperatorError {
  return new OperatorError(
    "meilisearch_unreachable",
    "Meilisearch at http://127.0.0.1:9 is unreachable (ECONNREFUSED); check meilisearch.url",
    "meilisearch",
  );
}

function harness(operator: Partial<Operator> = {}, workingAfterMs = 60_000) {
  const events: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const posted: RespondArguments[] = [];
  const metrics = createMetrics({ defaultMetrics: false });
  const deps: ListenerDeps = {
    commands: {
      operator: { context: { config: CONFIG }, ...operator } as unknown as Operator,
      config: CONFIG,
      now: () => new Date("2026-11-20T10:00:00Z"),
    },
    logger: createLogger({ write: (line) => lines.push(JSON.parse(line)) }),
    metrics,
    verbs: VERBS,
    workingAfterMs,
    // These tests click no mutation buttons; test/slack/confirm*.test.ts covers that side.
    mutations: {} as ListenerDeps["mutations"],
  };
  const ack = vi.fn(async () => {
    events.push("ack");
  });
  const respond = vi.fn(async (message: string | RespondArguments) => {
    events.push("respond");
    posted.push(typeof message === "string" ? { text: message } : message);
    return new Response("ok");
  });
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
    expect(check()).toBe(true);
  };
  return { deps, events, lines, posted, metrics, ack, respond, until };
}

function slash(text: string, overrides: Partial<SlashCommand> = {}): SlashCommand {
  return {
    token: "t",
    command: "/scrypath",
    text,
    response_url: "https://hooks.slack.com/commands/T/1/x",
    trigger_id: "1.2.3",
    user_id: "U0ALICE001",
    user_name: "alice",
    team_id: "T0TEAM000",
    team_domain: "scrypath-test",
    channel_id: "C0ONCALL01",
    channel_name: "oncall",
    api_app_id: "A0SCRYPATH",
    ...overrides,
  };
}

function click(
  actionId: string,
  value: string,
  ephemeral = true,
): { body: BlockAction; action: BlockAction["actions"][number] } {
  const body = blockActionsPayload({
    actionId,
    value,
    responseUrl: "https://hooks.slack.com/actions/T/1/x",
    ephemeral,
  }) as unknown as BlockAction;
  return { body, action: body.actions[0] as BlockAction["actions"][number] };
}

async function counter(h: ReturnType<typeof harness>, name: string): Promise<string> {
  const metric = await h.metrics.registry.getSingleMetricAsString(name);
  return metric;
}

describe("the /scrypath command listener", () => {
  it("acknowledges first, once and with no body, before any work", async () => {
    const h = harness({
      fleetPosture: async () => {
        h.events.push("work");
        throw meiliDown();
      },
    });
    await scrypathCommand(h.deps)({ command: slash("status"), ack: h.ack, respond: h.respond });
    expect(h.events).toEqual(["ack", "work", "respond"]);
    expect(h.ack).toHaveBeenCalledTimes(1);
    expect(h.ack.mock.calls[0]).toEqual([]);
    expect(h.posted[0]).toMatchObject({ response_type: "ephemeral", replace_original: false });
    expect(h.posted[0]?.text).toContain("Meilisearch");
    expect(await counter(h, "scrypath_bot_backend_errors_total")).toContain('backend="meilisearch"} 1');
  });

  it("answers help without touching the operator", async () => {
    const h = harness();
    await scrypathCommand(h.deps)({ command: slash("help"), ack: h.ack, respond: h.respond });
    expect(h.events).toEqual(["ack", "respond"]);
    expect((h.posted[0] as { blocks?: unknown[] }).blocks?.length).toBeGreaterThan(0);
    expect(h.posted[0]?.text).toBeTruthy();
  });

  it("still answers when the ack fails, and logs the failure", async () => {
    const h = harness();
    const ack = vi.fn(async () => {
      throw new Error("socket closed");
    });
    await scrypathCommand(h.deps)({ command: slash("help"), ack, respond: h.respond });
    expect(h.posted).toHaveLength(1);
    expect(h.lines.some((l) => l.msg === "ack failed" && l.level === "warn")).toBe(true);
  });

  it("posts a working note when slow, then replaces it with the answer", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const h = harness(
      {
        indexContractDrift: async () => {
          h.events.push("work");
          await gate;
          throw meiliDown();
        },
      },
      5,
    );
    const done = scrypathCommand(h.deps)({ command: slash("drift posts"), ack: h.ack, respond: h.respond });
    await h.until(() => h.posted.length === 1);
    expect(h.posted[0]).toMatchObject({ response_type: "ephemeral", replace_original: false });
    expect(h.posted[0]?.text).toContain("Still working on /scrypath drift posts");
    release();
    await done;
    expect(h.events).toEqual(["ack", "work", "respond", "respond"]);
    expect(h.posted[1]).toMatchObject({ response_type: "ephemeral", replace_original: true });
    expect(h.posted[1]?.text).toContain("Meilisearch");
  });

  it("answers a bug with one sentence and a request id, and logs the stack", async () => {
    const h = harness({
      fleetPosture: async () => {
        throw new TypeError("cannot read properties of undefined (reading 'x') token=abc123secret");
      },
    });
    await scrypathCommand(h.deps)({ command: slash("status"), ack: h.ack, respond: h.respond });
    expect(h.posted).toHaveLength(1);
    const answer = h.posted[0] as RespondArguments;
    const id = /request id (r[0-9a-f]{12})/.exec(answer.text ?? "")?.[1];
    expect(id).toBeDefined();
    const shown = JSON.stringify(answer);
    expect(shown).not.toContain("TypeError");
    expect(shown).not.toContain("reading 'x'");
    expect(shown).not.toMatch(/\n\s+at /);
    expect(answer).toMatchObject({ response_type: "ephemeral", replace_original: false });
    const logged = h.lines.find((l) => l.msg === "unexpected error while answering");
    expect(logged).toMatchObject({ level: "error", requestId: id });
    const error = logged?.error as { stack: string; message: string };
    expect(error.stack).toContain("TypeError");
    expect(error.message).not.toContain("abc123secret");
    expect(await counter(h, "scrypath_bot_unexpected_errors_total")).toContain('where="command"} 1');
    expect(await counter(h, "scrypath_bot_commands_total")).toContain('verb="status",outcome="error"} 1');
  });

  it("logs and counts a failing respond, and never throws", async () => {
    const h = harness();
    const respond = vi.fn(async () => {
      throw new RespondError("Failed to respond to the response_url: 410 Gone", 410);
    });
    await expect(
      scrypathCommand(h.deps)({ command: slash("help"), ack: h.ack, respond }),
    ).resolves.toBeUndefined();
    expect(respond).toHaveBeenCalledTimes(1);
    expect(
      h.lines.some((l) => l.level === "warn" && l.msg === "could not post the answer to response_url"),
    ).toBe(true);
    expect(await counter(h, "scrypath_bot_slack_api_errors_total")).toContain(
      'method="response_url",reason="http_410"} 1',
    );
  });

  it("is registered for /scrypath and suffixed copies only", () => {
    expect(COMMAND_PATTERN.test("/scrypath")).toBe(true);
    expect(COMMAND_PATTERN.test("/scrypath-staging")).toBe(true);
    expect(COMMAND_PATTERN.test("/scrypathx")).toBe(false);
    expect(COMMAND_PATTERN.test("/deploy")).toBe(false);
  });
});

describe("the read-only button listener", () => {
  it("replaces the ephemeral message it is on for a page button", async () => {
    const h = harness({
      failedSyncWork: async () => {
        h.events.push("work");
        throw meiliDown();
      },
    });
    const { body, action } = click(ACTIONS.page, JSON.stringify({ schema: "posts", page: 2, cursor: "o10" }));
    await openAction(h.deps)({ ack: h.ack, body, action, respond: h.respond });
    expect(h.events[0]).toBe("ack");
    expect(h.ack).toHaveBeenCalledTimes(1);
    expect(h.posted[0]).toMatchObject({ response_type: "ephemeral", replace_original: true });
    // A backend failure on a page click is a backend error answer, not a bug.
    expect(h.posted[0]?.text).toContain("Meilisearch");
    expect(h.lines.some((l) => l.level === "error")).toBe(false);
  });

  it("posts a new ephemeral message for a page button on a shared message", async () => {
    const h = harness({ failedSyncWork: async () => Promise.reject(meiliDown()) });
    const { body, action } = click(ACTIONS.page, JSON.stringify({ schema: "posts", page: 2 }), false);
    await openAction(h.deps)({ ack: h.ack, body, action, respond: h.respond });
    expect(h.posted[0]).toMatchObject({ response_type: "ephemeral", replace_original: false });
  });

  it("posts a new ephemeral message for the open buttons", async () => {
    const h = harness({ indexContractDrift: async () => Promise.reject(meiliDown()) });
    const { body, action } = click(ACTIONS.openDrift, JSON.stringify({ schema: "posts" }));
    await openAction(h.deps)({ ack: h.ack, body, action, respond: h.respond });
    expect(h.events).toEqual(["ack", "respond"]);
    expect(h.posted[0]).toMatchObject({ response_type: "ephemeral", replace_original: false });
  });

  it("answers a forged or stale button value with a usage note", async () => {
    const h = harness();
    const values = [
      "{not json",
      '{"schema":"posts","__proto__":{"x":1}}',
      '{"schema":"posts","page":1e9}',
      "",
    ];
    for (const value of values) {
      const { body, action } = click(ACTIONS.openFailed, value);
      await openAction(h.deps)({ ack: h.ack, body, action, respond: h.respond });
    }
    expect(h.posted).toHaveLength(values.length);
    for (const p of h.posted) expect(p.text).toContain("not valid any more");
  });

  it("refuses a page button in a channel outside access.channels", async () => {
    const h = harness({ failedSyncWork: vi.fn() });
    const { body, action } = click(ACTIONS.page, JSON.stringify({ schema: "posts", page: 2 }));
    const elsewhere = { ...body, channel: { id: "C0ELSEWHERE", name: "x" } } as BlockAction;
    await openAction(h.deps)({ ack: h.ack, body: elsewhere, action, respond: h.respond });
    expect(h.posted[0]?.text).toContain("does not answer in this channel");
    expect(h.deps.commands.operator.failedSyncWork).not.toHaveBeenCalled();
  });

  it("acknowledges any other click (link buttons) without answering", async () => {
    const h = harness();
    const { body, action } = click("scrypath.link.dashboard", "");
    await ignoredAction(h.deps)({ ack: h.ack, body, action } as never);
    expect(h.ack).toHaveBeenCalledTimes(1);
    expect(h.respond).not.toHaveBeenCalled();
    expect(OTHER_ACTIONS.test("scrypath.link.dashboard")).toBe(true);
    for (const id of Object.values(ACTIONS)) expect(OTHER_ACTIONS.test(id)).toBe(false);
  });
});

describe("request button values", () => {
  it("maps Retry all N <class>… to a bulk_retry request, the state defaulting to terminal", () => {
    const value: BulkRetryRequestValue = {
      schema: "MyApp.Blog.Post",
      reasonClass: "transport",
      state: "all",
    };
    expect(requestFromValue(REQUEST_ACTIONS.bulkRetry, JSON.stringify(value))).toEqual({
      kind: "bulk_retry",
      schema: "MyApp.Blog.Post",
      reasonClass: "transport",
      state: "all",
    });
    expect(
      requestFromValue(
        REQUEST_ACTIONS.bulkRetry,
        JSON.stringify({ schema: "MyApp.Blog.Post", reasonClass: "transport" }),
      ),
    ).toEqual({ kind: "bulk_retry", schema: "MyApp.Blog.Post", reasonClass: "transport", state: "terminal" });
    // Whatever else the value holds (ids included) is not passed on: the workflow resolves the ids.
    const forged = { schema: "MyApp.Blog.Post", reasonClass: "transport", ids: [1, 2, 3], target: "oban:1" };
    expect(requestFromValue(REQUEST_ACTIONS.bulkRetry, JSON.stringify(forged))).toEqual({
      kind: "bulk_retry",
      schema: "MyApp.Blog.Post",
      reasonClass: "transport",
      state: "terminal",
    });
    expect(requestFromValue(REQUEST_ACTIONS.bulkRetry, "not json")).toBeNull();
    expect(requestFromValue(REQUEST_ACTIONS.bulkRetry, "[1]")).toBeNull();
    // Retry… is unchanged.
    expect(
      requestFromValue(REQUEST_ACTIONS.retry, JSON.stringify({ schema: "S", target: "oban:1" })),
    ).toEqual({
      kind: "retry",
      schema: "S",
      target: "oban:1",
    });
  });

  it("routes the bulk request button to the mutation listener, not the catch-all", () => {
    expect(MUTATION_ACTION_IDS).toContain(REQUEST_ACTIONS.bulkRetry);
    expect(REQUEST_ACTIONS.bulkRetry).toBe("scrypath.request.bulk_retry");
    expect(OTHER_ACTIONS.test(REQUEST_ACTIONS.bulkRetry)).toBe(false);
    // And a listener is registered for it, as for Retry….
    const registered: unknown[] = [];
    registerConfirmations({ action: (id: unknown) => registered.push(id) } as never, harness().deps);
    expect(registered).toContain(REQUEST_ACTIONS.bulkRetry);
    expect(registered).toContain(REQUEST_ACTIONS.retry);
  });
});

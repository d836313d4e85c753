// Shared set-up for the confirmation-card tests: real Postgres and Meilisearch (one deployment per
// test file), the fake Slack, and any number of real Bolt apps over signed HTTP sharing the
// database — as replicas of one bot would.
import { expect } from "vitest";
import { type ApiCall, FakeSlack, type ResponsePost } from "../../devkit/fakeSlack/index.ts";
import {
  type ButtonClick,
  blockActionsRequest,
  SIGNING_SECRET,
  send,
  slashCommandRequest,
  TEAM_ID,
  viewSubmissionRequest,
} from "../../devkit/slackRequests.ts";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { createPool } from "../../src/backends/postgres.ts";
import { type Config, parseConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { createOperator, type Operator, poolOptions } from "../../src/operator/index.ts";
import { createSlackApp, type SlackApp, type SlackAppOptions } from "../../src/slack/app.ts";
import type { Confirmation } from "../../src/state/confirmations.ts";
import { CONFIRM_ACTIONS } from "../../views/confirm.ts";
import { HOT_APPLY_CALLBACK, SETTINGS_BLOCK, SETTINGS_INPUT } from "../../views/settingsModal.ts";
import { validateMessage } from "../support/blockKit.ts";
import type { TestDeployment } from "../support/operator.ts";
import { buttonValues, slackEnv } from "../support/slack.ts";

export const CHANNEL = "C0ONCALL01";
export const ALICE = "U0ALICE001";
export const BOB = "U0BOB00002";
/** A member of the operators' user group only. */
export const CAROL = "U0CAROL003";
/** Nobody's operator. */
export const DAVE = "U0DAVE0004";
export const OPS_GROUP = "S0OPS00001";
const BOT_TOKEN = "xoxb-1111-2222-confirmtoken";

/** The access section every test app starts from: two listed operators and one user group. */
export function operatorsConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    channels: [CHANNEL],
    operators: { users: [ALICE, BOB], usergroups: [OPS_GROUP] },
    twoPersonRule: true,
    ...extra,
  };
}

export interface TestBot {
  bot: SlackApp;
  base: string;
  /** The admin server (/healthz, /readyz, /metrics). */
  admin: string;
  config: Config;
  operator: Operator;
  logs: string[];
}

/** Where requests go: a bot started here, or a bot process started elsewhere (its base URL). */
export type BotAddress = Pick<TestBot, "base">;

export function expectValid(body: Record<string, unknown>): Record<string, unknown> {
  expect(validateMessage({ text: body.text, blocks: body.blocks })).toEqual([]);
  return body;
}

export const textOf = (body: Record<string, unknown>): string => JSON.stringify(body);

/** The mrkdwn and plain text a reader sees in a message (fallback text and every block's text). */
export function readerText(body: Record<string, unknown>): string {
  const out: string[] = [String(body.text ?? "")];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      const o = node as Record<string, unknown>;
      if ((o.type === "mrkdwn" || o.type === "plain_text") && typeof o.text === "string") out.push(o.text);
      Object.values(o).forEach(walk);
    }
  };
  walk(body.blocks);
  return out.join("\n");
}

/**
 * What a card must never show a reader: a Slack user id outside a `<@…>` mention, an ISO
 * timestamp (times are date tokens), API jargon (`uid=`, `status=`, PATCH), or a reason code
 * dressed as a word ("Not_retryable": codes are lower case, in code style).
 */
export function jargonIn(body: Record<string, unknown>): string[] {
  const text = readerText(body);
  const found: string[] = [];
  const withoutMentions = text.replace(/<@[UW][A-Z0-9]+>/g, "");
  for (const m of withoutMentions.matchAll(/\b[UW](?=[A-Z0-9]*[0-9])[A-Z0-9]{8,}\b/g))
    found.push(`user id ${m[0]}`);
  for (const m of text.matchAll(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}[^\s)]*/g)) found.push(`ISO time ${m[0]}`);
  for (const m of text.matchAll(/\b(uid|status)=\S*|\bPATCH(es)?\b/g)) found.push(`API jargon ${m[0]}`);
  for (const m of text.matchAll(/\b[A-Z][a-z]+_[a-z_]+\b/g)) found.push(`capitalised code ${m[0]}`);
  return found;
}

export class Harness {
  readonly bots: TestBot[] = [];
  private readonly extraOperators: Operator[] = [];

  constructor(
    readonly d: TestDeployment,
    readonly fake: FakeSlack,
  ) {}

  static async create(d: TestDeployment): Promise<Harness> {
    const fake = await FakeSlack.start();
    fake.token = BOT_TOKEN;
    fake.usergroups.set(OPS_GROUP, [CAROL]);
    return new Harness(d, fake);
  }

  /**
   * A bot replica over the shared database. `ownOperator` gives it its own pool (and, with a
   * `meilisearch` override, its own view of Meilisearch), as a second process would have.
   */
  async bot(
    options: {
      access?: Record<string, unknown>;
      meilisearch?: Record<string, unknown>;
      slack?: Record<string, unknown>;
      /** Merged into the deployment's `database:` section (implies its own operator). */
      database?: Record<string, unknown>;
      ownOperator?: boolean;
    } & Partial<Pick<SlackAppOptions, "sweepIntervalMs" | "follow" | "chat">> = {},
  ): Promise<TestBot> {
    const raw = {
      ...this.d.raw,
      access: options.access ?? operatorsConfig(),
      ...(options.meilisearch ? { meilisearch: options.meilisearch } : {}),
      ...(options.slack ? { slack: options.slack } : {}),
      ...(options.database
        ? { database: { ...(this.d.raw.database as Record<string, unknown>), ...options.database } }
        : {}),
    };
    const config = parseConfig(raw, {});
    let operator = this.d.operator;
    if (options.ownOperator || options.meilisearch || options.database) {
      operator = createOperator({
        config,
        db: createPool(config.database.url, { ...poolOptions(config), max: 6 }),
        meili: createMeiliClient(config.meilisearch),
      });
      this.extraOperators.push(operator);
    }
    const logs: string[] = [];
    const bot = createSlackApp({
      config,
      operator,
      env: slackEnv(this.fake, BOT_TOKEN),
      logger: createLogger({ write: (line) => logs.push(line), secrets: [BOT_TOKEN, SIGNING_SECRET] }),
      follow: { intervalMs: 100, maxIntervalMs: 300, ...options.follow },
      chat: { baseDelayMs: 50, ...options.chat },
      ...(options.sweepIntervalMs ? { sweepIntervalMs: options.sweepIntervalMs } : {}),
    });
    const { port, adminPort } = await bot.start();
    const made = {
      bot,
      base: `http://127.0.0.1:${port}`,
      admin: `http://127.0.0.1:${adminPort}`,
      config,
      operator,
      logs,
    };
    this.bots.push(made);
    return made;
  }

  async close(): Promise<void> {
    for (const { bot } of this.bots) await bot.stop();
    for (const operator of this.extraOperators) await operator.close();
    await this.fake.close();
  }

  /** `/scrypath <text>` as `userId`; resolves with the response_url id (ack checked). */
  async command(bot: BotAddress, text: string, userId = ALICE): Promise<string> {
    const { id, url } = this.fake.responseUrl();
    const ack = await send(
      `${bot.base}/slack/events`,
      slashCommandRequest({ text, responseUrl: url, channelId: CHANNEL, userId }),
    );
    expect(ack).toEqual({ status: 200, body: "" });
    return id;
  }

  /** A click; resolves with the response_url id once acknowledged. */
  async click(bot: BotAddress, click: Omit<ButtonClick, "responseUrl">): Promise<string> {
    const { id, url } = this.fake.responseUrl();
    const ack = await send(
      `${bot.base}/slack/events`,
      blockActionsRequest({ channelId: CHANNEL, ...click, responseUrl: url }),
    );
    expect(ack.status).toBe(200);
    return id;
  }

  /** `/scrypath <text>` → its final answer (not the "still working" note) and how long it took. */
  async finalAnswer(bot: BotAddress, text: string, userId = ALICE): Promise<{ ms: number; text: string }> {
    const started = Date.now();
    const id = await this.command(bot, text, userId);
    let answer = "";
    await this.fake.until(
      () => {
        const last = this.fake.postsTo(id).at(-1);
        answer = last ? textOf(last.body) : "";
        return last !== undefined && !/Still working/.test(answer);
      },
      30_000,
      () => `no final answer to /scrypath ${text} (${answer})`,
    );
    return { ms: Date.now() - started, text: answer };
  }

  /** The first ephemeral answer to a response_url, validated. */
  async answer(id: string): Promise<Record<string, unknown>> {
    const [post] = await this.fake.waitForPosts(id, 1);
    const body = (post as ResponsePost).body;
    expectValid(body);
    expect(body.response_type).toBe("ephemeral");
    return body;
  }

  /** Waits for the next card (a chat.postMessage with a Confirm button) after `after` posts. */
  async nextCard(after: number): Promise<{ ts: string; id: string; body: Record<string, unknown> }> {
    let found: { ts: string; body: Record<string, unknown> } | undefined;
    await this.fake.waitFor(
      () => {
        found = this.fake.posted
          .slice(after)
          .find((p) => buttonValues(p.body, CONFIRM_ACTIONS.confirm).length > 0);
        return found !== undefined;
      },
      () => `no confirmation card posted after message ${after}`,
    );
    const card = found as { ts: string; body: Record<string, unknown> };
    expectValid(card.body);
    const [id] = buttonValues(card.body, CONFIRM_ACTIONS.confirm);
    expect(buttonValues(card.body, CONFIRM_ACTIONS.cancel)).toEqual([id]);
    return { ...card, id: id as string };
  }

  /** Waits until the card `ts` was updated into a state whose fallback text matches `pattern`. */
  async cardUpdate(ts: string, pattern: RegExp): Promise<Record<string, unknown>> {
    let found: Record<string, unknown> | undefined;
    await this.fake.waitFor(
      () => {
        found = this.fake.updatesOf(ts).find((u) => pattern.test(String(u.text)));
        return found !== undefined;
      },
      () =>
        `card ${ts} never matched ${pattern}; updates: ${this.fake
          .updatesOf(ts)
          .map((u) => u.text)
          .join(" | ")}`,
    );
    expectValid(found as Record<string, unknown>);
    return found as Record<string, unknown>;
  }

  /**
   * Waits until the thread reply under the card `cardTs` (as posted, or as last edited) matches
   * `pattern`; the follower may post a state directly or reach it by editing its reply.
   */
  async reply(cardTs: string, pattern: RegExp): Promise<Record<string, unknown>> {
    let found: Record<string, unknown> | undefined;
    await this.fake.waitFor(
      () => {
        const reply = this.fake.posted.find((p) => p.body.thread_ts === cardTs);
        if (!reply) return false;
        const latest = this.fake.updatesOf(reply.ts).at(-1) ?? reply.body;
        found = pattern.test(String(latest.text)) ? latest : undefined;
        return found !== undefined;
      },
      () => `the reply under ${cardTs} never matched ${pattern}`,
    );
    expectValid(found as Record<string, unknown>);
    return found as Record<string, unknown>;
  }

  /** The view of the latest views.open or views.update call. */
  /**
   * `/scrypath settings hot-apply posts` by `userId`, then the filled modal submitted with
   * `settings`: resolves with the confirmation card it posts.
   */
  async requestHotApply(
    bot: BotAddress,
    settings: Record<string, unknown>,
    userId = ALICE,
  ): Promise<{ ts: string; id: string; body: Record<string, unknown> }> {
    const filled = this.fake.callsTo("views.update").length;
    await this.command(bot, "settings hot-apply posts", userId);
    await this.fake.waitFor(
      () => this.fake.callsTo("views.update").length > filled,
      () => "the modal was not filled",
    );
    const view = this.lastView("views.update") as { private_metadata: string };
    const before = this.fake.posted.length;
    const submitted = await send(
      `${bot.base}/slack/events`,
      viewSubmissionRequest({
        callbackId: HOT_APPLY_CALLBACK,
        privateMetadata: view.private_metadata,
        values: {
          [SETTINGS_BLOCK]: {
            [SETTINGS_INPUT]: { type: "plain_text_input", value: JSON.stringify(settings) },
          },
        },
      }),
    );
    expect(submitted).toEqual({ status: 200, body: "" });
    return this.nextCard(before);
  }

  lastView(method: "views.open" | "views.update"): Record<string, unknown> {
    const call = this.fake.callsTo(method).at(-1);
    expect(call).toBeDefined();
    return (call as ApiCall).body.view as Record<string, unknown>;
  }

  /** The request once the bot has stored where its card was posted (right after posting it). */
  async recordedConfirmation(id: string): Promise<Confirmation> {
    for (let waited = 0; waited < 10_000; waited += 20) {
      const row = await this.confirmation(id);
      if (row.messageTs !== null) return row;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`the card of request ${id} was never stored`);
  }

  async confirmation(id: string): Promise<Confirmation> {
    const { rows } = await this.d.oban.pool.query(
      `SELECT * FROM "${this.d.config.state.schema}".confirmations WHERE id = $1`,
      [id],
    );
    expect(rows).toHaveLength(1);
    const r = rows[0];
    return {
      id: r.id,
      kind: r.kind,
      schema: r.schema_module,
      request: r.request,
      requestedBy: r.requested_by,
      teamId: r.team_id,
      channelId: r.channel_id,
      messageTs: r.message_ts,
      threadTs: r.thread_ts,
      status: r.status,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      decidedBy: r.decided_by,
      decidedAt: r.decided_at,
      result: r.result,
    };
  }

  /** Audit rows about one confirmation (context.confirmation_id), oldest first. */
  async auditOf(id: string): Promise<Record<string, unknown>[]> {
    const { rows } = await this.d.oban.pool.query(
      `SELECT actor, action, schema_module, outcome, reason, target, details, context
       FROM "${this.d.config.state.schema}".audit_log WHERE context->>'confirmation_id' = $1 ORDER BY id`,
      [id],
    );
    return rows;
  }

  /** Audit rows with `reason`, newest first. */
  async auditWithReason(reason: string): Promise<Record<string, unknown>[]> {
    const { rows } = await this.d.oban.pool.query(
      `SELECT actor, action, outcome, reason, target, details, context
       FROM "${this.d.config.state.schema}".audit_log WHERE reason = $1 ORDER BY id DESC`,
      [reason],
    );
    return rows;
  }

  /** Jobs the bot inserted to replay `failedJobId`. */
  async replaysOf(failedJobId: number): Promise<number[]> {
    const { rows } = await this.d.oban.pool.query(
      `SELECT id FROM "${this.d.oban.prefix}".oban_jobs WHERE meta->'scrypath_bot'->>'replay_of' = $1 ORDER BY id`,
      [String(failedJobId)],
    );
    return rows.map((r) => Number(r.id));
  }

  /** Clicks Confirm (or Cancel) on `card` as `userId`. */
  decide(
    bot: BotAddress,
    card: { ts: string; id: string },
    userId: string,
    decision: "confirm" | "cancel" = "confirm",
    extra: Partial<ButtonClick> = {},
  ): Promise<string> {
    return this.click(bot, {
      actionId: CONFIRM_ACTIONS[decision],
      value: card.id,
      userId,
      ephemeral: false,
      messageTs: card.ts,
      ...extra,
    });
  }
}

export { TEAM_ID };

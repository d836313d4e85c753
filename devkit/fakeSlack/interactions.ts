// What a slash command or a click hands the app: a trigger_id (to open a modal; single-use and
// short-lived in strict mode) and a response_url (whose posts land in the conversation: ephemeral
// for the person, in the channel, or replacing / deleting the message they came from).
import { randomBytes } from "node:crypto";
import type { ConversationStore } from "./store.ts";
import {
  type BotIdentity,
  type MessageRef,
  RESPONSE_URL_TTL_MS,
  RESPONSE_URL_USES,
  type ResponseUrlContext,
} from "./types.ts";
import { str } from "./values.ts";

export interface Trigger {
  user: string;
  issuedAt: number;
  used: boolean;
}

export class Triggers {
  private readonly triggers = new Map<string, Trigger>();

  /** A single-use trigger_id for `user` (a command or a click carries one). */
  issue(user: string): string {
    const id = `${Math.floor(Date.now() / 1000)}.${randomDigits(12)}.${randomBytes(16).toString("hex")}`;
    this.triggers.set(id, { user, issuedAt: Date.now(), used: false });
    return id;
  }

  get(id: string): Trigger | undefined {
    return this.triggers.get(id);
  }
}

interface ResponseUrlState extends ResponseUrlContext {
  createdAt: number;
  uses: number;
  /** What replace_original / delete_original act on: the source, else the last answer posted here. */
  target: MessageRef | null;
}

export class ResponseUrls {
  private readonly urls = new Map<string, ResponseUrlState>();

  constructor(
    private readonly workspace: { readonly strict: boolean; readonly bot: BotIdentity },
    private readonly store: ConversationStore,
  ) {}

  /** Posts to response_url `id` now land in the conversation, as `context` says. */
  register(id: string, context: ResponseUrlContext): void {
    this.urls.set(id, { ...context, createdAt: Date.now(), uses: 0, target: context.source });
  }

  /**
   * A post to response_url `id` (or the body of a slash command's ack, which Slack treats the same
   * way): applied to the conversation when the URL is registered, only recorded otherwise. Returns
   * the HTTP status Slack would answer (404 once the URL is used up or expired, strict mode).
   */
  deliver(id: string, body: Record<string, unknown>): number {
    const state = this.urls.get(id);
    if (!state) return 200;
    if (
      this.workspace.strict &&
      (state.uses >= RESPONSE_URL_USES || Date.now() - state.createdAt > RESPONSE_URL_TTL_MS)
    ) {
      return 404;
    }
    state.uses += 1;
    const { bot } = this.workspace;
    const text = str(body.text) ?? "";
    const blocks = Array.isArray(body.blocks) ? body.blocks : [];
    if (body.delete_original === true) {
      if (state.target) this.deleteRef(state.target);
      state.target = null;
      return 200;
    }
    if (body.replace_original === true && state.target && this.editRef(state.target, text, blocks)) {
      return 200;
    }
    const threadTs = str(body.thread_ts) ?? state.threadTs;
    if (body.response_type === "in_channel") {
      const message = this.store.addMessage({
        channel: state.channel,
        user: bot.userId,
        botId: bot.botId,
        text,
        blocks,
        threadTs,
        via:
          state.command !== undefined && state.source === null
            ? { user: state.user, command: state.command }
            : null,
      });
      if (!state.source) state.target = { kind: "message", channel: message.channel, ts: message.ts };
      return 200;
    }
    const message = this.store.addEphemeral({
      channel: state.channel,
      user: state.user,
      from: bot.userId,
      text,
      blocks,
      threadTs,
    });
    // A slash command's later replace_original edits its last answer; a click's edits the clicked message.
    if (!state.source) state.target = { kind: "ephemeral", id: message.id };
    return 200;
  }

  private editRef(ref: MessageRef, text: string, blocks: unknown[]): boolean {
    if (ref.kind === "ephemeral") return this.store.editEphemeral(ref.id, text, blocks);
    const current = this.store.message(ref.channel, ref.ts);
    if (!current) return false;
    this.store.editMessage(current, { text, blocks });
    return true;
  }

  private deleteRef(ref: MessageRef): void {
    if (ref.kind === "ephemeral") this.store.deleteEphemeral(ref.id);
    else this.store.deleteMessage(ref.channel, ref.ts);
  }
}

function randomDigits(n: number): string {
  return [...randomBytes(n)].map((b) => String(b % 10)).join("");
}

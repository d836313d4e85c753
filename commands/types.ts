// The contract between the Slack listener and each `/scrypath <verb>` module.
import type { z } from "zod";
import type { Config } from "../src/config.ts";
import type { AccessDecision } from "../src/core/access.ts";
import type { DigestListEntry } from "../src/core/digest.ts";
import type { Operator } from "../src/operator/index.ts";
import type { MutationRequest } from "../src/operator/requests.ts";
import type { DigestPreviewProps } from "../views/digestList.ts";
import type { SlackMessage } from "../views/types.ts";
import type { FlagSpec } from "./parse.ts";

export interface CommandDeps {
  operator: Operator;
  config: Config;
  now: () => Date;
  /** The digest runner, when the app runs one (`/scrypath digest list|preview`). */
  digests?: DigestReplies;
  /** Whether a user holds the operator role (Slack user groups included); absent: nobody does. */
  operatorRole?: (userId: string) => Promise<AccessDecision>;
  /** Whether the bot can post in a channel (`/scrypath watch`); absent: it cannot be checked. */
  channels?: ChannelCheck;
}

/** Why the bot cannot post in a channel; `unchecked`: Slack could not tell (the detail says why). */
export type ChannelStanding =
  | { postable: true }
  | {
      postable: false;
      reason: "bot_not_in_channel" | "channel_archived" | "channel_unchecked";
      detail: string;
    };

/** The bot's view of a channel, asked of Slack (conversations.info) by src/slack/channels.ts. */
export interface ChannelCheck {
  standing(channelId: string): Promise<ChannelStanding>;
}

/** What `/scrypath digest list | preview` asks of the scheduled digests (the runner provides it). */
export interface DigestReplies {
  list(now?: Date): Promise<DigestListEntry[]>;
  /** What a digest would post now, without posting or claiming anything. */
  preview(name: string | null, now?: Date): Promise<DigestPreviewProps>;
}

export interface Invocation {
  userId: string;
  channelId: string;
}

/** A modal the listener opens with the command's trigger_id (it expires 3 s after the command). */
export interface ModalRequest {
  kind: "hot_apply";
  /** The schema as typed; the listener resolves it again. */
  schema: string;
}

/**
 * What a verb answers: a message for the requester, a mutation for an operator to confirm (the
 * listener posts a confirmation card; nothing acts yet), or a modal to open.
 */
export type Reply = SlackMessage | { confirmation: MutationRequest } | { modal: ModalRequest };

export interface Command<A> {
  name: string;
  /** e.g. `/scrypath failed <schema> [--class C]` */
  usage: string;
  summary: string;
  /** Changes production; needs an operator and a confirmation. */
  mutates?: boolean;
  /** Changes what the bot says (alert subscriptions): operators only, audited, no confirmation. */
  audited?: boolean;
  /** Reads something only operators may see under this configuration (checked before `run`). */
  operatorsOnly?: (config: Config) => boolean;
  flags: FlagSpec;
  /** Validates positionals and flags into the command's arguments (zod). */
  args: z.ZodType<A>;
  run(args: A, deps: CommandDeps, invocation: Invocation): Promise<Reply>;
}

/** Erases the argument type for the registry. */
// biome-ignore lint/suspicious/noExplicitAny: the registry holds commands of different argument types
export type AnyCommand = Command<any>;

/** Flags every verb accepts. */
export const COMMON_FLAGS: FlagSpec = { share: "boolean", help: "boolean" };

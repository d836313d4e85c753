// The contract between the Slack listener and each `/scrypath <verb>` module.
import type { z } from "zod";
import type { Config } from "../src/config.ts";
import type { Operator } from "../src/operator/index.ts";
import type { SlackMessage } from "../views/types.ts";
import type { FlagSpec } from "./parse.ts";

export interface CommandDeps {
  operator: Operator;
  config: Config;
  now: () => Date;
}

export interface Invocation {
  userId: string;
  channelId: string;
}

export interface Command<A> {
  name: string;
  /** e.g. `/scrypath failed <schema> [--class C]` */
  usage: string;
  summary: string;
  /** Changes production; needs an operator and a confirmation. */
  mutates?: boolean;
  flags: FlagSpec;
  /** Validates positionals and flags into the command's arguments (zod). */
  args: z.ZodType<A>;
  run(args: A, deps: CommandDeps, invocation: Invocation): Promise<SlackMessage>;
}

/** Erases the argument type for the registry. */
// biome-ignore lint/suspicious/noExplicitAny: the registry holds commands of different argument types
export type AnyCommand = Command<any>;

/** Flags every verb accepts. */
export const COMMON_FLAGS: FlagSpec = { share: "boolean", help: "boolean" };

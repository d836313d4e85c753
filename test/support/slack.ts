// The Slack side of a test bot: its environment (the Web API at the fake Slack, requests signed
// with the tests' secret, a free loopback port) and the button values of the messages it posts.
import type { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import { SIGNING_SECRET } from "../../devkit/slackRequests.ts";

/** The bot token of the confirmation harness's bots (test/slack/confirmHarness.ts). */
const HARNESS_BOT_TOKEN = "xoxb-1111-2222-confirmtoken";

/**
 * A test bot's environment: HTTP mode on 127.0.0.1 (any free port), its Web API at `fake`, its bot
 * ids given so Bolt skips auth.test at start-up; `extra` adds or overrides variables.
 */
export function slackEnv(
  fake: FakeSlack,
  botToken = HARNESS_BOT_TOKEN,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return {
    SLACK_BOT_TOKEN: botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
    SLACK_BOT_ID: "B0BOT0000",
    SLACK_BOT_USER_ID: "U0BOT0000",
    PORT: "0",
    ADMIN_PORT: "0",
    HOST: "127.0.0.1",
    ...extra,
  };
}

/** Every button value with this action_id in a message body. */
export function buttonValues(body: Record<string, unknown>, actionId: string): string[] {
  const found: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      const o = node as Record<string, unknown>;
      if (o.action_id === actionId && typeof o.value === "string") found.push(o.value);
      Object.values(o).forEach(walk);
    }
  };
  walk(body.blocks);
  return found;
}

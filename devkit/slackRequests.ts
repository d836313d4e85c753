// Signed requests as Slack sends them: form-encoded bodies (content-type exactly
// application/x-www-form-urlencoded), `X-Slack-Request-Timestamp` and
// `X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:<ts>:<raw body>")`: slash commands, button clicks
// and modal submissions for the tests and the bench. The signing itself is the sandbox's
// (signer.ts), so the tests, the bench and the sandbox sign the same way.
import { FORM_CONTENT_TYPE, signature, signedHeaders } from "./signer.ts";

export { signature };

export const SIGNING_SECRET = "test-signing-secret-0123456789abcdef";
export const TEAM_ID = "T0TEAM000";

export interface SignedRequest {
  body: string;
  headers: Record<string, string>;
}

export interface SignOptions {
  secret?: string;
  /** Unix seconds; default now. */
  timestamp?: number;
  /** Leave the signature headers out. */
  unsigned?: boolean;
}

export function signed(body: string, options: SignOptions = {}): SignedRequest {
  if (options.unsigned) return { body, headers: { "Content-Type": FORM_CONTENT_TYPE } };
  return { body, headers: signedHeaders(options.secret ?? SIGNING_SECRET, body, options.timestamp) };
}

export interface SlashCommand {
  text: string;
  responseUrl: string;
  userId?: string;
  channelId?: string;
  command?: string;
}

/** The form fields Slack posts for a slash command. */
export function slashCommandFields(c: SlashCommand): Record<string, string> {
  return {
    token: "deprecated-verification-token",
    team_id: TEAM_ID,
    team_domain: "scrypath-test",
    channel_id: c.channelId ?? "C0ONCALL01",
    channel_name: "oncall",
    user_id: c.userId ?? "U0ALICE001",
    user_name: "alice",
    command: c.command ?? "/scrypath",
    text: c.text,
    api_app_id: "A0SCRYPATH",
    is_enterprise_install: "false",
    response_url: c.responseUrl,
    trigger_id: "1234567890.123456.abcdef",
  };
}

export function slashCommandRequest(c: SlashCommand, options: SignOptions = {}): SignedRequest {
  return signed(new URLSearchParams(slashCommandFields(c)).toString(), options);
}

export interface ButtonClick {
  actionId: string;
  value: string;
  responseUrl: string;
  userId?: string;
  channelId?: string;
  /** Whether the message holding the button is ephemeral (default true: bot answers are). */
  ephemeral?: boolean;
  /** ts of the message holding the button (a card's ts); default a fixed one. */
  messageTs?: string;
  /** thread_ts of that message when it is a thread reply. */
  threadTs?: string;
  /** The clicker's workspace (default TEAM_ID). */
  teamId?: string;
}

/** A block_actions payload for a button click, as Slack posts it (form field `payload`). */
export function blockActionsPayload(c: ButtonClick): Record<string, unknown> {
  const channel = c.channelId ?? "C0ONCALL01";
  const ts = c.messageTs ?? "1700000000.000200";
  const team = c.teamId ?? TEAM_ID;
  const message = {
    type: "message",
    ts,
    text: "scrypath",
    blocks: [],
    ...(c.threadTs ? { thread_ts: c.threadTs } : {}),
  };
  return {
    type: "block_actions",
    user: { id: c.userId ?? "U0ALICE001", username: "alice", name: "alice", team_id: team },
    api_app_id: "A0SCRYPATH",
    token: "deprecated-verification-token",
    container: { type: "message", message_ts: ts, channel_id: channel, is_ephemeral: c.ephemeral ?? true },
    trigger_id: "1234567890.123456.abcdef",
    team: { id: team, domain: "scrypath-test" },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channel, name: "oncall" },
    ...(c.ephemeral === false ? { message } : {}),
    state: { values: {} },
    response_url: c.responseUrl,
    actions: [
      {
        action_id: c.actionId,
        block_id: "scrypath-actions",
        text: { type: "plain_text", text: "Open", emoji: true },
        value: c.value,
        type: "button",
        action_ts: "1700000001.000300",
      },
    ],
  };
}

export function blockActionsRequest(c: ButtonClick, options: SignOptions = {}): SignedRequest {
  return signed(new URLSearchParams({ payload: JSON.stringify(blockActionsPayload(c)) }).toString(), options);
}

export interface ViewSubmission {
  callbackId: string;
  privateMetadata: string;
  /** state.values: block_id → action_id → { type, value }. */
  values: Record<string, Record<string, { type: string; value: string | null }>>;
  userId?: string;
  teamId?: string;
}

/** A view_submission payload, as Slack posts it when a modal's submit button is pressed. */
export function viewSubmissionPayload(s: ViewSubmission): Record<string, unknown> {
  const team = s.teamId ?? TEAM_ID;
  return {
    type: "view_submission",
    team: { id: team, domain: "scrypath-test" },
    user: { id: s.userId ?? "U0ALICE001", username: "alice", name: "alice", team_id: team },
    api_app_id: "A0SCRYPATH",
    token: "deprecated-verification-token",
    trigger_id: "1234567890.123457.abcdef",
    view: {
      id: "V0MODAL0001",
      team_id: team,
      type: "modal",
      blocks: [],
      private_metadata: s.privateMetadata,
      callback_id: s.callbackId,
      state: { values: s.values },
      hash: "1700000000.abcdef",
      title: { type: "plain_text", text: "Hot-apply settings" },
      clear_on_close: false,
      notify_on_close: false,
      close: null,
      submit: { type: "plain_text", text: "Request" },
      previous_view_id: null,
      root_view_id: "V0MODAL0001",
      app_id: "A0SCRYPATH",
      external_id: "",
      app_installed_team_id: team,
      bot_id: "B0BOT0000",
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

export function viewSubmissionRequest(s: ViewSubmission, options: SignOptions = {}): SignedRequest {
  return signed(
    new URLSearchParams({ payload: JSON.stringify(viewSubmissionPayload(s)) }).toString(),
    options,
  );
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export async function send(url: string, request: SignedRequest): Promise<HttpAnswer> {
  const response = await fetch(url, { method: "POST", headers: request.headers, body: request.body });
  return { status: response.status, body: await response.text() };
}

// Requests signed as Slack signs them (spec slack-platform §1.9): form-encoded bodies with the content
// type exactly `application/x-www-form-urlencoded`, `X-Slack-Request-Timestamp`, and
// `X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:<timestamp>:<raw body>")` in hex. The sandbox signs
// what its page sends to the bot with this; the tests sign their requests with it too.
import { createHmac, randomBytes } from "node:crypto";

/** Slack's form content type; Bolt parses a body as a form only when the header is exactly this. */
export const FORM_CONTENT_TYPE = "application/x-www-form-urlencoded";

export function signature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
}

/** The headers of a signed request; `timestamp` is Unix seconds (default now). */
export function signedHeaders(
  secret: string,
  body: string,
  timestamp = nowSeconds(),
): Record<string, string> {
  return {
    "Content-Type": FORM_CONTENT_TYPE,
    "X-Slack-Request-Timestamp": String(timestamp),
    "X-Slack-Signature": signature(secret, timestamp, body),
  };
}

/** A form body with one `payload` field holding JSON: how Slack posts interactions. */
export function payloadBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** A fresh signing secret (32 hex characters, like Slack's). */
export function newSigningSecret(): string {
  return randomBytes(16).toString("hex");
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

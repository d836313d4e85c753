// The Slack side of redaction and control-character stripping at the view layer: the escaping
// helper, plain-text objects, the backend error card over the whole corpus, and the final guard
// in finalizeMessage for a view that forgot to escape a backend string.
import { describe, expect, it } from "vitest";
import { code, escapeMrkdwn, finalizeMessage, header, plainText, section } from "../../views/common.ts";
import { backendErrorView } from "../../views/errors.ts";
import { ALL_SECRETS, CREDENTIALS, NOT_SECRETS } from "../support/credentials.ts";

const ANSI_BIDI = "\u001b[31mred\u001b[0m \u202eevil\u202c \u2066iso\u2069 \u0007bell\u0000";

describe("control characters never reach Slack", () => {
  it("escapeMrkdwn strips ANSI sequences, bidi controls and C0/C1 characters", () => {
    expect(escapeMrkdwn(ANSI_BIDI)).toBe("red evil iso bell");
    expect(escapeMrkdwn("a <b> & c\n\td")).toBe("a &lt;b&gt; &amp; c\n\td");
    expect(code("\u202emyapp_posts_v2")).toBe("`myapp_posts_v2`");
  });

  it("plain-text objects (headers, buttons) too", () => {
    expect(plainText(ANSI_BIDI, 150).text).toBe("red evil iso bell");
    expect(header(`Index \u202emyapp_posts`).text.text).toBe("Index myapp_posts");
  });
});

describe("backendErrorView over the credential corpus", () => {
  it.each(CREDENTIALS.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const m = backendErrorView(
      { code: "meilisearch_unreachable", backend: "meilisearch", message: `\u001b[31m${c.text}` },
      { verb: "status", schema: "posts" },
    );
    const json = JSON.stringify(m);
    for (const secret of c.secrets) expect(json).not.toContain(secret);
    expect(json).not.toMatch(/\\u001b|\\u202e/);
  });
});

describe("finalizeMessage's last check", () => {
  it("redacts and strips text a view forgot to pass through excerpt or escapeMrkdwn", () => {
    const raw = CREDENTIALS.map((c) => c.text.replace(/\n/g, " ")).join(" ");
    const m = finalizeMessage(`fallback ${raw.slice(0, 2000)}`, [
      section(`${ANSI_BIDI} ${raw.slice(0, 2500)}`),
    ]);
    const json = JSON.stringify(m);
    for (const secret of ALL_SECRETS) {
      if (raw.slice(0, 2500).includes(secret)) expect(json).not.toContain(secret);
    }
    expect(json).not.toMatch(/\\u001b|\\u202e|\\u0007/);
    expect(json).toContain("[REDACTED]");
  });

  it("leaves text that is not a secret, button values and URLs as they are", () => {
    const text = NOT_SECRETS.map(escapeMrkdwn).join("\n");
    const m = finalizeMessage("ok", [
      section(text.slice(0, 2900)),
      {
        type: "actions",
        elements: [
          {
            type: "button",
            text: { type: "plain_text", text: "Open" },
            action_id: "open",
            value: '{"token":"abc123xyz"}',
            url: "https://dash.example.com/?token=abc123xyz",
          },
        ],
      },
    ]);
    expect(m.blocks[0]).toEqual(section(text.slice(0, 2900)));
    expect(JSON.stringify(m.blocks[1])).toContain('{\\"token\\":\\"abc123xyz\\"}');
    expect(JSON.stringify(m.blocks[1])).toContain("https://dash.example.com/?token=abc123xyz");
  });
});

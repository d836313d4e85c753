// A Block Kit validator for tests (spec slack-platform §3.1, §3.3): a JSON Schema (draft 2020-12)
// for the blocks and elements the views use, checked with Ajv, plus the message-level rules a
// schema cannot express (unique block_ids, unique action_ids per block, a non-empty fallback).
// Anything the schema does not know — another block type, another element, an extra property —
// fails, so a view cannot drift into untested Block Kit.
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";

const textObject = (type: "plain_text" | "mrkdwn", max: number) => ({
  type: "object",
  required: ["type", "text"],
  additionalProperties: false,
  properties: {
    type: { const: type },
    text: { type: "string", minLength: 1, maxLength: max },
    ...(type === "plain_text" ? { emoji: { type: "boolean" } } : { verbatim: { type: "boolean" } }),
  },
});

const anyText = (max: number) => ({
  type: "object",
  required: ["type"],
  properties: { type: { enum: ["plain_text", "mrkdwn"] } },
  discriminator: { propertyName: "type" },
  oneOf: [textObject("plain_text", max), textObject("mrkdwn", max)],
});
const id = { type: "string", minLength: 1, maxLength: 255 };

export const BLOCK_KIT_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://scrypath-bot.test/block-kit-message.json",
  type: "object",
  required: ["text", "blocks"],
  additionalProperties: false,
  properties: {
    text: { type: "string", minLength: 1, maxLength: 40_000, pattern: "\\S" },
    blocks: { type: "array", maxItems: 50, items: { $ref: "#/$defs/block" } },
  },
  $defs: {
    confirm: {
      type: "object",
      required: ["title", "text", "confirm", "deny"],
      additionalProperties: false,
      properties: {
        title: textObject("plain_text", 100),
        text: anyText(300),
        confirm: textObject("plain_text", 30),
        deny: textObject("plain_text", 30),
        style: { enum: ["primary", "danger"] },
      },
    },
    button: {
      type: "object",
      required: ["type", "text"],
      additionalProperties: false,
      properties: {
        type: { const: "button" },
        text: textObject("plain_text", 75),
        action_id: id,
        value: { type: "string", maxLength: 2000 },
        url: { type: "string", maxLength: 3000, pattern: "^https?://" },
        style: { enum: ["primary", "danger"] },
        confirm: { $ref: "#/$defs/confirm" },
        accessibility_label: { type: "string", minLength: 1, maxLength: 75 },
      },
    },
    section: {
      type: "object",
      required: ["type"],
      additionalProperties: false,
      anyOf: [{ required: ["text"] }, { required: ["fields"] }],
      properties: {
        type: { const: "section" },
        block_id: id,
        text: anyText(3000),
        fields: { type: "array", minItems: 1, maxItems: 10, items: anyText(2000) },
        accessory: { $ref: "#/$defs/button" },
        expand: { type: "boolean" },
      },
    },
    header: {
      type: "object",
      required: ["type", "text"],
      additionalProperties: false,
      properties: { type: { const: "header" }, block_id: id, text: textObject("plain_text", 150) },
    },
    context: {
      type: "object",
      required: ["type", "elements"],
      additionalProperties: false,
      properties: {
        type: { const: "context" },
        block_id: id,
        elements: { type: "array", minItems: 1, maxItems: 10, items: anyText(3000) },
      },
    },
    divider: {
      type: "object",
      required: ["type"],
      additionalProperties: false,
      properties: { type: { const: "divider" }, block_id: id },
    },
    actions: {
      type: "object",
      required: ["type", "elements"],
      additionalProperties: false,
      properties: {
        type: { const: "actions" },
        block_id: id,
        elements: { type: "array", minItems: 1, maxItems: 25, items: { $ref: "#/$defs/button" } },
      },
    },
    block: {
      type: "object",
      required: ["type"],
      properties: { type: { type: "string" } },
      discriminator: { propertyName: "type" },
      oneOf: [
        { $ref: "#/$defs/section" },
        { $ref: "#/$defs/header" },
        { $ref: "#/$defs/context" },
        { $ref: "#/$defs/divider" },
        { $ref: "#/$defs/actions" },
      ],
    },
  },
} as const;

const ajv = new Ajv2020({ allErrors: true, discriminator: true, strict: true, strictRequired: false });
const validate = ajv.compile(BLOCK_KIT_SCHEMA);

function describe(error: ErrorObject): string {
  const where = error.instancePath || "(message)";
  if (error.keyword === "additionalProperties") {
    return `${where}: unexpected property "${(error.params as { additionalProperty: string }).additionalProperty}"`;
  }
  if (error.keyword === "discriminator") {
    return `${where}: unknown type (${JSON.stringify((error.params as { tagValue?: unknown }).tagValue)})`;
  }
  if (error.keyword === "const") {
    return `${where}: must be ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}`;
  }
  return `${where}: ${error.message ?? error.keyword}`;
}

interface LooseBlock {
  type?: unknown;
  block_id?: unknown;
  elements?: Array<{ action_id?: unknown }>;
  accessory?: { action_id?: unknown };
}

/** Every violation of the schema and the message-level rules; empty when the message is valid. */
export function validateMessage(message: unknown): string[] {
  const problems: string[] = [];
  if (!validate(message)) {
    // oneOf/anyOf branch noise is left out when a more specific error explains the failure.
    const errors = validate.errors ?? [];
    const specific = errors.filter((e) => e.keyword !== "oneOf" && e.keyword !== "anyOf");
    for (const e of specific.length > 0 ? specific : errors) {
      const line = describe(e);
      if (!problems.includes(line)) problems.push(line);
    }
  }
  const m = message as { text?: unknown; blocks?: unknown };
  if (typeof m?.text !== "string" || m.text.trim() === "")
    problems.push("text: a non-empty fallback is required");
  const blocks = Array.isArray(m?.blocks) ? (m.blocks as LooseBlock[]) : [];
  const ids = new Map<string, number>();
  blocks.forEach((b, i) => {
    if (typeof b?.block_id === "string") {
      const first = ids.get(b.block_id);
      if (first !== undefined) {
        problems.push(`/blocks/${i}: duplicate block_id "${b.block_id}" (first at /blocks/${first})`);
      } else ids.set(b.block_id, i);
    }
    // Slack wants action_ids unique within their block.
    if (b?.type === "actions" && Array.isArray(b.elements)) {
      const seen = new Set<unknown>();
      for (const el of b.elements) {
        if (el?.action_id === undefined) continue;
        if (seen.has(el.action_id))
          problems.push(`/blocks/${i}: duplicate action_id "${String(el.action_id)}"`);
        seen.add(el.action_id);
      }
    }
  });
  return problems;
}

/** Throws with a readable list of every violation. */
export function expectValidMessage(message: unknown): void {
  const problems = validateMessage(message);
  if (problems.length > 0) {
    throw new Error(`invalid Block Kit message (${problems.length}):\n  - ${problems.join("\n  - ")}`);
  }
}

/** Every mrkdwn string a reader sees: the fallback and all mrkdwn text objects. */
export function mrkdwnStrings(message: { text: string; blocks: unknown[] }): string[] {
  const out = [message.text];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
    } else if (node && typeof node === "object") {
      const o = node as Record<string, unknown>;
      if (o.type === "mrkdwn" && typeof o.text === "string") out.push(o.text);
      for (const v of Object.values(o)) walk(v);
    }
  };
  walk(message.blocks);
  return out;
}

/**
 * Every `<…>` token in the message's mrkdwn, for asserting that data never becomes a mention or
 * link. Returns the tokens that are not one of: a date token, a link to an allowed host, a channel
 * link, or a user mention in `allowedUsers`.
 */
export function unexpectedTokens(
  message: { text: string; blocks: unknown[] },
  opts: { allowedHosts?: string[]; allowedUsers?: string[] } = {},
): string[] {
  const bad: string[] = [];
  for (const s of mrkdwnStrings(message)) {
    for (const token of s.match(/<[^>]*>?/g) ?? []) {
      if (/^<!date\^\d+\^[^|>]*\|[^<>]*>$/.test(token)) continue;
      const link = /^<(https?:\/\/([^/|>]+)[^|>]*)\|[^<>]*>$/.exec(token);
      if (link && (opts.allowedHosts ?? []).includes(link[2] ?? "")) continue;
      const user = /^<@([UW][A-Z0-9]+)>$/.exec(token);
      if (user && (opts.allowedUsers ?? []).includes(user[1] ?? "")) continue;
      bad.push(token);
    }
  }
  return bad;
}

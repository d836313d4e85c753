// A Block Kit validator for tests (spec slack-platform §3.1, §3.3): a JSON Schema (draft 2020-12)
// for the blocks and elements the views use, checked with Ajv, plus the message-level rules a
// schema cannot express (unique block_ids, unique action_ids per block, a non-empty fallback).
// Anything the schema does not know — another block type, another element, an extra property —
// fails, so a view cannot drift into untested Block Kit.
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";

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
    option: {
      type: "object",
      required: ["text", "value"],
      additionalProperties: false,
      properties: {
        text: textObject("plain_text", 75),
        value: { type: "string", minLength: 1, maxLength: 150 },
        description: textObject("plain_text", 75),
      },
    },
    staticSelect: {
      type: "object",
      required: ["type", "action_id", "options"],
      additionalProperties: false,
      properties: {
        type: { const: "static_select" },
        action_id: id,
        placeholder: textObject("plain_text", 150),
        options: { type: "array", minItems: 1, maxItems: 100, items: { $ref: "#/$defs/option" } },
        initial_option: { $ref: "#/$defs/option" },
        confirm: { $ref: "#/$defs/confirm" },
        focus_on_load: { type: "boolean" },
      },
    },
    actionElement: {
      type: "object",
      required: ["type"],
      properties: { type: { type: "string" } },
      discriminator: { propertyName: "type" },
      oneOf: [{ $ref: "#/$defs/button" }, { $ref: "#/$defs/staticSelect" }],
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
        elements: { type: "array", minItems: 1, maxItems: 25, items: { $ref: "#/$defs/actionElement" } },
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

/**
 * A modal view (spec slack-platform §1.6, §3.1): title/submit/close ≤ 24 characters, ≤ 100 blocks,
 * private_metadata ≤ 3000, callback_id ≤ 255; the message blocks plus an input block holding a
 * plain_text_input (initial_value, min/max_length ≤ 3000).
 */
export const MODAL_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://scrypath-bot.test/block-kit-modal.json",
  type: "object",
  required: ["type", "title", "blocks"],
  additionalProperties: false,
  properties: {
    type: { const: "modal" },
    title: textObject("plain_text", 24),
    submit: textObject("plain_text", 24),
    close: textObject("plain_text", 24),
    blocks: { type: "array", maxItems: 100, items: { $ref: "#/$defs/modalBlock" } },
    private_metadata: { type: "string", maxLength: 3000 },
    callback_id: id,
    external_id: id,
    clear_on_close: { type: "boolean" },
    notify_on_close: { type: "boolean" },
  },
  $defs: {
    ...BLOCK_KIT_SCHEMA.$defs,
    plainTextInput: {
      type: "object",
      required: ["type"],
      additionalProperties: false,
      properties: {
        type: { const: "plain_text_input" },
        action_id: id,
        initial_value: { type: "string", maxLength: 3000 },
        multiline: { type: "boolean" },
        min_length: { type: "integer", minimum: 0, maximum: 3000 },
        max_length: { type: "integer", minimum: 1, maximum: 3000 },
        placeholder: textObject("plain_text", 150),
        focus_on_load: { type: "boolean" },
      },
    },
    input: {
      type: "object",
      required: ["type", "label", "element"],
      additionalProperties: false,
      properties: {
        type: { const: "input" },
        block_id: id,
        label: textObject("plain_text", 2000),
        hint: textObject("plain_text", 2000),
        optional: { type: "boolean" },
        dispatch_action: { type: "boolean" },
        element: { $ref: "#/$defs/plainTextInput" },
      },
    },
    modalBlock: {
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
        { $ref: "#/$defs/input" },
      ],
    },
  },
} as const;

const ajv = new Ajv2020({
  allErrors: true,
  discriminator: true,
  strict: true,
  strictRequired: false,
  // Errors carry their schema, so an unknown type can be told which types are known.
  verbose: true,
});
const validate = ajv.compile(BLOCK_KIT_SCHEMA);
const validateModalSchema = ajv.compile(MODAL_SCHEMA);

/** The `type` values a discriminated schema (the error's parent, with `verbose`) accepts. */
function knownTypes(parent: unknown): string[] {
  const defs = MODAL_SCHEMA.$defs as Record<string, { properties?: { type?: { const?: string } } }>;
  const refs = (parent as { oneOf?: ReadonlyArray<{ $ref?: string }> } | undefined)?.oneOf ?? [];
  return refs.flatMap((r) => {
    const type = defs[(r.$ref ?? "").replace("#/$defs/", "")]?.properties?.type?.const;
    return type ? [type] : [];
  });
}

function describe(error: ErrorObject): string {
  const where = error.instancePath || "(message)";
  if (error.keyword === "additionalProperties") {
    return `${where}: unexpected property "${(error.params as { additionalProperty: string }).additionalProperty}"`;
  }
  if (error.keyword === "discriminator") {
    const known = knownTypes(error.parentSchema);
    return `${where}: unknown type (${JSON.stringify((error.params as { tagValue?: unknown }).tagValue)})${
      known.length > 0 ? `; expected ${known.join(" or ")}` : ""
    }`;
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

function schemaProblems(check: ValidateFunction, value: unknown): string[] {
  const problems: string[] = [];
  if (!check(value)) {
    // oneOf/anyOf branch noise is left out when a more specific error explains the failure.
    const errors = check.errors ?? [];
    const specific = errors.filter((e) => e.keyword !== "oneOf" && e.keyword !== "anyOf");
    for (const e of specific.length > 0 ? specific : errors) {
      const line = describe(e);
      if (!problems.includes(line)) problems.push(line);
    }
  }
  return problems;
}

/** Unique block_ids in the surface, unique action_ids within each actions block. */
function blockProblems(blocks: LooseBlock[]): string[] {
  const problems: string[] = [];
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

/** Every violation of the schema and the message-level rules; empty when the message is valid. */
export function validateMessage(message: unknown): string[] {
  const problems = schemaProblems(validate, message);
  const m = message as { text?: unknown; blocks?: unknown };
  if (typeof m?.text !== "string" || m.text.trim() === "")
    problems.push("text: a non-empty fallback is required");
  const blocks = Array.isArray(m?.blocks) ? (m.blocks as LooseBlock[]) : [];
  problems.push(...blockProblems(blocks));
  return problems;
}

interface LooseInput {
  type?: unknown;
  element?: { initial_value?: unknown; min_length?: unknown; max_length?: unknown };
}

/**
 * Every violation of the modal schema and the view-level rules: `submit` is required once an
 * input block is present, and an input's initial_value must fit its own min/max_length.
 */
export function validateModal(view: unknown): string[] {
  const problems = schemaProblems(validateModalSchema, view);
  const v = view as { blocks?: unknown; submit?: unknown };
  const blocks = Array.isArray(v?.blocks) ? (v.blocks as Array<LooseBlock & LooseInput>) : [];
  problems.push(...blockProblems(blocks));
  if (blocks.some((b) => b?.type === "input") && v?.submit === undefined)
    problems.push("submit: required when the view has an input block");
  blocks.forEach((b, i) => {
    const el = b?.type === "input" ? b.element : undefined;
    if (!el) return;
    const min = typeof el.min_length === "number" ? el.min_length : 0;
    const max = typeof el.max_length === "number" ? el.max_length : 3000;
    if (min > max) problems.push(`/blocks/${i}/element: min_length ${min} is above max_length ${max}`);
    if (typeof el.initial_value === "string" && el.initial_value.length > max)
      problems.push(`/blocks/${i}/element: initial_value is longer than max_length ${max}`);
  });
  return problems;
}

/** Throws with a readable list of every violation of the modal rules. */
export function expectValidModal(view: unknown): void {
  const problems = validateModal(view);
  if (problems.length > 0) {
    throw new Error(`invalid modal view (${problems.length}):\n  - ${problems.join("\n  - ")}`);
  }
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
  opts: { allowedHosts?: string[]; allowedUsers?: string[]; allowedGroups?: string[] } = {},
): string[] {
  const bad: string[] = [];
  for (const s of mrkdwnStrings(message)) {
    for (const token of s.match(/<[^>]*>?/g) ?? []) {
      if (/^<!date\^\d+\^[^|>]*\|[^<>]*>$/.test(token)) continue;
      const link = /^<(https?:\/\/([^/|>]+)[^|>]*)\|[^<>]*>$/.exec(token);
      if (link && (opts.allowedHosts ?? []).includes(link[2] ?? "")) continue;
      if (/^<#[CG][A-Z0-9]+>$/.test(token)) continue;
      const user = /^<@([UW][A-Z0-9]+)>$/.exec(token);
      if (user && (opts.allowedUsers ?? []).includes(user[1] ?? "")) continue;
      const group = /^<!subteam\^(S[A-Z0-9]+)>$/.exec(token);
      if (group && (opts.allowedGroups ?? []).includes(group[1] ?? "")) continue;
      bad.push(token);
    }
  }
  return bad;
}

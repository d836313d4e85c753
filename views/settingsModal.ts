// The hot-apply modal (spec slack-platform §1.6, operator §2.6): edit the three settings that may
// change on a live index — synonyms, stop words, typo tolerance — as JSON. Submitting only asks:
// the listener posts a confirmation card, and nothing is applied until an operator confirms it.
import type { InputBlock, ModalView, PlainTextInput } from "@slack/types";
import { HOT_APPLY_KEYS, validateHotApplyPayload } from "../src/core/settings.ts";
import { code, context, count, plainText, section, truncate } from "./common.ts";
import { errorSentence } from "./errors.ts";

export const HOT_APPLY_CALLBACK = "scrypath.hot_apply";
export const SETTINGS_BLOCK = "settings";
export const SETTINGS_INPUT = "settings_json";

export const MODAL_LIMITS = {
  blocks: 100,
  /** title, submit and close. */
  buttonText: 24,
  privateMetadata: 3000,
  callbackId: 255,
  /** plain_text_input max_length and initial_value. */
  inputText: 3000,
  inputLabel: 2000,
  inputHint: 2000,
  /** `response_action: "errors"` message per block. */
  errorText: 2000,
} as const;

/** The keys the modal accepts, as Meilisearch (camelCase) and Scrypath (snake_case) spell them. */
export const HOT_APPLY_INPUT_KEYS = [
  "synonyms",
  "stopWords",
  "stop_words",
  "typoTolerance",
  "typo_tolerance",
] as const;

export interface LiveHotApplySettings {
  synonyms?: unknown;
  stopWords?: unknown;
  typoTolerance?: unknown;
}

export interface HotApplyModalInput {
  schema: string;
  index: string;
  /** The live values; null while they are being read (the modal opens at once, then views.update). */
  live: LiveHotApplySettings | null;
  /** Where the card goes (channel, thread…); ≤ 3000 characters, set by the listener. */
  privateMetadata: string;
  /** A problem to show above the field (e.g. the live values could not be read). */
  error?: string | null;
}

const EXAMPLE = '{"stopWords": ["the", "a"], "synonyms": {"tv": ["television"]}}';

/** The live values as pretty JSON, or null when they do not fit a Slack text input. */
export function liveSettingsJson(live: LiveHotApplySettings): {
  json: string;
  length: number;
  fits: boolean;
} {
  const picked: Record<string, unknown> = {};
  if (live.synonyms !== undefined) picked.synonyms = live.synonyms;
  if (live.stopWords !== undefined) picked.stopWords = live.stopWords;
  if (live.typoTolerance !== undefined) picked.typoTolerance = live.typoTolerance;
  const json = JSON.stringify(picked, null, 2);
  return { json, length: json.length, fits: json.length <= MODAL_LIMITS.inputText };
}

function input(initialValue: string): InputBlock {
  const element: PlainTextInput = {
    type: "plain_text_input",
    action_id: SETTINGS_INPUT,
    multiline: true,
    initial_value: initialValue,
    max_length: MODAL_LIMITS.inputText,
    placeholder: plainText(EXAMPLE, 150),
    focus_on_load: true,
  };
  return {
    type: "input",
    block_id: SETTINGS_BLOCK,
    label: plainText("Settings JSON", MODAL_LIMITS.inputLabel),
    hint: plainText(
      "Keys: synonyms, stopWords (or stop_words), typoTolerance (or typo_tolerance). Leave out what you do not change.",
      MODAL_LIMITS.inputHint,
    ),
    element,
  };
}

/**
 * The modal for `/scrypath settings hot-apply <schema>`. With `live: null` it is the loading state:
 * no field and no submit, so nothing can be sent before the live values are shown.
 */
export function hotApplyModal(input_: HotApplyModalInput): ModalView {
  if (input_.privateMetadata.length > MODAL_LIMITS.privateMetadata) {
    // A cut would corrupt what the submission handler parses; this is a caller bug, not data.
    throw new RangeError(
      `private_metadata is ${input_.privateMetadata.length} characters; Slack allows ${MODAL_LIMITS.privateMetadata}`,
    );
  }
  const where = `*Schema* ${code(input_.schema)} · *live index* ${code(input_.index)}`;
  const about = context([
    "Only *synonyms*, *stop words* and *typo tolerance* can be changed here. Each key you give replaces that whole setting on the live index (typo tolerance merges field by field).",
    "Submitting does not apply anything: it posts a confirmation card in the channel, and an operator confirms it there.",
  ]);
  const error = input_.error ? section(`:warning: ${errorSentence(input_.error, 1000)}`) : null;

  const blocks: ModalView["blocks"] = [section(where), about];
  if (error) blocks.push(error);

  const view: ModalView = {
    type: "modal",
    callback_id: HOT_APPLY_CALLBACK,
    title: plainText("Hot-apply settings", MODAL_LIMITS.buttonText),
    close: plainText("Cancel", MODAL_LIMITS.buttonText),
    private_metadata: input_.privateMetadata,
    blocks,
  };

  if (input_.live === null) {
    blocks.push(context([":hourglass_flowing_sand: Loading live values…"]));
    return view;
  }

  const live = liveSettingsJson(input_.live);
  if (!live.fits) {
    blocks.push(
      section(
        `:warning: The live values are ${count(live.length)} characters of JSON, more than the ${count(
          MODAL_LIMITS.inputText,
        )} a Slack text field holds, so the field starts as ${code("{}")}. Give only the keys you change — and remember each one replaces the whole live setting.`,
      ),
    );
  }
  blocks.push(input(live.fits ? live.json : "{}"));
  view.submit = plainText("Request", MODAL_LIMITS.buttonText);
  return view;
}

export type HotApplyParse = { ok: true; settings: Record<string, unknown> } | { ok: false; error: string };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const isStringArray = (v: unknown): boolean => Array.isArray(v) && v.every((s) => typeof s === "string");

/** Light shape checks, so an obvious mistake shows under the field instead of as a failed task. */
function shapeProblem(key: string, value: unknown): string | null {
  if (value === null) return `${key} is null; give a value (resetting a setting is not supported here)`;
  switch (key) {
    case "synonyms":
      if (isPlainObject(value) && Object.values(value).every(isStringArray)) return null;
      if (Array.isArray(value) && value.every(isStringArray)) return null;
      return 'synonyms must be a map of word → list of words, like {"tv": ["television"]}, or a list of groups';
    case "stop_words":
    case "stopWords":
      return isStringArray(value) ? null : `${key} must be a list of words, like ["the", "a"]`;
    default:
      return isPlainObject(value) ? null : `${key} must be an object, like {"enabled": false}`;
  }
}

const bounded = (text: string): string =>
  truncate(text, MODAL_LIMITS.errorText, (cut) => `… (${count(cut)} more characters)`);

/**
 * The field's text → the settings to request, or the message for
 * `ack({ response_action: "errors", errors: { [SETTINGS_BLOCK]: error } })` (plain text, ≤ 2000).
 * Settings come back in Scrypath's canonical snake_case keys, as the operator validates them.
 */
export function parseHotApplyInput(text: string): HotApplyParse {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: false, error: bounded(`Enter a JSON object, for example ${EXAMPLE}`) };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { ok: false, error: bounded(`Not valid JSON: ${why.slice(0, 300)}`) };
  }
  if (!isPlainObject(parsed)) {
    return {
      ok: false,
      error: bounded(`The settings must be a JSON object at the top level, like ${EXAMPLE}`),
    };
  }
  const settings = parsed;
  const keys = Object.keys(settings);
  const allowed: readonly string[] = HOT_APPLY_INPUT_KEYS;
  const refused = keys.filter((k) => !allowed.includes(k));
  if (refused.length > 0) {
    const shown = refused.slice(0, 10).map((k) => truncate(k, 60));
    const more = refused.length > shown.length ? ` and ${count(refused.length - shown.length)} more` : "";
    return {
      ok: false,
      error: bounded(
        `Only synonyms, stopWords and typoTolerance can be hot-applied; remove ${shown.join(", ")}${more}.`,
      ),
    };
  }
  const twice = [
    ["stopWords", "stop_words"],
    ["typoTolerance", "typo_tolerance"],
  ].find(([a, b]) => a !== undefined && b !== undefined && keys.includes(a) && keys.includes(b));
  if (twice) return { ok: false, error: bounded(`Give ${twice[0]} or ${twice[1]}, not both.`) };
  if (keys.length === 0) {
    return {
      ok: false,
      error: bounded(
        `Nothing to apply: give at least one of synonyms, stopWords, typoTolerance, like ${EXAMPLE}`,
      ),
    };
  }
  const problems = keys.map((k) => shapeProblem(k, settings[k])).filter((p) => p !== null);
  if (problems.length > 0) return { ok: false, error: bounded(`${problems.join("; ")}.`) };
  const valid = validateHotApplyPayload(settings);
  if (!valid.ok) {
    // The keys were checked above; this keeps the modal in step with the operator's own rules.
    return {
      ok: false,
      error: bounded(
        `The operator would refuse this (${valid.reason}); only ${HOT_APPLY_KEYS.join(", ")} can be hot-applied.`,
      ),
    };
  }
  return { ok: true, settings: valid.settings };
}

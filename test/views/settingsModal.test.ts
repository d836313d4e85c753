import type { InputBlock, ModalView, PlainTextInput } from "@slack/types";
import { describe, expect, it } from "vitest";
import { validateHotApplyPayload } from "../../src/core/settings.ts";
import {
  HOT_APPLY_CALLBACK,
  hotApplyModal,
  parseHotApplyInput,
  SETTINGS_BLOCK,
  SETTINGS_INPUT,
} from "../../views/settingsModal.ts";
import { expectValidModal, unexpectedTokens, validateModal } from "../support/blockKit.ts";
import { HOSTILE, INDEX, SCHEMA } from "./fixtures.ts";

const META = JSON.stringify({ channel: "C123", threadTs: "1700000000.000100", user: "U1" });

const modal = (over: Partial<Parameters<typeof hotApplyModal>[0]> = {}) =>
  hotApplyModal({ schema: SCHEMA, index: INDEX, live: {}, privateMetadata: META, ...over });

/** Valid modal, and no mention or link in its mrkdwn that came from data. */
function expectSafeModal(view: ModalView): void {
  expectValidModal(view);
  expect(unexpectedTokens({ text: "x", blocks: view.blocks })).toEqual([]);
}

const inputOf = (view: ModalView) => view.blocks.find((b): b is InputBlock => b.type === "input");
const elementOf = (view: ModalView) => inputOf(view)?.element as PlainTextInput | undefined;
const texts = (view: ModalView) => JSON.stringify(view.blocks);

const plain = (text: string) => ({ type: "plain_text", text });

describe("modal validator", () => {
  const good = {
    type: "modal",
    callback_id: "cb",
    title: plain("Hot-apply settings"),
    submit: plain("Request"),
    close: plain("Cancel"),
    private_metadata: "{}",
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: "hi" } },
      {
        type: "input",
        block_id: "b",
        label: plain("JSON"),
        element: {
          type: "plain_text_input",
          action_id: "a",
          multiline: true,
          initial_value: "{}",
          max_length: 3000,
        },
      },
    ],
  };

  it("accepts a modal with an input block", () => {
    expect(validateModal(good)).toEqual([]);
  });

  it("rejects a 25-character title and 101 blocks", () => {
    expect(validateModal({ ...good, title: plain("t".repeat(25)) }).join("\n")).toMatch(/title.*24/);
    expect(validateModal({ ...good, title: plain("t".repeat(24)) })).toEqual([]);
    const many = Array.from({ length: 101 }, () => ({ type: "divider" }));
    expect(validateModal({ ...good, blocks: many }).join("\n")).toMatch(/more than 100 items/);
    expect(validateModal({ ...good, blocks: many.slice(0, 100) })).toEqual([]);
    expect(() => expectValidModal({ ...good, blocks: many })).toThrow(/invalid modal view/);
  });

  it("rejects over-long submit, private_metadata, callback_id, initial_value and max_length", () => {
    const input = good.blocks[1] as { element: Record<string, unknown> };
    const withElement = (el: Record<string, unknown>) => ({
      ...good,
      blocks: [good.blocks[0], { ...input, element: { ...input.element, ...el } }],
    });
    expect(validateModal({ ...good, submit: plain("s".repeat(25)) }).join("\n")).toMatch(/submit.*24/);
    expect(validateModal({ ...good, private_metadata: "m".repeat(3001) }).join("\n")).toMatch(/3000/);
    expect(validateModal({ ...good, callback_id: "c".repeat(256) }).join("\n")).toMatch(/255/);
    expect(validateModal(withElement({ initial_value: "x".repeat(3001) })).join("\n")).toMatch(/3000/);
    expect(validateModal(withElement({ max_length: 3001 })).join("\n")).toMatch(/3000/);
    expect(validateModal(withElement({ max_length: 10, initial_value: "x".repeat(11) })).join("\n")).toMatch(
      /longer than max_length 10/,
    );
  });

  it("rejects an input block without submit, unknown elements and message-only shapes", () => {
    const { submit: _submit, ...noSubmit } = good;
    expect(validateModal(noSubmit).join("\n")).toMatch(/submit: required/);
    expect(validateModal({ ...good, type: "home" }).join("\n")).toMatch(/modal/);
    const select = { type: "input", label: plain("x"), element: { type: "static_select", options: [] } };
    expect(validateModal({ ...good, blocks: [select] }).join("\n")).toMatch(/plain_text_input|element/);
  });
});

describe("hotApplyModal", () => {
  it("opens in a loading state: no field and no submit until the live values are read", () => {
    const view = modal({ live: null });
    expectSafeModal(view);
    expect(view.title.text).toBe("Hot-apply settings");
    expect(view.close?.text).toBe("Cancel");
    expect(view.submit).toBeUndefined();
    expect(inputOf(view)).toBeUndefined();
    expect(texts(view)).toContain("Loading live values…");
    expect(view.private_metadata).toBe(META);
    expect(view.callback_id).toBe(HOT_APPLY_CALLBACK);
  });

  it("pre-fills the field with the live values as pretty JSON and says what submitting does", () => {
    const live = {
      synonyms: { tv: ["television"] },
      stopWords: ["the", "a"],
      typoTolerance: { enabled: true },
    };
    const view = modal({ live });
    expectSafeModal(view);
    expect(view.submit?.text).toBe("Request");
    const block = inputOf(view);
    expect(block?.block_id).toBe(SETTINGS_BLOCK);
    const el = elementOf(view);
    expect(el?.action_id).toBe(SETTINGS_INPUT);
    expect(el?.multiline).toBe(true);
    expect(el?.max_length).toBe(3000);
    expect(el?.initial_value).toBe(JSON.stringify(live, null, 2));
    expect(JSON.parse(el?.initial_value ?? "")).toEqual(live);
    const text = texts(view);
    expect(text).toContain("Only *synonyms*, *stop words* and *typo tolerance* can be changed here");
    expect(text).toContain("Submitting does not apply anything: it posts a confirmation card");
    expect(text).toContain(`\`${SCHEMA}\``);
    expect(text).toContain(`\`${INDEX}\``);
  });

  it("leaves out keys without a live value", () => {
    const view = modal({ live: { stopWords: ["the"] } });
    expect(JSON.parse(elementOf(view)?.initial_value ?? "")).toEqual({ stopWords: ["the"] });
    expect(elementOf(modal({ live: {} }))?.initial_value).toBe("{}");
  });

  it("pre-fills {} and says why when 5,000 characters of live synonyms do not fit", () => {
    const synonyms: Record<string, string[]> = {};
    for (let i = 0; JSON.stringify(synonyms).length < 5000; i++)
      synonyms[`word${i}`] = [`synonym${i}`, `alt${i}`];
    const view = modal({ live: { synonyms } });
    expectSafeModal(view);
    expect(elementOf(view)?.initial_value).toBe("{}");
    expect(elementOf(view)?.max_length).toBe(3000);
    const length = JSON.stringify({ synonyms }, null, 2).length;
    expect(texts(view)).toContain(`The live values are ${length.toLocaleString("en-US")} characters of JSON`);
    expect(texts(view)).toContain("more than the 3,000 a Slack text field holds");
  });

  it("escapes hostile schema names and errors", () => {
    const view = modal({
      schema: "My&App.<Blog>",
      index: "idx",
      error: `could not read: ${HOSTILE}`,
      live: null,
    });
    expectSafeModal(view);
    const text = texts(view);
    expect(text).toContain("My&amp;App.&lt;Blog&gt;");
    expect(text).toContain("could not read: &lt;!channel&gt;");
  });

  it("refuses private_metadata Slack would reject, instead of cutting it", () => {
    expect(() => modal({ privateMetadata: "m".repeat(3001) })).toThrow(/3000/);
    expect(() => modal({ privateMetadata: "m".repeat(3000) })).not.toThrow();
  });
});

describe("parseHotApplyInput", () => {
  it("accepts the three keys in camelCase or snake_case and returns canonical keys", () => {
    const camel = parseHotApplyInput(
      '{"synonyms": {"tv": ["television"]}, "stopWords": ["the"], "typoTolerance": {"enabled": false}}',
    );
    expect(camel).toEqual({
      ok: true,
      settings: { synonyms: { tv: ["television"] }, stop_words: ["the"], typo_tolerance: { enabled: false } },
    });
    const snake = parseHotApplyInput(
      ' {"stop_words": ["a"], "typo_tolerance": {"min_word_size_for_typos": {"one_typo": 4}}} ',
    );
    expect(snake.ok).toBe(true);
    if (snake.ok) expect(validateHotApplyPayload(snake.settings).ok).toBe(true);
    expect(parseHotApplyInput('{"synonyms": [["nyc", "new york"]]}').ok).toBe(true);
  });

  const refuses = (text: string, pattern: RegExp) => {
    const r = parseHotApplyInput(text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatch(pattern);
      expect(r.error.length).toBeLessThanOrEqual(2000);
    }
  };

  it("refuses what is not a JSON object", () => {
    refuses("", /Enter a JSON object/);
    refuses("{synonyms: 1", /Not valid JSON/);
    refuses("[1, 2]", /JSON object at the top level/);
    refuses("null", /JSON object at the top level/);
    refuses('"synonyms"', /JSON object at the top level/);
    refuses("{}", /Nothing to apply/);
  });

  it("refuses other settings, naming them", () => {
    refuses('{"rankingRules": ["words"], "synonyms": {}}', /can be hot-applied; remove rankingRules\./);
    refuses('{"searchable_attributes": ["title"]}', /remove searchable_attributes/);
    refuses('{"Synonyms": {}}', /remove Synonyms/);
    refuses('{"stopWords": ["a"], "stop_words": ["b"]}', /stopWords or stop_words, not both/);
  });

  it("refuses obviously wrong shapes", () => {
    refuses('{"stopWords": "the"}', /stopWords must be a list of words/);
    refuses('{"synonyms": {"tv": "television"}}', /synonyms must be a map/);
    refuses('{"typoTolerance": true}', /typoTolerance must be an object/);
    refuses('{"synonyms": null}', /synonyms is null/);
  });

  it("keeps the inline error under 2,000 characters whatever the input", () => {
    const keys = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`${"k".repeat(100)}${i}`, 1]));
    refuses(JSON.stringify(keys), /and 9,990 more/);
    refuses(`{"x": "${"y".repeat(10_000)}`, /Not valid JSON/);
  });
});

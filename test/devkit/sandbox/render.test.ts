// The sandbox page's Block Kit renderer (plain JavaScript, pure string functions): the blocks and the
// mrkdwn subset the bot uses, unknown blocks shown as such, and escaping that never lets data
// become markup.
import { describe, expect, it } from "vitest";
import {
  decodeEntities,
  escapeHtml,
  formatSlackDate,
  mrkdwn,
  renderBlock,
  renderBlocks,
} from "../../../devkit/sandbox/page/render.js";
import { code, escapeMrkdwn, slackDate } from "../../../views/common.ts";

describe("mrkdwn", () => {
  it("renders bold, italic, strike, code, pre and quotes", () => {
    expect(mrkdwn("*bold* and _italic_ and ~gone~")).toBe("<b>bold</b> and <i>italic</i> and <s>gone</s>");
    expect(mrkdwn("*_both_*")).toBe("<b><i>both</i></b>");
    expect(mrkdwn("run `mix scrypath.status`")).toBe("run <code>mix scrypath.status</code>");
    expect(mrkdwn("```\nline 1\n*not bold*\n```\nafter")).toBe(
      '<pre class="pre">line 1\n*not bold*</pre>after',
    );
    expect(mrkdwn("> quoted\n> twice\nplain")).toBe("<blockquote>quoted<br>twice</blockquote>plain");
    expect(mrkdwn("one\ntwo")).toBe("one<br>two");
  });

  it("leaves identifiers with underscores and stars alone", () => {
    expect(mrkdwn("failed_sync_work and 2*3*4")).toBe("failed_sync_work and 2*3*4");
    expect(mrkdwn("reason: `queue_exhausted`")).toBe("reason: <code>queue_exhausted</code>");
  });

  it("turns the bot's escapes back into characters, then escapes them for HTML", () => {
    const data = '<script>alert("x")</script> & <!channel> <@U1>';
    const sent = escapeMrkdwn(data);
    expect(sent).toBe('&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;!channel&gt; &lt;@U1&gt;');
    const html = mrkdwn(sent);
    expect(html).toBe("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;!channel&gt; &lt;@U1&gt;");
    expect(html).not.toContain("<script");
    expect(html).not.toContain('class="mention"');
    // In code spans too: the reader sees a literal "<".
    expect(mrkdwn(code("<b>"))).toBe("<code>&lt;b&gt;</code>");
    // A double escape stays visible as typed.
    expect(decodeEntities("&amp;lt;")).toBe("&lt;");
  });

  it("renders links, mentions, channels and special mentions; unsafe link targets stay text", () => {
    const ctx = { users: { U0ANA: "Ana Lima" }, channels: { C0OPS: "search-oncall" } };
    expect(mrkdwn("<https://example.com/a?b=1&amp;c=2|the *runbook*>", ctx)).toBe(
      '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">the *runbook*</a>',
    );
    expect(mrkdwn("<https://example.com>", ctx)).toContain(">https://example.com</a>");
    expect(mrkdwn("by <@U0ANA>", ctx)).toBe('by <span class="mention" data-user="U0ANA">@Ana Lima</span>');
    expect(mrkdwn("<@U0NOBODY>", ctx)).toContain("@U0NOBODY");
    expect(mrkdwn("in <#C0OPS>", ctx)).toBe('in <span class="mention channel">#search-oncall</span>');
    expect(mrkdwn("<!here>")).toBe('<span class="mention">@here</span>');
    expect(mrkdwn("<!subteam^S0OPS|@search-ops>")).toBe('<span class="mention">@search-ops</span>');
    expect(mrkdwn("<javascript:alert(1)|click>")).toBe("&lt;javascript:alert(1)|click&gt;");
    expect(mrkdwn('<https://x.test/"onmouseover="a|x>')).toContain(
      'href="https://x.test/&quot;onmouseover=&quot;a"',
    );
  });

  it("formats <!date^…> tokens in local time, and falls back to the fallback text", () => {
    const now = new Date(2026, 10, 20, 15, 0);
    const at = new Date(2026, 10, 20, 10, 5);
    const token = slackDate(at, "2026-11-20 10:05 UTC");
    const html = mrkdwn(`Checked ${token}`, { now });
    expect(html).toContain(">Today 10:05 AM</time>");
    expect(html).toContain('title="2026-11-20 10:05 UTC"');
    expect(formatSlackDate(at.getTime() / 1000, "{date_num} {time_secs}", now)).toBe(
      "2026-11-20 10:05:00 AM",
    );
    expect(formatSlackDate(at.getTime() / 1000, "{date_long}", now)).toBe("Friday, November 20th, 2026");
    expect(formatSlackDate(at.getTime() / 1000, "{date_short_pretty}", new Date(2026, 10, 21, 9))).toBe(
      "Yesterday",
    );
    expect(formatSlackDate(at.getTime() / 1000, "{ago}", now)).toBe("5 hours ago");
    expect(mrkdwn("<!date^1795000000^{bogus}|the fallback>")).toContain(">the fallback</time>");
  });

  it("turns known emoji shortcodes into emoji and leaves others as typed", () => {
    expect(mrkdwn(":red_circle: :white_check_mark: :made_up_emoji:")).toBe(
      '<span class="emoji" title=":red_circle:">🔴</span> <span class="emoji" title=":white_check_mark:">✅</span> :made_up_emoji:',
    );
  });
});

describe("blocks", () => {
  it("renders a section with fields and a button accessory, carrying its position", () => {
    const html = renderBlock(
      {
        type: "section",
        text: { type: "mrkdwn", text: "*Schema*" },
        fields: [
          { type: "mrkdwn", text: "*Index*\n`prod_post`" },
          { type: "plain_text", text: "1 <b>" },
        ],
        accessory: {
          type: "button",
          text: { type: "plain_text", text: "Retry…" },
          action_id: "a",
          value: "v",
        },
      },
      3,
    );
    expect(html).toContain("<b>Schema</b>");
    expect(html).toContain('<div class="field"><b>Index</b><br><code>prod_post</code></div>');
    expect(html).toContain('<div class="field">1 &lt;b&gt;</div>');
    expect(html).toContain('data-block="3" data-element="accessory"');
  });

  it("renders header, context, divider and actions with styled buttons and confirm markers", () => {
    const html = renderBlocks([
      { type: "header", text: { type: "plain_text", text: ":warning: Confirmation needed", emoji: true } },
      {
        type: "context",
        elements: [
          { type: "mrkdwn", text: "by <@U1>" },
          { type: "plain_text", text: "x" },
        ],
      },
      { type: "divider" },
      {
        type: "actions",
        elements: [
          { type: "button", text: { type: "plain_text", text: "Confirm" }, style: "danger", confirm: {} },
          { type: "button", text: { type: "plain_text", text: "Docs" }, url: "https://example.com" },
          { type: "datepicker" },
        ],
      },
    ]);
    expect(html).toContain(
      '<div class="b-header"><span class="emoji" title=":warning:">⚠️</span> Confirmation',
    );
    expect(html).toContain('<div class="b-context"><span class="ctx-item">by <span class="mention"');
    expect(html).toContain('<hr class="b-divider">');
    expect(html).toContain('class="btn danger" data-block="3" data-element="0" data-confirm="1"');
    expect(html).toContain('class="btn link" data-block="3" data-element="1"');
    expect(html).toContain("unsupported element: datepicker");
  });

  it("renders a static_select with its placeholder first and its options, carrying its position", () => {
    const html = renderBlocks([
      {
        type: "actions",
        elements: [
          { type: "button", text: { type: "plain_text", text: "Acknowledge" } },
          {
            type: "static_select",
            action_id: "scrypath.alert.snooze",
            placeholder: { type: "plain_text", text: "Snooze…" },
            options: [
              { text: { type: "plain_text", text: "1 h" }, value: "42:1h" },
              { text: { type: "plain_text", text: "until <resolved>" }, value: '42:"resolved"' },
            ],
          },
        ],
      },
    ]);
    expect(html).toContain(
      '<select class="select" data-block="0" data-element="1" aria-label="Snooze…">' +
        '<option value="" selected disabled>Snooze…</option><option value="42:1h">1 h</option>' +
        '<option value="42:&quot;resolved&quot;">until &lt;resolved&gt;</option></select>',
    );
    expect(
      renderBlock({ type: "actions", elements: [{ type: "static_select" }] }, 2, { interactive: false }),
    ).toContain('data-block="2" data-element="0" aria-label="Select an item" disabled>');
  });

  it("shows unknown blocks as unsupported instead of dropping them", () => {
    expect(renderBlocks([{ type: "rich_text" }, { type: "<img>" }, null])).toBe(
      '<div class="unsupported">unsupported block: rich_text</div>' +
        '<div class="unsupported">unsupported block: &lt;img&gt;</div>' +
        '<div class="unsupported">unsupported block: (none)</div>',
    );
  });

  it("renders input blocks with their value, hint and an inline error", () => {
    const block = {
      type: "input",
      block_id: "settings",
      label: { type: "plain_text", text: "Settings JSON" },
      hint: { type: "plain_text", text: "Keys: synonyms" },
      element: {
        type: "plain_text_input",
        action_id: "json",
        multiline: true,
        initial_value: '{"a": "</textarea>"}',
      },
    };
    const html = renderBlock(block, 0, { errors: { settings: "Not valid JSON <here>" } });
    expect(html).toContain(
      '<textarea class="field-input" rows="8" data-block-id="settings" data-action-id="json"',
    );
    expect(html).toContain("{&quot;a&quot;: &quot;&lt;/textarea&gt;&quot;}</textarea>");
    expect(html).toContain("Not valid JSON &lt;here&gt;");
    expect(html).toContain("has-error");
    expect(renderBlock(block, 0, { values: { settings: { json: "typed" } } })).toContain(">typed</textarea>");
    expect(renderBlock({ ...block, element: { type: "plain_text_input", action_id: "x" } }, 0)).toContain(
      '<input class="field-input" type="text"',
    );
  });

  it("escapes everything it puts in attributes", () => {
    expect(escapeHtml(`"'<>&`)).toBe("&quot;&#39;&lt;&gt;&amp;");
  });
});

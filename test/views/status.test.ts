import { describe, expect, it } from "vitest";
import { triageTally } from "../../src/core/tally.ts";
import type { SchemaPosture } from "../../src/operator/index.ts";
import { partialStatusView, postureView, statusView } from "../../views/status.ts";
import { ACTIONS } from "../../views/types.ts";
import {
  buttons,
  cleanStatus,
  expectSafe,
  fleet,
  HOSTILE,
  INDEX,
  NOW,
  SCHEMA,
  SECRET,
  status,
  viewContext,
  visibleText,
} from "./fixtures.ts";

const ok = (schema: string, alias: string | null = null): SchemaPosture => ({
  schema,
  alias,
  status: cleanStatus(schema),
  error: null,
});

describe("statusView", () => {
  it("shows both planes, most important first, with buttons to the next reads", () => {
    const m = statusView(status(), viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(m.blocks[0]?.type).toBe("header");
    expect(text).toContain(`Sync status: ${SCHEMA}`);
    // 2 backend + 5 queue terminal failures lead.
    expect(text).toContain("7 terminal failures");
    expect(text).toMatch(/\*Pending\*\n1/);
    expect(text).toMatch(/\*Failed or cancelled tasks\*\n2\nnewest `meilisearch:404`, `meilisearch:403`/);
    expect(text).toMatch(/\*Retrying\*\n1/);
    expect(text).toContain("*Observed*\nyes");
    expect(text).toContain("`meilisearch:402` <!date^");
    expect(text).toContain("|2026-11-20 09:56 UTC> (4 min ago)");
    expect(text).toContain("Accepted is not searchable");
    expect(text).toContain("<https://meili.example.com/indexes/prod_posts|dashboard>");
    expect(m.text).toContain(SCHEMA);

    const bs = buttons(m);
    expect(bs.map((b) => [b.text.text, b.action_id])).toEqual([
      ["Failed work", ACTIONS.openFailed],
      ["Reconcile report", ACTIONS.openReconcile],
      ["Contract drift", ACTIONS.openDrift],
    ]);
    for (const b of bs) expect(JSON.parse(b.value ?? "")).toEqual({ schema: SCHEMA });
  });

  it("says the queue was not read in inline and manual modes, instead of showing zeros", () => {
    const inline = statusView(cleanStatus(SCHEMA, "inline"), viewContext());
    expectSafe(inline);
    expect(visibleText(inline)).toContain("not read: schema syncs inline");
    expect(visibleText(inline)).not.toContain("*Retrying*");
    expect(visibleText(inline)).toContain("Nothing pending or failed");
    const manual = statusView(cleanStatus(SCHEMA, "manual"), viewContext());
    expect(visibleText(manual)).toContain("manual mode");
  });

  it("says none when nothing ever succeeded, and renders without dashboard links", () => {
    const st = status();
    st.backend.lastSucceeded = null;
    const m = statusView(st, viewContext({ dashboardLinks: {} }));
    expectSafe(m);
    expect(visibleText(m)).toContain("*Last succeeded*\nnone in history");
    expect(visibleText(m)).not.toContain("dashboard>");
  });

  it("names the requester only when shared, and only with a real user id", () => {
    const shared = statusView(status(), viewContext({ sharedBy: "U0ABC123" }));
    expectSafe(shared, { allowedUsers: ["U0ABC123"] });
    expect(visibleText(shared)).toContain("Requested by <@U0ABC123>");
    const forged = statusView(status(), viewContext({ sharedBy: "<!channel>" }));
    expectSafe(forged);
    expect(visibleText(forged)).toContain("Requested by `&lt;!channel&gt;`");
  });
});

describe("partialStatusView", () => {
  it("marks the unread backend plane unknown, not zero, and escapes the error", () => {
    const st = status();
    const m = partialStatusView(
      {
        ...st,
        backend: null,
        errors: [
          {
            code: "meilisearch_unreachable",
            backend: "meilisearch",
            message: `Meilisearch at https://search.internal is unreachable ${HOSTILE} api_key=${SECRET}`,
          },
        ],
      },
      viewContext(),
    );
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(":warning: *Meilisearch unreachable:*");
    expect(text).toContain("backend plane (Meilisearch tasks) is unknown, not zero");
    expect(text).toContain("&lt;!channel&gt;");
    expect(text).toMatch(/\*Backend\* \(Meilisearch tasks\)\n:grey_question: \*unknown\*/);
    // What was read is still shown, and the verdict says it covers only that.
    expect(text).toContain("5 terminal failures in what could be read");
    expect(text).toMatch(/\*Retrying\*\n1/);
    expect(m.text).toContain("1 backend not read");
  });

  it("marks the unread queue plane unknown when Postgres failed", () => {
    const st = cleanStatus(SCHEMA);
    const m = partialStatusView(
      {
        ...st,
        queue: null,
        errors: [
          {
            code: "postgres_unreachable",
            backend: "postgres",
            message: "Postgres at db:5432 is unreachable",
          },
        ],
      },
      viewContext(),
    );
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain("*PostgreSQL unreachable:*");
    expect(text).toContain("queue plane (Oban jobs) is unknown, not zero");
    expect(text).toContain("Nothing pending or failed in what could be read");
    expect(text).not.toContain(":large_green_circle:");
  });
});

describe("postureView", () => {
  it("reads green with one line per schema when nothing failed", () => {
    const m = postureView(fleet([ok("MyApp.Post", "posts"), ok("MyApp.Tag")]), viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(":large_green_circle: Scrypath posture: No fetch errors observed");
    expect(text).toContain("*2 schemas checked* · 2 clear");
    expect(text).toMatch(/\*posts\* · oban · `prod_post` — clear · last applied 2 h ago/);
    expect(text).toContain("*MyApp.Tag*");
    expect(text).toContain("<https://runbooks.example.com/scrypath|Runbook>");
  });

  it("is degraded with the §9.2 evidence, and a read failure names the backend, escaped", () => {
    const failed: SchemaPosture = {
      schema: "MyApp.Comment",
      alias: "comments",
      status: null,
      error: {
        backend: "meilisearch",
        message: `Meilisearch refused the key ${HOSTILE} Bearer xyz.secret.token`,
      },
    };
    const busy: SchemaPosture = { schema: SCHEMA, alias: "posts", status: status(), error: null };
    const m = postureView(fleet([ok("MyApp.Tag"), busy, failed]), viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain("Scrypath posture: Degraded");
    expect(text).toContain("1 schema(s) report fetch errors on this check");
    expect(text).toContain("7 sync job(s) failed to apply and will not self-heal");
    expect(text).toContain("Work the failed-sync queue first.");
    expect(text).toContain("*Next checks*\n1. Open failed sync work");
    // Problems first: the unread schema, then the failing one, then the clear one.
    const order = ["*comments*", "*posts*", "*MyApp.Tag*"].map((n) => text.indexOf(n));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(text).toContain(
      ":warning: *comments* — not read, Meilisearch failed: Meilisearch refused the key &lt;!channel&gt;",
    );
    expect(text).toContain(
      "*posts* · oban · `prod_posts` — 8 failed rows · 1 retrying · 7 need triage · 4 pending · last applied 4 min ago",
    );
  });

  it("agrees with its verdict: resolved and retrying work is not red, and each schema has its buttons", () => {
    const resolved: SchemaPosture = {
      ...ok(SCHEMA, "posts"),
      tally: triageTally({
        backend: { failed: 0, pending: 0 },
        queue: { terminal: 3, retrying: 2, pending: 0, nextRetryAt: new Date("2026-11-20T10:05:00Z") },
        replays: [{ row: "terminal", replayState: "completed", count: 3 }],
      }),
    };
    const m = postureView(fleet([resolved, ok("MyApp.Tag")]), viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(":large_green_circle: Scrypath posture: No fetch errors observed");
    expect(text).toContain(
      "Nothing needs a person: no schema fetch errors, and the 3 terminal sync failure(s)",
    );
    expect(text).toContain("*2 schemas checked* · 1 with work in flight (retrying or pending) · 1 clear");
    expect(text).toContain(
      ":hourglass_flowing_sand: *posts* · oban · `prod_post` — 5 failed rows · 3 resolved by replay · 2 retrying · 0 need triage ·",
    );
    expect(text).not.toContain(":red_circle:");
    expect(buttons(m).map((b) => [b.text.text, b.action_id, b.value])).toEqual([
      ["Failed work · posts", ACTIONS.openFailed, JSON.stringify({ schema: SCHEMA })],
      ["Reconcile · posts", ACTIONS.openReconcile, JSON.stringify({ schema: SCHEMA })],
      ["Failed work · MyApp.Tag", ACTIONS.openFailed, JSON.stringify({ schema: "MyApp.Tag" })],
      ["Reconcile · MyApp.Tag", ACTIONS.openReconcile, JSON.stringify({ schema: "MyApp.Tag" })],
    ]);
  });

  it("fits 200 schemas in one message, problems first, and says how many are not shown", () => {
    const schemas = Array.from({ length: 200 }, (_, i) => ok(`MyApp.Generated.Schema${i}`, `schema_${i}_🦄`));
    schemas[150] = {
      ...schemas[150],
      schema: "MyApp.Broken",
      alias: "broken",
      status: null,
      error: { backend: "postgres", message: "Postgres at db is unreachable" },
    } as SchemaPosture;
    schemas[190] = { schema: SCHEMA, alias: "posts", status: status(), error: null };
    const m = postureView(fleet(schemas), viewContext());
    expectSafe(m);
    expect(m.blocks.length).toBeLessThanOrEqual(20);
    const text = visibleText(m);
    expect(text).toContain(
      "*200 schemas checked* · 1 not read · 1 with terminal failures that need triage · 198 clear",
    );
    expect(text).toContain("*broken* — not read, PostgreSQL failed");
    expect(text).toContain("*posts* ·");
    // The 198 clear schemas fold into one line of names.
    expect(text).toMatch(
      /:white_check_mark: \*198 clear\* \(nothing needs a person or is in flight\): schema_0_🦄, schema_1_🦄, .* and [\d,]+ more/,
    );
    expect(JSON.stringify(m).length).toBeLessThan(20_000);
  });

  it("keeps 200 failing schemas within budget, worst first, and counts the ones left out", () => {
    const schemas: SchemaPosture[] = Array.from({ length: 200 }, (_, i) => ({
      schema: `MyApp.Failing${i}`,
      alias: null,
      status: status({ schema: `MyApp.Failing${i}`, index: `prod_failing_${i}_${"x".repeat(40)}` }),
      error: null,
    }));
    schemas[199] = {
      schema: "MyApp.Last",
      alias: null,
      status: null,
      error: { backend: null, message: HOSTILE },
    };
    const m = postureView(fleet(schemas), viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain("1 schema(s) report fetch errors");
    // The unread one sorts first even though it is configured last.
    expect(text.indexOf("*MyApp.Last* — not read, a backend failed")).toBeLessThan(
      text.indexOf("*MyApp.Failing0*"),
    );
    const more = /… ([\d,]+) more schemas not shown \(([\d,]+) of them with read errors or failures\)/.exec(
      text,
    );
    expect(more).not.toBeNull();
    expect(more?.[1]).toBe(more?.[2]);
    const listed = text.split("\n").filter((l) => /^:(red_circle|warning): \*MyApp\./.test(l)).length;
    expect(listed + Number(more?.[1])).toBe(200);
    expect(JSON.stringify(m).length).toBeLessThan(20_000);
  });

  it("says what to do when nothing is configured", () => {
    const m = postureView(fleet([]), viewContext());
    expectSafe(m);
    expect(visibleText(m)).toContain(":white_circle: Scrypath posture: Not configured");
    expect(visibleText(m)).toContain("No schemas are configured");
  });

  it("renders the broken verdict", () => {
    const m = postureView(
      {
        posture: {
          state: "missing_backend",
          headline: "Broken",
          evidence: ["The Meilisearch backend is not configured — posture cannot query sync status."],
          nextChecks: ["Configure the Meilisearch backend so sync status can run."],
        },
        schemas: [ok("MyApp.Tag")],
      },
      viewContext({ now: NOW }),
    );
    expectSafe(m);
    expect(visibleText(m)).toContain(":red_circle: Scrypath posture: Broken");
    expect(m.text).toContain("Broken");
    expect(INDEX).toBe("prod_posts");
  });
});

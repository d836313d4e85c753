import { describe, expect, it } from "vitest";
import { validatePlaybook } from "../../src/core/playbook.ts";

const search = (over: Record<string, unknown> = {}) => ({
  playbook_format: 1,
  mode: "search",
  schema: "MyApp.Post",
  q: "hello",
  opts: {},
  ...over,
});
const many = (over: Record<string, unknown> = {}) => ({
  playbook_format: 1,
  mode: "search_many",
  entries: [
    ["MyApp.Post", "hello", {}],
    [":all", "x", { federation_weight: 1.5 }],
  ],
  opts: {
    federation_limit: 20,
    federation_offset: 0,
    max_schemas: 2,
    global_schemas: ["MyApp.Post"],
    otp_app: "my_app",
  },
  ...over,
});
const reason = (v: unknown, opts?: Parameters<typeof validatePlaybook>[1]) => {
  const r = validatePlaybook(v, opts);
  return r.ok ? "ok" : r.reason;
};

describe("validatePlaybook", () => {
  it("accepts valid playbooks", () => {
    expect(validatePlaybook(search())).toEqual({ ok: true });
    expect(validatePlaybook(many())).toEqual({ ok: true });
    expect(
      reason(
        search({
          title: "t",
          description: "d",
          tags: ["a", "b"],
          opts: {
            facets: ["brand"],
            filter: { status: "x" },
            sort: [],
            page: { number: 2, size: 50 },
            per_query: { show_ranking_score: true },
          },
        }),
      ),
    ).toBe("ok");
  });

  it("requires a map, format 1 and a known mode", () => {
    expect(reason([])).toBe("not_a_map");
    expect(reason(search({ playbook_format: 2 }))).toBe("invalid_playbook_format");
    expect(reason(search({ playbook_format: "1" }))).toBe("invalid_playbook_format");
    const { playbook_format: _p, ...noFormat } = search();
    expect(reason(noFormat)).toBe("invalid_playbook_format");
    expect(reason(search({ mode: "delete" }))).toBe("invalid_mode");
  });

  // Upstream: scrypath_ops/test/scrypath_ops/playbook/v1_test.exs, "unknown top-level key fails
  // validation" ({:unknown_top_level_keys, ["extra_field"]}).
  it("rejects unknown top-level keys per mode", () => {
    expect(validatePlaybook(search({ extra_field: true }))).toEqual({
      ok: false,
      reason: "unknown_top_level_keys",
      detail: "extra_field",
    });
    expect(reason(search({ entries: [] }))).toBe("unknown_top_level_keys");
    expect(reason(many({ schema: "x" }))).toBe("unknown_top_level_keys");
    expect(validatePlaybook(search({ zeta: 1, alpha: 2 }))).toEqual({
      ok: false,
      reason: "unknown_top_level_keys",
      detail: "alpha, zeta",
    });
  });

  it("bans transport keys anywhere, before anything else", () => {
    expect(
      validatePlaybook(search({ playbook_format: 9, opts: { filter: { meilisearch_api_key: "k" } } })),
    ).toEqual({
      ok: false,
      reason: "banned_key",
      detail: "meilisearch_api_key at opts.filter",
    });
    expect(reason(many({ entries: [["A", "q", { page: { req_options: [] } }]] }))).toBe("banned_key");
    expect(reason(search({ meilisearch_url: "http://x" }))).toBe("banned_key");
    expect(reason(search({ opts: { sort: [{ meilisearch_client: 1 }] } }))).toBe("banned_key");
  });

  it("validates metadata byte sizes", () => {
    expect(reason(search({ title: "x".repeat(200) }))).toBe("ok");
    expect(reason(search({ title: "x".repeat(201) }))).toBe("invalid_metadata");
    expect(reason(search({ title: "é".repeat(101) }))).toBe("invalid_metadata");
    expect(reason(search({ title: 5 }))).toBe("invalid_metadata");
    expect(reason(search({ description: "x".repeat(2000) }))).toBe("ok");
    expect(reason(search({ description: "x".repeat(2001) }))).toBe("invalid_metadata");
    expect(reason(search({ tags: Array.from({ length: 20 }, () => "t") }))).toBe("ok");
    expect(reason(search({ tags: Array.from({ length: 21 }, () => "t") }))).toBe("invalid_metadata");
    expect(reason(search({ tags: [""] }))).toBe("invalid_metadata");
    expect(reason(search({ tags: [1] }))).toBe("invalid_metadata");
    expect(reason(search({ tags: ["x".repeat(64)] }))).toBe("ok");
    expect(reason(search({ tags: ["x".repeat(65)] }))).toBe("invalid_metadata");
    expect(reason(search({ tags: "a" }))).toBe("invalid_metadata");
    expect(reason(search({ title: null }))).toBe("ok");
  });

  it("search needs string schema and q and an opts map", () => {
    expect(reason(search({ schema: 1 }))).toBe("invalid_string_field");
    expect(reason(search({ q: null }))).toBe("invalid_string_field");
    const { opts: _o, ...noOpts } = search();
    expect(reason(noOpts)).toBe("missing_opts");
    expect(reason(search({ opts: [] }))).toBe("invalid_opts");
  });

  it("restricts opt keys per level", () => {
    expect(reason(search({ opts: { federation_limit: 5 } }))).toBe("unknown_opt_keys");
    expect(reason(search({ opts: { federation_weight: 1 } }))).toBe("unknown_opt_keys");
    expect(reason(many({ entries: [["A", "q", { max_schemas: 2 }]] }))).toBe("unknown_opt_keys");
    expect(reason(many({ opts: { federation_weight: 1 } }))).toBe("unknown_opt_keys");
    expect(reason(search({ opts: { limit: 5 } }))).toBe("unknown_opt_keys");
  });

  // Upstream: v1_test.exs, "page.size 0 and 51 fail with page_size_out_of_range consistent with
  // SearchPlayground" ({:page_size_out_of_range, size, 50}); v1.ex names the other page reasons.
  it("validates page and per_query", () => {
    for (const size of [0, 51]) {
      expect(validatePlaybook(search({ opts: { page: { size } } }))).toEqual({
        ok: false,
        reason: "page_size_out_of_range",
        detail: `size ${size} is outside 1..50`,
      });
    }
    expect(reason(search({ opts: { page: { size: 50 } } }))).toBe("ok");
    expect(reason(search({ opts: { page: { size: 1 } } }))).toBe("ok");
    expect(reason(search({ opts: { page: { size: 80 } } }), { maxPageSize: 100 })).toBe("ok");
    expect(reason(search({ opts: { page: { size: 80 } } }), { maxPageSize: 60 })).toBe(
      "page_size_out_of_range",
    );
    expect(reason(search({ opts: { page: { size: "10" } } }))).toBe("invalid_page_size");
    expect(reason(search({ opts: { page: { size: 1.5 } } }))).toBe("invalid_page_size");
    expect(reason(search({ opts: { page: { offset: 1 } } }))).toBe("unknown_page_keys");
    expect(reason(search({ opts: { page: 3 } }))).toBe("invalid_page");
    expect(reason(search({ opts: { per_query: { limit: 1 } } }))).toBe("unknown_per_query_keys");
    expect(reason(search({ opts: { per_query: [] } }))).toBe("invalid_per_query");
  });

  it("validates shared federation fields", () => {
    expect(reason(many({ opts: { federation_offset: -1 } }))).toBe("invalid_federation_field");
    expect(reason(many({ opts: { federation_offset: 0 } }))).toBe("ok");
    expect(reason(many({ opts: { max_schemas: 0 } }))).toBe("invalid_federation_field");
    expect(reason(many({ opts: { federation_limit: 1.5 } }))).toBe("invalid_federation_field");
    expect(reason(many({ opts: { hydration_timeout: 0 } }))).toBe("invalid_federation_field");
    expect(reason(many({ opts: { global_schemas: [1] } }))).toBe("invalid_global_schemas");
    expect(reason(many({ opts: { otp_app: "" } }))).toBe("invalid_otp_app");
  });

  it("validates entries", () => {
    expect(reason(many({ entries: "x" }))).toBe("invalid_entries");
    expect(reason(many({ entries: [["A", "q"]] }))).toBe("invalid_entry");
    expect(reason(many({ entries: [["A", 1, {}]] }))).toBe("invalid_entry");
    expect(reason(many({ entries: [["A", "q", null]] }))).toBe("invalid_entry");
    expect(reason(many({ entries: [["A", "q", { federation_weight: "heavy" }]] }))).toBe(
      "invalid_federation_weight",
    );
    const eleven = Array.from({ length: 11 }, () => ["A", "q", {}]);
    expect(reason(many({ entries: eleven }))).toBe("too_many_entries");
    expect(reason(many({ entries: eleven.slice(0, 10) }))).toBe("ok");
    expect(reason(many({ entries: eleven.slice(0, 3) }), { maxSchemas: 2 })).toBe("too_many_entries");
  });
});

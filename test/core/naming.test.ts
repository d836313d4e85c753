import { describe, expect, it } from "vitest";
import {
  elixirModule,
  lastSegment,
  liveIndexName,
  stripElixir,
  targetIndexName,
  underscore,
} from "../../src/core/naming.ts";

describe("underscore (Elixir Macro.underscore)", () => {
  it.each([
    ["SearchablePost", "searchable_post"],
    ["HTTPLog", "http_log"],
    ["Post", "post"],
    ["V2Thing", "v2_thing"],
    ["Thing2", "thing2"],
    ["MyV2", "my_v2"],
    ["SAPExample", "sap_example"],
    ["ABc", "a_bc"],
    ["HTTP", "http"],
    ["already_snake", "already_snake"],
    ["stopWords", "stop_words"],
    ["typoTolerance", "typo_tolerance"],
    ["Foo.Bar", "foo/bar"],
    ["Elixir.MyApp.Post", "my_app/post"],
    ["", ""],
    ["a", "a"],
  ])("%s → %s", (input, expected) => {
    expect(underscore(input)).toBe(expected);
  });
});

describe("module helpers", () => {
  it("lastSegment takes the final dotted part, ignoring Elixir.", () => {
    expect(lastSegment("MyApp.Blog.Post")).toBe("Post");
    expect(lastSegment("Elixir.MyApp.Blog.Post")).toBe("Post");
    expect(lastSegment("Post")).toBe("Post");
  });

  it("elixirModule adds the prefix once", () => {
    expect(elixirModule("MyApp.Post")).toBe("Elixir.MyApp.Post");
    expect(elixirModule("Elixir.MyApp.Post")).toBe("Elixir.MyApp.Post");
  });

  it("stripElixir removes only a leading prefix", () => {
    expect(stripElixir("Elixir.MyApp.Post")).toBe("MyApp.Post");
    expect(stripElixir("MyApp.Elixir.Post")).toBe("MyApp.Elixir.Post");
  });
});

describe("liveIndexName", () => {
  it("defaults the prefix to scrypath and underscores the last segment", () => {
    expect(liveIndexName({ module: "MyApp.Blog.SearchablePost" })).toBe("scrypath_searchable_post");
    expect(liveIndexName({ module: "Elixir.MyApp.HTTPLog" })).toBe("scrypath_http_log");
  });

  it("prefers runtime over schema prefix", () => {
    expect(liveIndexName({ module: "A.Post", runtimePrefix: "rt", schemaPrefix: "sc" })).toBe("rt_post");
    expect(liveIndexName({ module: "A.Post", schemaPrefix: "sc" })).toBe("sc_post");
    expect(liveIndexName({ module: "A.Post", runtimePrefix: null, schemaPrefix: "sc" })).toBe("sc_post");
  });

  it("treats empty strings as absent", () => {
    expect(liveIndexName({ module: "A.Post", runtimePrefix: "", schemaPrefix: "sc" })).toBe("sc_post");
    expect(liveIndexName({ module: "A.Post", runtimePrefix: "", schemaPrefix: "" })).toBe("scrypath_post");
  });

  it("collides for equal last segments", () => {
    expect(liveIndexName({ module: "A.Post" })).toBe(liveIndexName({ module: "B.Post" }));
  });
});

describe("targetIndexName", () => {
  it("appends a double-underscore suffix", () => {
    expect(targetIndexName("scrypath_post")).toBe("scrypath_post__reindex");
    expect(targetIndexName("scrypath_post", null)).toBe("scrypath_post__reindex");
  });
  it("uses the override when given", () => {
    expect(targetIndexName("scrypath_post", "rebuild_1")).toBe("rebuild_1");
  });
});

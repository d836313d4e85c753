import { describe, expect, it } from "vitest";
import { didYouMean, levenshtein, resolveSchemaRef } from "../../src/core/schemaRef.ts";

const schemas = [
  { module: "MyApp.Blog.Post", alias: "posts" },
  { module: "MyApp.Catalog.Product", alias: null },
  { module: "Elixir.MyApp.Shop.HTTPLog" },
];

describe("resolveSchemaRef", () => {
  it.each([
    ["MyApp.Blog.Post", 0],
    ["Elixir.MyApp.Blog.Post", 0],
    ["posts", 0],
    ["post", 0],
    ["Post", 0],
    ["product", 1],
    ["MyApp.Shop.HTTPLog", 2],
    ["http_log", 2],
    [" post ", 0],
  ])("%s resolves", (ref, index) => {
    const r = resolveSchemaRef(ref, schemas);
    expect(r).toEqual({ ok: true, schema: schemas[index] });
  });

  it("module names are case-sensitive", () => {
    expect(resolveSchemaRef("myapp.blog.post", schemas)).toMatchObject({ ok: false, reason: "unknown" });
    expect(resolveSchemaRef("Posts", schemas)).toMatchObject({ ok: false, reason: "unknown" });
  });

  it("with ignoreCase, a ref that matches nothing as typed matches case-folded; as typed wins", () => {
    const opts = { ignoreCase: true };
    expect(resolveSchemaRef("myapp.blog.post", schemas, opts)).toEqual({ ok: true, schema: schemas[0] });
    expect(resolveSchemaRef("POSTS", schemas, opts)).toEqual({ ok: true, schema: schemas[0] });
    expect(resolveSchemaRef("Elixir.myapp.catalog.PRODUCT", schemas, opts)).toEqual({
      ok: true,
      schema: schemas[1],
    });
    expect(resolveSchemaRef("HTTP_LOG", schemas, opts)).toEqual({ ok: true, schema: schemas[2] });
    expect(resolveSchemaRef("COMMENT", schemas, opts)).toMatchObject({ ok: false, reason: "unknown" });
    const cased = [{ module: "A.Post" }, { module: "a.post" }];
    expect(resolveSchemaRef("a.post", cased, opts)).toEqual({ ok: true, schema: cased[1] });
    expect(resolveSchemaRef("A.POST", cased, opts)).toMatchObject({ ok: false, reason: "ambiguous" });
  });

  it("unknown lists configured modules", () => {
    expect(resolveSchemaRef("comment", schemas)).toEqual({
      ok: false,
      reason: "unknown",
      candidates: ["MyApp.Blog.Post", "MyApp.Catalog.Product", "MyApp.Shop.HTTPLog"],
    });
  });

  it("ambiguous when two schemas share a last segment", () => {
    const two = [{ module: "A.Post" }, { module: "B.Post" }];
    expect(resolveSchemaRef("post", two)).toEqual({
      ok: false,
      reason: "ambiguous",
      candidates: ["A.Post", "B.Post"],
    });
    expect(resolveSchemaRef("A.Post", two)).toEqual({ ok: true, schema: two[0] });
  });

  it("an exact module match beats a short-name match of another schema", () => {
    const tricky = [{ module: "Post" }, { module: "Other.Post" }];
    expect(resolveSchemaRef("Post", tricky)).toEqual({ ok: true, schema: tricky[0] });
  });

  it("alias colliding with another module is ambiguous", () => {
    const s = [{ module: "A.Post", alias: "B.Thing" }, { module: "B.Thing" }];
    expect(resolveSchemaRef("B.Thing", s)).toMatchObject({ ok: false, reason: "ambiguous" });
  });

  it("the same module listed twice is not ambiguous", () => {
    const s = [{ module: "A.Post" }, { module: "Elixir.A.Post" }];
    expect(resolveSchemaRef("post", s)).toEqual({ ok: true, schema: s[0] });
  });
});

describe("didYouMean", () => {
  it("suggests within edit distance 2", () => {
    expect(didYouMean("stauts", ["status", "failed", "retry"])).toBe("status");
    expect(didYouMean("retyr", ["status", "failed", "retry"])).toBe("retry");
    expect(didYouMean("FAILD", ["status", "failed"])).toBe("failed");
  });
  it("prefers the closest option", () => {
    expect(didYouMean("post", ["posts", "post_x", "pos"])).toBe("posts");
  });
  it("falls back to a prefix match", () => {
    expect(didYouMean("reconc", ["status", "reconcile"])).toBe("reconcile");
  });
  it("returns null when nothing is close", () => {
    expect(didYouMean("zzzzzz", ["status", "failed"])).toBeNull();
    expect(didYouMean("", ["status"])).toBeNull();
  });
  it("levenshtein", () => {
    expect(levenshtein("kitten", "sitting")).toBe(3);
    expect(levenshtein("", "abc")).toBe(3);
    expect(levenshtein("abc", "abc")).toBe(0);
  });
});

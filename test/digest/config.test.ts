// The `digests:` and `digestGrace` keys of the configuration: defaults, resolution, and messages
// that name the key path and what is wrong. Pure.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { OperatorError } from "../../src/errors.ts";

const base = {
  meilisearch: { url: "http://127.0.0.1:7700" },
  database: { url: "postgres://u@127.0.0.1/app" },
  schemas: [
    { module: "MyApp.Blog.Post", alias: "posts" },
    { module: "Elixir.MyApp.Catalog.Product" },
    { module: "MyApp.Accounts.User", alias: "users" },
  ],
};

const digest = (extra: Record<string, unknown> = {}) => ({
  name: "search-morning",
  channel: "C0123456789",
  cron: "0 9 * * 1-5",
  timezone: "Europe/Berlin",
  ...extra,
});

function problems(extra: Record<string, unknown>): string {
  try {
    parseConfig({ ...base, ...extra }, {}, "test.yml");
  } catch (error) {
    expect(error).toBeInstanceOf(OperatorError);
    expect((error as OperatorError).code).toBe("config_invalid");
    return (error as OperatorError).message;
  }
  throw new Error("expected the configuration to be refused");
}

describe("digests configuration", () => {
  it("defaults to no digests and one hour of grace", () => {
    const config = parseConfig(base, {});
    expect(config.digests).toEqual([]);
    expect(config.digestGrace).toBe(3600);
  });

  it("resolves schema references to modules and fills defaults", () => {
    const config = parseConfig(
      {
        ...base,
        digests: [
          digest({
            schemas: ["posts", "product", "MyApp.Blog.Post"],
            mention: "S0123ABCD",
            when: "degraded",
          }),
          { name: "nightly", channel: "G0123", cron: "0 2 * * *" },
        ],
        digestGrace: "30m",
      },
      {},
    );
    expect(config.digests).toEqual([
      {
        name: "search-morning",
        channel: "C0123456789",
        cron: "0 9 * * 1-5",
        timezone: "Europe/Berlin",
        schemas: ["MyApp.Blog.Post", "MyApp.Catalog.Product"],
        when: "degraded",
        mention: "S0123ABCD",
      },
      {
        name: "nightly",
        channel: "G0123",
        cron: "0 2 * * *",
        timezone: "UTC",
        schemas: null,
        when: "changed",
        mention: null,
      },
    ]);
    expect(config.digestGrace).toBe(1800);
    expect(parseConfig({ ...base, digestGrace: 90 }, {}).digestGrace).toBe(90);
  });

  it("names a bad cron expression with node-cron's field error", () => {
    expect(problems({ digests: [digest({ cron: "61 9 * * 1-5" })] })).toBe(
      'invalid configuration in test.yml: digests.0.cron: invalid cron expression "61 9 * * 1-5": minute: 61 is a invalid expression for minute',
    );
    expect(problems({ digests: [digest({ cron: "0 9 * *" })] })).toContain(
      'digests.0.cron: invalid cron expression "0 9 * *": expected 5 or 6 fields but got 4',
    );
    expect(problems({ digests: [digest({ cron: "*/5 * * * * *" })] })).toContain("at most once a minute");
  });

  it("refuses an unknown time zone", () => {
    expect(problems({ digests: [digest({ timezone: "Europe/Berln" })] })).toBe(
      'invalid configuration in test.yml: digests.0.timezone: unknown time zone "Europe/Berln"; use an IANA name such as Europe/Berlin or America/New_York',
    );
  });

  it("refuses a schema that does not resolve, and an ambiguous one", () => {
    expect(problems({ digests: [digest({ schemas: ["posts", "comments"] })] })).toBe(
      'invalid configuration in test.yml: digests.0.schemas.1: unknown schema "comments"; configured schemas: MyApp.Blog.Post (posts), MyApp.Catalog.Product, MyApp.Accounts.User (users)',
    );
    const twoPosts = {
      schemas: [{ module: "MyApp.Blog.Post" }, { module: "Other.Post" }],
      digests: [digest({ schemas: ["post"] })],
    };
    expect(problems(twoPosts)).toContain(
      'digests.0.schemas.0: schema "post" is ambiguous: it matches MyApp.Blog.Post, Other.Post',
    );
  });

  it("refuses a duplicate name", () => {
    expect(problems({ digests: [digest(), digest({ cron: "0 17 * * *" })] })).toBe(
      'invalid configuration in test.yml: digests.1.name: "search-morning" is already used by digests.0',
    );
  });

  it("checks names, channels, modes, mentions, unknown keys and the grace duration", () => {
    const message = problems({
      digests: [
        digest({
          name: "Search Morning",
          channel: "#search",
          when: "sometimes",
          mention: "@oncall",
          colour: "red",
        }),
      ],
      digestGrace: "1d",
    });
    expect(message).toContain("digests.0.name: expected lower-case letters, digits and dashes");
    expect(message).toContain("digests.0.channel: expected a Slack channel id such as C0123456789");
    expect(message).toContain(
      'digests.0.when: Invalid option: expected one of "always"|"degraded"|"changed"',
    );
    expect(message).toContain("digests.0.mention: expected a Slack user group id such as S0123ABCD");
    expect(message).toContain("digests.0.colour: unknown key");
    expect(message).toContain('digestGrace: expected a duration such as "15m"');
    expect(problems({ digests: [digest({ timezon: "UTC" })] })).toContain(
      "digests.0.timezon: unknown key (did you mean timezone?)",
    );
  });
});

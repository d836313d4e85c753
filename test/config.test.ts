// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` placeholders in config text are under test
// The YAML configuration: `${VAR}` substitution, defaults, validation messages that name the key
// path, the config file lookup, and runtime overrides. Pure: no services.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createPool } from "../src/backends/postgres.ts";
import { configPath, loadConfig, parseConfig, withOverrides } from "../src/config.ts";
import { OperatorError } from "../src/errors.ts";
import { poolOptions } from "../src/operator/index.ts";

const ENV = { MEILISEARCH_URL: "http://127.0.0.1:7700", DATABASE_URL: "postgres://u:pw@127.0.0.1:5432/app" };

/** A minimal valid config object, with schemas and top-level extras merged in. */
function minimal(extra: Record<string, unknown> = {}) {
  return {
    meilisearch: { url: "${MEILISEARCH_URL}", apiKey: "${MEILISEARCH_API_KEY}" },
    database: { url: "${DATABASE_URL}" },
    ...extra,
  };
}

/** The OperatorError a call throws (fails the test when it does not throw one). */
function errorOf(fn: () => unknown): OperatorError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OperatorError);
    return error as OperatorError;
  }
  throw new Error("expected an OperatorError, nothing was thrown");
}

const invalid = (input: unknown, env: NodeJS.ProcessEnv = ENV) => {
  const e = errorOf(() => parseConfig(input, env, "test.yml"));
  expect(e.code).toBe("config_invalid");
  // One line, so the CLI prints exactly one line on stderr.
  expect(e.message).not.toContain("\n");
  expect(e.message.startsWith("invalid configuration in test.yml: ")).toBe(true);
  return e.message;
};

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "scrypath-config-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("${VAR} substitution", () => {
  it("replaces variables from the given environment, inside longer strings too", () => {
    const config = parseConfig(
      minimal({ meilisearch: { url: "http://${MEILI_HOST}:7700/", apiKey: "${MEILISEARCH_API_KEY}" } }),
      { ...ENV, MEILI_HOST: "search.internal", MEILISEARCH_API_KEY: "k-123" },
    );
    // Trailing slashes are trimmed so index and task paths join cleanly.
    expect(config.meilisearch).toEqual({
      url: "http://search.internal:7700",
      apiKey: "k-123",
      timeoutMs: 10_000,
      taskWaitMs: expect.any(Number),
    });
    expect(config.database.url).toBe(ENV.DATABASE_URL);
  });

  it("leaves an optional key absent when its variable is unset or empty", () => {
    expect(parseConfig(minimal(), ENV).meilisearch.apiKey).toBeNull();
    expect(parseConfig(minimal(), { ...ENV, MEILISEARCH_API_KEY: "" }).meilisearch.apiKey).toBeNull();
  });

  it("names the key path and the variable when a required key's variable is unset", () => {
    const message = invalid(minimal(), {});
    expect(message).toContain("meilisearch.url: expected an http(s) URL (${MEILISEARCH_URL} is not set)");
    expect(message).toContain("database.url: required (${DATABASE_URL} is not set)");
  });

  it("names the variable inside a schema entry too", () => {
    const message = invalid(
      minimal({ schemas: [{ module: "MyApp.Post", syncMode: "oban", obanQueue: "${QUEUE}" }] }),
    );
    expect(message).toContain("schemas.0.obanQueue");
    expect(message).toContain("(${QUEUE} is not set)");
  });

  it("does not touch text that merely looks like a variable", () => {
    const config = parseConfig(minimal({ schemas: [{ module: "MyApp.Post", alias: "$HOME-{x}" }] }), ENV);
    expect(config.schemas[0]?.alias).toBe("$HOME-{x}");
  });
});

describe("defaults", () => {
  it("fills in Scrypath's defaults", () => {
    const config = parseConfig(
      minimal({
        schemas: [
          { module: "MyApp.Blog.Post", contract: { fields: ["title"], faceting: { attributes: [] } } },
        ],
      }),
      ENV,
    );
    expect(config.database.obanPrefix).toBe("public");
    expect(config.indexPrefix).toBeNull();
    expect(config.schemas[0]).toMatchObject({
      module: "MyApp.Blog.Post",
      alias: null,
      syncMode: "inline",
      obanQueue: null,
      obanMaxAttempts: 8,
      indexPrefix: null,
      reindexWorker: null,
      backfillWorker: null,
    });
    expect(config.schemas[0]?.contract).toEqual({
      fields: ["title"],
      filterable: [],
      sortable: [],
      faceting: { attributes: [], maxValuesPerFacet: 100, sortFacetValuesBy: {} },
      settings: {},
    });
  });

  it("accepts a config without schemas", () => {
    expect(parseConfig(minimal(), ENV).schemas).toEqual([]);
  });

  it("strips the Elixir. prefix from module names", () => {
    const config = parseConfig(minimal({ schemas: [{ module: "Elixir.MyApp.Blog.Post" }] }), ENV);
    expect(config.schemas[0]?.module).toBe("MyApp.Blog.Post");
  });
});

describe("validation", () => {
  it("requires obanQueue in oban mode", () => {
    expect(invalid(minimal({ schemas: [{ module: "MyApp.Post", syncMode: "oban" }] }))).toContain(
      "schemas.0.obanQueue: obanQueue is required when syncMode is oban",
    );
    const config = parseConfig(
      minimal({ schemas: [{ module: "MyApp.Post", syncMode: "oban", obanQueue: "search_sync" }] }),
      ENV,
    );
    expect(config.schemas[0]).toMatchObject({ syncMode: "oban", obanQueue: "search_sync" });
  });

  it("refuses an unknown sync mode", () => {
    expect(invalid(minimal({ schemas: [{ module: "MyApp.Post", syncMode: "async" }] }))).toContain(
      "schemas.0.syncMode: ",
    );
  });

  it("requires facet attributes to be filterable", () => {
    const message = invalid(
      minimal({
        schemas: [
          {
            module: "MyApp.Post",
            contract: {
              fields: ["title"],
              filterable: ["status"],
              faceting: { attributes: ["status", "tag"] },
            },
          },
        ],
      }),
    );
    expect(message).toContain(
      'schemas.0.contract.faceting.attributes: facet attribute "tag" must also be listed in filterable',
    );
    expect(message).not.toContain('"status"');
  });

  it("requires at least one contract field", () => {
    expect(invalid(minimal({ schemas: [{ module: "MyApp.Post", contract: { fields: [] } }] }))).toContain(
      "schemas.0.contract.fields: expected at least one field",
    );
  });

  it("refuses a module or alias used twice, naming the first user", () => {
    expect(
      invalid(minimal({ schemas: [{ module: "MyApp.Post" }, { module: "Elixir.MyApp.Post" }] })),
    ).toContain('schemas.1: "MyApp.Post" is already used by schemas.0');
    expect(
      invalid(
        minimal({
          schemas: [
            { module: "MyApp.Post", alias: "posts" },
            { module: "MyApp.Comment", alias: "posts" },
          ],
        }),
      ),
    ).toContain('schemas.1: "posts" is already used by schemas.0');
    // An alias that is another schema's module name would make references ambiguous.
    expect(
      invalid(
        minimal({ schemas: [{ module: "MyApp.Post" }, { module: "MyApp.Comment", alias: "MyApp.Post" }] }),
      ),
    ).toContain('schemas.1: "MyApp.Post" is already used by schemas.0');
  });

  it("refuses unknown keys at every level, with the full key path", () => {
    const message = invalid({
      ...minimal({ schemas: [{ module: "MyApp.Post", queue: "x", contract: { fields: ["a"], extra: 1 } }] }),
      meilisearch: { url: "http://127.0.0.1:7700", api_key: "x" },
      database: { url: "postgres://h/db", oban_prefix: "public" },
      surprise: true,
    });
    expect(message).toContain("meilisearch.api_key: unknown key (did you mean apiKey?)");
    expect(message).toContain("database.oban_prefix: unknown key (did you mean obanPrefix?)");
    expect(message).toContain("schemas.0.queue: unknown key");
    expect(message).toContain("schemas.0.contract.extra: unknown key");
    expect(message).toContain("surprise: unknown key");
    // Unknown keys are never echoed with their values (they may be credentials).
    expect(message).not.toMatch(/api_key: unknown key.*"x"/);
  });

  it.each(["myapp.post", "MyApp..Post", "MyApp.blog.Post", "My App", "MyApp.Post.", "Elixir.", ""])(
    "refuses the module name %j",
    (module) => {
      expect(invalid(minimal({ schemas: [{ module }] }))).toContain("schemas.0.module: ");
    },
  );

  it.each(["MyApp.Blog.Post", "Post", "Elixir.MyApp.HTTPLog", "MyApp.V2.Post_Item"])(
    "accepts the module name %j",
    (module) => {
      expect(parseConfig(minimal({ schemas: [{ module }] }), ENV).schemas).toHaveLength(1);
    },
  );

  it("refuses non-http(s) Meilisearch URLs and non-identifier Oban prefixes", () => {
    expect(invalid(minimal({ meilisearch: { url: "ftp://127.0.0.1" } }))).toContain(
      "meilisearch.url: expected an http(s) URL",
    );
    expect(invalid(minimal({ meilisearch: { url: "127.0.0.1:7700" } }))).toContain("meilisearch.url: ");
    expect(invalid(minimal({ database: { url: "postgres://h/db", obanPrefix: "Public; DROP" } }))).toContain(
      "database.obanPrefix: expected a Postgres schema name",
    );
  });

  it("refuses a document that is not a mapping, and an empty one", () => {
    expect(invalid("just a string")).toContain("(top level): ");
    const message = invalid(null);
    expect(message).toContain("meilisearch: required");
    expect(message).toContain("database: required");
  });
});

describe("settings spelling", () => {
  it("accepts settings in camelCase or snake_case and normalizes them to snake_case", () => {
    const config = parseConfig(
      minimal({
        schemas: [
          {
            module: "MyApp.Post",
            contract: {
              fields: ["title"],
              filterable: ["status"],
              faceting: {
                attributes: ["status"],
                max_values_per_facet: 20,
                sort_facet_values_by: { status: "count" },
              },
              settings: {
                stopWords: ["the"],
                typo_tolerance: { enabled: false },
                rankingRules: ["words", "typo", "proximity", "attribute", "sort", "exactness"],
                distinctAttribute: "sku",
                someFutureSetting: { a: 1 },
              },
            },
          },
          {
            module: "MyApp.Comment",
            contract: {
              fields: ["body"],
              filterable: ["status"],
              faceting: {
                attributes: ["status"],
                maxValuesPerFacet: 30,
                sortFacetValuesBy: { "*": "count" },
              },
            },
          },
        ],
      }),
      ENV,
    );
    const [post, comment] = config.schemas;
    expect(post?.contract?.settings).toEqual({
      stop_words: ["the"],
      typo_tolerance: { enabled: false },
      ranking_rules: ["words", "typo", "proximity", "attribute", "sort", "exactness"],
      distinct_attribute: "sku",
      // Keys Scrypath does not model pass through as given.
      someFutureSetting: { a: 1 },
    });
    expect(post?.contract?.faceting).toEqual({
      attributes: ["status"],
      maxValuesPerFacet: 20,
      sortFacetValuesBy: { status: "count" },
    });
    expect(comment?.contract?.faceting).toEqual({
      attributes: ["status"],
      maxValuesPerFacet: 30,
      sortFacetValuesBy: { "*": "count" },
    });
  });
});

describe("configPath", () => {
  it("prefers --config, then SCRYPATH_BOT_CONFIG, then ./scrypath-bot.yml", () => {
    const env = { SCRYPATH_BOT_CONFIG: "/etc/from-env.yml" };
    expect(configPath("/tmp/explicit.yml", env)).toBe("/tmp/explicit.yml");
    expect(configPath(undefined, env)).toBe("/etc/from-env.yml");
    expect(configPath(undefined, {})).toBe(resolve(process.cwd(), "scrypath-bot.yml"));
    // Relative paths resolve against the working directory.
    expect(configPath("conf/bot.yml", env)).toBe(resolve(process.cwd(), "conf/bot.yml"));
  });

  it("treats an empty --config or SCRYPATH_BOT_CONFIG as not given", () => {
    expect(configPath(undefined, { SCRYPATH_BOT_CONFIG: "" })).toBe(
      resolve(process.cwd(), "scrypath-bot.yml"),
    );
    expect(configPath("", { SCRYPATH_BOT_CONFIG: "/etc/x.yml" })).toBe("/etc/x.yml");
  });
});

describe("loadConfig", () => {
  it("reads the file named by SCRYPATH_BOT_CONFIG, substituting the environment", () => {
    const dir = tempDir();
    const file = join(dir, "bot.yml");
    writeFileSync(
      file,
      [
        "meilisearch:",
        "  url: ${MEILISEARCH_URL}",
        "database:",
        "  url: ${DATABASE_URL}",
        "schemas:",
        "  - module: MyApp.Post",
        "    alias: posts",
      ].join("\n"),
    );
    const config = loadConfig(undefined, { ...ENV, SCRYPATH_BOT_CONFIG: file });
    expect(config.schemas.map((s) => s.alias)).toEqual(["posts"]);
    // --config wins over the environment variable.
    expect(() => loadConfig(join(dir, "other.yml"), { ...ENV, SCRYPATH_BOT_CONFIG: file })).toThrow(
      /other\.yml/,
    );
  });

  it("reports a missing file with its path and what to do", () => {
    const path = join(tempDir(), "nope.yml");
    const e = errorOf(() => loadConfig(path, ENV));
    expect(e.code).toBe("config_missing");
    expect(e.message).toBe(
      `no configuration file at ${path}; pass --config FILE, set SCRYPATH_BOT_CONFIG, or copy examples/scrypath-bot.yml to ./scrypath-bot.yml`,
    );
  });

  it("reports a YAML syntax error naming the file, without quoting the file's text", () => {
    const file = join(tempDir(), "broken.yml");
    writeFileSync(file, 'meilisearch:\n  url: http://h:7700\n  apiKey: "sk-secret-in-yaml\ndatabase: [\n');
    const e = errorOf(() => loadConfig(file, ENV));
    expect(e.code).toBe("config_invalid");
    expect(e.message).toContain(`${file} is not valid YAML (`);
    expect(e.message).toContain("fix the syntax and run again");
    expect(e.message).not.toContain("\n");
    expect(e.message).not.toContain("sk-secret-in-yaml");
  });

  it("reports a path that cannot be read as a file", () => {
    const dir = tempDir();
    const e = errorOf(() => loadConfig(dir, ENV));
    expect(e.code).toBe("config_invalid");
    expect(e.message).toContain(`cannot read the configuration file ${dir}`);
  });

  it("names the file in validation errors", () => {
    const file = join(tempDir(), "bad.yml");
    writeFileSync(
      file,
      "meilisearch:\n  url: http://h:7700\ndatabase:\n  url: postgres://h/db\n  port: 5432\n",
    );
    expect(() => loadConfig(file, {})).toThrow(
      `invalid configuration in ${file}: database.port: unknown key`,
    );
  });

  it("parses examples/scrypath-bot.yml with the environment set", () => {
    const example = resolve(import.meta.dirname, "../examples/scrypath-bot.yml");
    const config = loadConfig(example, { ...ENV, MEILISEARCH_API_KEY: "example-key" });
    expect(config.meilisearch.apiKey).toBe("example-key");
    expect(config.database).toEqual({
      url: ENV.DATABASE_URL,
      obanPrefix: "public",
      // The bounds' defaults (see "database bounds" below).
      poolSize: 5,
      connectTimeoutMs: 5_000,
      statementTimeoutMs: 8_000,
      queryTimeoutMs: 10_000,
      keepAliveInitialDelayMs: 10_000,
      claimTimeoutMs: 4_000,
    });
    expect(config.schemas.map((s) => [s.module, s.alias, s.syncMode, s.obanQueue])).toEqual([
      ["MyApp.Blog.Post", "posts", "oban", "search_sync"],
      ["MyApp.Catalog.Product", "products", "inline", null],
    ]);
    expect(config.schemas[0]?.contract?.settings).toMatchObject({ stop_words: ["the", "a"] });
    // Without the environment it names what is missing.
    expect(() => loadConfig(example, {})).toThrow(
      /\$\{MEILISEARCH_URL\} is not set.*\$\{DATABASE_URL\} is not set/,
    );
  });
});

describe("withOverrides", () => {
  const config = parseConfig(
    minimal({
      indexPrefix: "file",
      schemas: [
        { module: "MyApp.Post", syncMode: "oban", obanQueue: "search_sync", indexPrefix: "blog" },
        { module: "MyApp.Product" },
      ],
    }),
    ENV,
  );

  it("returns an equal config without overrides", () => {
    expect(withOverrides(config, {})).toEqual(config);
  });

  it("lets the switches win over the file", () => {
    const o = withOverrides(config, {
      indexPrefix: "tenant",
      syncMode: "manual",
      obanQueue: "other_queue",
      meilisearchUrl: "http://10.0.0.1:7700",
    });
    expect(o.indexPrefix).toBe("tenant");
    expect(o.meilisearch.url).toBe("http://10.0.0.1:7700");
    expect(o.schemas.map((s) => [s.syncMode, s.obanQueue])).toEqual([
      ["manual", "other_queue"],
      ["manual", "other_queue"],
    ]);
    // The schema's own prefix is kept; the runtime prefix wins when the index name is built.
    expect(o.schemas[0]?.indexPrefix).toBe("blog");
    // The input is not modified.
    expect(config.indexPrefix).toBe("file");
    expect(config.schemas[1]?.syncMode).toBe("inline");
  });
});

describe("database bounds", () => {
  it("bounds every wait on Postgres by default, and the pool takes them", () => {
    const config = parseConfig(minimal(), ENV);
    expect(config.database).toEqual({
      url: ENV.DATABASE_URL,
      obanPrefix: "public",
      poolSize: 5,
      connectTimeoutMs: 5_000,
      statementTimeoutMs: 8_000,
      queryTimeoutMs: 10_000,
      keepAliveInitialDelayMs: 10_000,
      claimTimeoutMs: 4_000,
    });
    const pool = createPool(config.database.url, poolOptions(config));
    const options = pool.options as unknown as Record<string, unknown>;
    expect(options).toMatchObject({
      max: 5,
      connectionTimeoutMillis: 5_000,
      statement_timeout: 8_000,
      query_timeout: 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    void pool.end();
  });

  it("refuses a client query timeout at or below the server statement timeout, and a claim bound of 5 s", () => {
    const database = { url: "${DATABASE_URL}", statementTimeoutMs: 10_000, queryTimeoutMs: 10_000 };
    expect(invalid(minimal({ database }))).toContain(
      "database.queryTimeoutMs: expected more than statementTimeoutMs (10000)",
    );
    expect(invalid(minimal({ database: { url: "${DATABASE_URL}", claimTimeoutMs: 5_000 } }))).toContain(
      "database.claimTimeoutMs: expected at most 4500",
    );
    expect(invalid(minimal({ database: { url: "${DATABASE_URL}", queryTimeout: 1 } }))).toContain(
      "database.queryTimeout: unknown key (did you mean queryTimeoutMs?)",
    );
  });
});

describe("alerts", () => {
  const schemas = [
    { module: "MyApp.Blog.Post", alias: "posts", syncMode: "oban", obanQueue: "search" },
    { module: "MyApp.Shop.Product" },
  ];

  it("defaults to a 30 s check, a 5 min hold-down, 3 unreadable checks, no subscriptions", () => {
    expect(parseConfig(minimal(), ENV).alerts).toEqual({
      interval: 30,
      resolveAfter: 300,
      unreadableAfter: 3,
      window: 900,
      stuckAfter: null,
      timelineEvery: 120,
      subscriptions: [],
    });
  });

  it("reads durations, resolves subscription schemas and fills in subscription defaults", () => {
    const config = parseConfig(
      minimal({
        schemas,
        alerts: {
          interval: "10s",
          resolveAfter: "2m",
          stuckAfter: "15m",
          subscriptions: [
            { channel: "C0123456789", schemas: ["posts"], on: ["failures", "stuck"], mention: "S0123ABCD" },
            { channel: "G0123456789" },
          ],
        },
      }),
      ENV,
    );
    expect(config.alerts).toMatchObject({ interval: 10, resolveAfter: 120, stuckAfter: 900 });
    expect(config.alerts.subscriptions).toEqual([
      {
        channel: "C0123456789",
        schemas: ["MyApp.Blog.Post"],
        on: ["failures", "stuck"],
        minFailures: 1,
        mention: "S0123ABCD",
      },
      {
        channel: "G0123456789",
        schemas: null,
        on: ["failures", "drift", "unreadable"],
        minFailures: 1,
        mention: null,
      },
    ]);
  });

  it("refuses unknown schemas, unknown conditions, stuck without stuckAfter, and bad ids", () => {
    const message = invalid(
      minimal({
        schemas,
        alerts: {
          subscriptions: [{ channel: "C0123456789", schemas: ["comments"], on: ["stuck"] }],
        },
      }),
    );
    expect(message).toContain(
      'alerts.subscriptions.0.schemas.0: unknown schema "comments"; configured schemas: MyApp.Blog.Post (posts), MyApp.Shop.Product',
    );
    expect(message).toContain("alerts.subscriptions.0.on: the stuck condition needs alerts.stuckAfter");
    const shapes = invalid(
      minimal({ alerts: { subscriptions: [{ channel: "general", on: ["floods"], mention: "@oncall" }] } }),
    );
    expect(shapes).toContain("alerts.subscriptions.0.channel: expected a Slack channel id");
    expect(shapes).toContain("alerts.subscriptions.0.on.0:");
    expect(shapes).toContain("alerts.subscriptions.0.mention: expected a Slack user group id");
  });

  it("suggests the key meant under alerts", () => {
    expect(invalid(minimal({ alerts: { intervall: "30s" } }))).toContain(
      "alerts.intervall: unknown key (did you mean interval?)",
    );
  });
});

describe("access.bulkRetryLimit", () => {
  it("defaults to 1,000 rows (as Oban Web's bulk actions) and takes a positive integer", () => {
    expect(parseConfig(minimal(), ENV).access.bulkRetryLimit).toBe(1000);
    expect(parseConfig(minimal({ access: { bulkRetryLimit: 250 } }), ENV).access.bulkRetryLimit).toBe(250);
  });

  it("refuses zero, negative and fractional limits, naming the key", () => {
    for (const bad of [0, -5, 2.5, "lots"]) {
      expect(invalid(minimal({ access: { bulkRetryLimit: bad } }))).toContain("access.bulkRetryLimit");
    }
  });
});

// The bot's configuration: one YAML file, `${VAR}` substituted from the environment,
// validated by one zod schema. Invalid files are refused with messages that name the key path.
// The schema also gives every default and normalises what it read (module names without
// `Elixir.`, absent optional keys as null, digest schema references resolved); the `Config`
// types are inferred from it.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { cronProblem, isTimeZone } from "./core/cron.ts";
import { stripElixir } from "./core/naming.ts";
import { didYouMean, resolveSchemaRef } from "./core/schemaRef.ts";
import { normalizeSettings } from "./core/settings.ts";
import type { SchemaContract, SyncMode } from "./core/types.ts";
import { OperatorError } from "./errors.ts";

const MODULE_PATTERN = /^(Elixir\.)?[A-Z][A-Za-z0-9_]*(\.[A-Z][A-Za-z0-9_]*)*$/;
const IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]*$/;

const nonEmpty = z.string().trim().min(1, "expected a non-empty string");
/** An optional key whose absence reads as null. */
const orNull = <T extends z.ZodType>(schema: T) => schema.optional().transform((value) => value ?? null);
/** Seconds, or a string such as "15m", "1h", "90s". */
const duration = z.union([
  z.number().int().positive(),
  z.string().regex(/^[1-9][0-9]*[smh]$/, 'expected a duration such as "15m"'),
]);
const names = z.array(nonEmpty).default([]);

const facetingSchema = z
  .object({
    attributes: names,
    maxValuesPerFacet: z.number().int().positive().optional(),
    max_values_per_facet: z.number().int().positive().optional(),
    sortFacetValuesBy: z.record(z.string(), z.enum(["alpha", "count"])).optional(),
    sort_facet_values_by: z.record(z.string(), z.enum(["alpha", "count"])).optional(),
  })
  .strict()
  .transform((f) => ({
    attributes: f.attributes,
    maxValuesPerFacet: f.maxValuesPerFacet ?? f.max_values_per_facet ?? 100,
    sortFacetValuesBy: f.sortFacetValuesBy ?? f.sort_facet_values_by ?? {},
  }));

const contractSchema = z
  .object({
    fields: z.array(nonEmpty).min(1, "expected at least one field"),
    filterable: names,
    sortable: names,
    faceting: facetingSchema.optional(),
    settings: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const attr of c.faceting?.attributes ?? []) {
      if (!c.filterable.includes(attr)) {
        ctx.addIssue({
          code: "custom",
          path: ["faceting", "attributes"],
          message: `facet attribute "${attr}" must also be listed in filterable`,
        });
      }
    }
  });

function toContract(raw: z.output<typeof contractSchema>): SchemaContract {
  const { recognized, unrecognized } = normalizeSettings(raw.settings);
  return {
    fields: raw.fields,
    filterable: raw.filterable,
    sortable: raw.sortable,
    faceting: raw.faceting ?? null,
    settings: { ...recognized, ...unrecognized },
  };
}

const handOffWorkerSchema = z
  .object({
    worker: z
      .string()
      .regex(MODULE_PATTERN, "expected an Elixir module name such as MyApp.Search.ReindexWorker"),
    queue: nonEmpty,
    /** A rebuild is heavy: by default Oban does not re-run a failed hand-off by itself. */
    maxAttempts: z.number().int().positive().default(1),
  })
  .strict();
const handOffWorker = orNull(handOffWorkerSchema.transform((w) => ({ ...w, worker: stripElixir(w.worker) })));

const schemaEntry = z
  .object({
    /** Module name; read without the `Elixir.` prefix, e.g. `MyApp.Blog.Post`. */
    module: z
      .string()
      .regex(MODULE_PATTERN, "expected an Elixir module name such as MyApp.Blog.Post")
      .transform(stripElixir),
    alias: orNull(nonEmpty),
    syncMode: z.enum(["inline", "manual", "oban"]).default("inline"),
    obanQueue: orNull(nonEmpty),
    obanMaxAttempts: z.number().int().positive().default(8),
    indexPrefix: orNull(nonEmpty),
    contract: orNull(contractSchema.transform(toContract)),
    reindexWorker: handOffWorker,
    backfillWorker: handOffWorker,
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.syncMode === "oban" && !s.obanQueue) {
      ctx.addIssue({
        code: "custom",
        path: ["obanQueue"],
        message: "obanQueue is required when syncMode is oban",
      });
    }
  });

/** A scheduled digest (src/digest): which schemas, when, in which time zone, posted where. */
const digestEntry = z
  .object({
    name: z
      .string()
      .max(64, "expected at most 64 characters")
      .regex(/^[a-z0-9-]+$/, "expected lower-case letters, digits and dashes, such as search-morning"),
    channel: z.string().regex(/^[CG][A-Z0-9]+$/, "expected a Slack channel id such as C0123456789"),
    /** node-cron syntax, five fields (minute hour day-of-month month day-of-week). */
    cron: z
      .string()
      .trim()
      .superRefine((value, ctx) => {
        const problem = cronProblem(value);
        if (problem)
          ctx.addIssue({ code: "custom", message: `invalid cron expression "${value}": ${problem}` });
      }),
    /** IANA name; the cron expression is read in this zone. */
    timezone: z
      .string()
      .trim()
      .default("UTC")
      .superRefine((value, ctx) => {
        if (!isTimeZone(value)) {
          ctx.addIssue({
            code: "custom",
            message: `unknown time zone "${value}"; use an IANA name such as Europe/Berlin or America/New_York`,
          });
        }
      }),
    /** Schema references (module, alias or short name); all configured schemas when left out. */
    schemas: z
      .array(nonEmpty)
      .min(1, "expected at least one schema, or leave schemas out for all")
      .optional(),
    /** always: every slot; degraded: only when posture is not ok; changed: only when the content changed. */
    when: z.enum(["always", "degraded", "changed"]).default("changed"),
    /** User group mentioned when the digest is degraded. */
    mention: orNull(z.string().regex(/^S[A-Z0-9]+$/, "expected a Slack user group id such as S0123ABCD")),
  })
  .strict();

/** What an alert watches for (src/alerts): see src/core/alerts.ts for when each is true. */
export const ALERT_CONDITION_NAMES = ["failures", "drift", "unreadable", "stuck"] as const;
const alertCondition = z.enum(ALERT_CONDITION_NAMES);
const usergroup = z.string().regex(/^S[A-Z0-9]+$/, "expected a Slack user group id such as S0123ABCD");

/** A channel's alert subscription kept in code review (besides those made with /scrypath watch). */
const subscriptionEntry = z
  .object({
    channel: z.string().regex(/^[CG][A-Z0-9]+$/, "expected a Slack channel id such as C0123456789"),
    /** Schema references (module, alias or short name); every configured schema when left out. */
    schemas: z
      .array(nonEmpty)
      .min(1, "expected at least one schema, or leave schemas out for all")
      .optional(),
    on: z
      .array(alertCondition)
      .min(1, "expected at least one condition")
      .default(["failures", "drift", "unreadable"]),
    /** Terminal failures within `alerts.window` before the failures alert opens. */
    minFailures: z.number().int().positive().default(1),
    /** User group mentioned when an alert opens (never on edits). */
    mention: orNull(usergroup),
  })
  .strict();

const alertsSection = z
  .object({
    /** How often each schema is checked: seconds, or "30s". */
    interval: duration.default("30s").transform(durationSeconds),
    /** How long a cleared condition must stay false before its card resolves (flapping reopens the same card). */
    resolveAfter: duration.default("5m").transform(durationSeconds),
    /** Consecutive failed checks before "unreadable" opens. */
    unreadableAfter: z.number().int().positive().default(3),
    /** Terminal failures count toward the failures alert while they are younger than this. */
    window: duration.default("15m").transform(durationSeconds),
    /** Pending work older than this makes the optional stuck-queue condition true; null: not checked. */
    stuckAfter: orNull(duration.transform(durationSeconds)),
    /** At most one timeline message per alert thread this often (changes in between are grouped). */
    timelineEvery: duration.default("2m").transform(durationSeconds),
    subscriptions: z.array(subscriptionEntry).default([]),
  })
  .strict();

const configObject = z
  .object({
    meilisearch: z
      .object({
        url: z
          .url({ protocol: /^https?$/, message: "expected an http(s) URL" })
          .transform((url) => url.replace(/\/+$/, "")),
        apiKey: orNull(nonEmpty),
        timeoutMs: z.number().int().positive().default(10_000),
        /** How long mutations wait for their Meilisearch task (swap, settings). */
        taskWaitMs: z.number().int().positive().default(15_000),
      })
      .strict(),
    database: z
      .object({
        url: nonEmpty,
        obanPrefix: z.string().regex(IDENTIFIER_PATTERN, "expected a Postgres schema name").default("public"),
        /** Connections the bot keeps open at most (per process). */
        poolSize: z.number().int().positive().max(100).default(5),
        /** Opening a connection, and waiting for a free one of the pool. */
        connectTimeoutMs: z.number().int().positive().default(5_000),
        /** Server side (`statement_timeout`): Postgres cancels a longer statement. */
        statementTimeoutMs: z.number().int().positive().default(8_000),
        /** Client side: a query without an answer by then fails and its connection is dropped. */
        queryTimeoutMs: z.number().int().positive().default(10_000),
        /** TCP keepalive: probes start after this much idle time on a connection. */
        keepAliveInitialDelayMs: z.number().int().positive().default(10_000),
        /** A Confirm click takes its request within this, or says Postgres did not answer (< 5 s). */
        claimTimeoutMs: z
          .number()
          .int()
          .positive()
          .max(4_500, "expected at most 4500 (a click answers within 5 s)")
          .default(4_000),
      })
      .strict()
      .superRefine((d, ctx) => {
        if (d.queryTimeoutMs <= d.statementTimeoutMs) {
          ctx.addIssue({
            code: "custom",
            path: ["queryTimeoutMs"],
            message: `expected more than statementTimeoutMs (${d.statementTimeoutMs}), so Postgres cancels a slow statement before the bot gives up on its connection`,
          });
        }
      }),
    indexPrefix: orNull(nonEmpty),
    schemas: z.array(schemaEntry).default([]),
    slack: z
      .object({
        /** URL templates with {id}, {queue}, {index}, {schema} placeholders. */
        dashboardLinks: z
          .object({ job: z.url().optional(), index: z.url().optional(), runbook: z.url().optional() })
          .strict()
          .default({}),
        /** How long the thread reply follows a retry before it says "timed out": seconds, or "5m". */
        verifyTimeout: duration.default("5m").transform(durationSeconds),
      })
      .strict()
      .prefault({}),
    access: z
      .object({
        /** Channel ids where the bot answers; empty means everywhere. */
        channels: z
          .array(z.string().regex(/^[CGD][A-Z0-9]+$/, "expected a Slack channel id such as C0123456789"))
          .default([]),
        /** Who may request and confirm mutations. Empty means nobody: deny by default. */
        operators: z
          .object({
            users: z
              .array(z.string().regex(/^[UW][A-Z0-9]+$/, "expected a Slack user id such as U0123ABCD"))
              .default([]),
            usergroups: z
              .array(z.string().regex(/^S[A-Z0-9]+$/, "expected a Slack user group id such as S0123ABCD"))
              .default([]),
          })
          .strict()
          .prefault({}),
        /** The requester cannot confirm their own request. */
        twoPersonRule: z.boolean().default(false),
        /** How long a confirmation card stays valid: seconds, or "15m", "1h", "90s". */
        confirmationTtl: duration.default("15m").transform(durationSeconds),
        /**
         * Who may read (and --share) the audit log from Slack: it names actors and refusal reasons.
         * `operators` (default) or `everyone` in the allowed channels.
         */
        auditReaders: z.enum(["operators", "everyone"]).default("operators"),
        /** The most rows one bulk retry may replay (as Oban Web's bulk actions); above it, narrow the filter. */
        bulkRetryLimit: z.number().int().positive().default(1000),
        /** Rows one bulk retry replays per transaction (each batch commits whole, or not at all). */
        bulkRetryBatchSize: z.number().int().min(1).max(1000).default(100),
      })
      .strict()
      .prefault({}),
    /** The bot's own tables (audit log, replay links, settings changes) live in this Postgres schema. */
    state: z
      .object({
        schema: z
          .string()
          .regex(IDENTIFIER_PATTERN, "expected a Postgres schema name")
          .default("scrypath_bot"),
      })
      .strict()
      .prefault({}),
    digests: z.array(digestEntry).default([]),
    /** How late a digest may still be posted after its slot (catch-up after downtime): seconds, or "1h". */
    digestGrace: duration.default("1h").transform(durationSeconds),
    /** Live alerts for on-call channels (src/alerts). */
    alerts: alertsSection.prefault({}),
  })
  .strict();

const configSchema = configObject
  .superRefine((c, ctx) => {
    const seen = new Map<string, number>();
    c.schemas.forEach((s, i) => {
      for (const name of [stripElixir(s.module), s.alias].filter(Boolean) as string[]) {
        const first = seen.get(name);
        if (first !== undefined && first !== i) {
          ctx.addIssue({
            code: "custom",
            path: ["schemas", i],
            message: `"${name}" is already used by schemas.${first}`,
          });
        }
        seen.set(name, i);
      }
    });
    digestIssues(c, ctx);
    subscriptionIssues(c, ctx);
  })
  .transform((c) => ({
    ...c,
    digests: c.digests.map((d) => ({
      ...d,
      /** Resolved module names; null means every configured schema. */
      schemas: d.schemas ? resolvedModules(d.schemas, c.schemas) : null,
    })),
    alerts: {
      ...c.alerts,
      subscriptions: c.alerts.subscriptions.map((s) => ({
        ...s,
        /** Resolved module names; null means every configured schema. */
        schemas: s.schemas ? resolvedModules(s.schemas, c.schemas) : null,
      })),
    },
  }));

/** Digest names are unique, and every schema a digest names resolves to one configured schema. */
function digestIssues(
  c: {
    schemas: { module: string; alias: string | null }[];
    digests: { name: string; schemas?: string[] }[];
  },
  ctx: z.RefinementCtx,
): void {
  const names = new Map<string, number>();
  c.digests.forEach((d, i) => {
    const first = names.get(d.name);
    if (first !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["digests", i, "name"],
        message: `"${d.name}" is already used by digests.${first}`,
      });
    } else names.set(d.name, i);
    schemaRefIssues(d.schemas, c.schemas, ["digests", i], ctx);
  });
}

/** Every schema reference of a list resolves to one configured schema. */
function schemaRefIssues(
  refs: string[] | undefined,
  schemas: { module: string; alias: string | null }[],
  path: (string | number)[],
  ctx: z.RefinementCtx,
): void {
  const configured = schemas.map((s) => stripElixir(s.module) + (s.alias ? ` (${s.alias})` : ""));
  refs?.forEach((ref, j) => {
    const found = resolveSchemaRef(ref, schemas);
    if (found.ok) return;
    const message =
      found.reason === "ambiguous"
        ? `schema "${ref}" is ambiguous: it matches ${found.candidates.join(", ")}; use the full module name`
        : `unknown schema "${ref}"; configured schemas: ${configured.length > 0 ? configured.join(", ") : "none"}`;
    ctx.addIssue({ code: "custom", path: [...path, "schemas", j], message });
  });
}

/** Alert subscriptions name configured schemas, and ask for "stuck" only when stuckAfter is set. */
function subscriptionIssues(
  c: {
    schemas: { module: string; alias: string | null }[];
    alerts: { stuckAfter: number | null; subscriptions: { schemas?: string[]; on: string[] }[] };
  },
  ctx: z.RefinementCtx,
): void {
  c.alerts.subscriptions.forEach((sub, i) => {
    schemaRefIssues(sub.schemas, c.schemas, ["alerts", "subscriptions", i], ctx);
    if (sub.on.includes("stuck") && c.alerts.stuckAfter === null) {
      ctx.addIssue({
        code: "custom",
        path: ["alerts", "subscriptions", i, "on"],
        message: 'the stuck condition needs alerts.stuckAfter (pending work older than, such as "15m")',
      });
    }
  });
}

export type Config = z.output<typeof configSchema>;
export type SchemaConfig = Config["schemas"][number];
export type HandOffWorker = NonNullable<SchemaConfig["reindexWorker"]>;
export type DigestConfig = Config["digests"][number];
export type AlertsConfig = Config["alerts"];
export type AlertSubscriptionConfig = AlertsConfig["subscriptions"][number];

function durationSeconds(value: number | string): number {
  if (typeof value === "number") return value;
  const n = Number(value.slice(0, -1));
  return value.endsWith("h") ? n * 3600 : value.endsWith("m") ? n * 60 : n;
}

/** Runtime overrides, as the mix tasks' switches (`--index-prefix`, `--sync-mode`, …). */
export interface ConfigOverrides {
  indexPrefix?: string;
  syncMode?: SyncMode;
  meilisearchUrl?: string;
  obanQueue?: string;
}

/** Replace `${VAR}` in every string value; remember which paths referenced unset variables. */
function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: string[],
  unset: Map<string, string>,
): unknown {
  if (typeof value === "string") {
    const replaced = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined || v === "") unset.set(path.join("."), name);
      return v ?? "";
    });
    // A value that was only an unset variable counts as absent, so optional keys stay optional.
    return replaced === "" && value !== "" ? undefined : replaced;
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...path, String(i)], unset));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, [...path, k], unset)]),
    );
  }
  return value;
}

/** The keys each object level accepts, for "did you mean" hints on unknown keys. */
const KNOWN_KEYS: Record<string, string[]> = {
  "": Object.keys(configObject.shape),
  meilisearch: Object.keys(configObject.shape.meilisearch.shape),
  database: Object.keys(configObject.shape.database.shape),
  "schemas.*": Object.keys(schemaEntry.shape),
  "schemas.*.contract": Object.keys(contractSchema.shape),
  "schemas.*.contract.faceting": Object.keys(facetingSchema.in.shape),
  "schemas.*.reindexWorker": Object.keys(handOffWorkerSchema.shape),
  "schemas.*.backfillWorker": Object.keys(handOffWorkerSchema.shape),
  "digests.*": Object.keys(digestEntry.shape),
  alerts: Object.keys(alertsSection.shape),
  "alerts.subscriptions.*": Object.keys(subscriptionEntry.shape),
};

function describeIssue(issue: z.core.$ZodIssue, unset: Map<string, string>): string[] {
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") {
    const known = KNOWN_KEYS[path.map((p) => (/^\d+$/.test(p) ? "*" : p)).join(".")] ?? [];
    return issue.keys.map((key) => {
      const hint = didYouMean(key, known);
      return `${[...path, key].join(".")}: unknown key${hint ? ` (did you mean ${hint}?)` : ""}`;
    });
  }
  const where = path.join(".") || "(top level)";
  const variable = unset.get(path.join("."));
  const message =
    issue.code === "invalid_type" && / received undefined$/.test(issue.message) ? "required" : issue.message;
  return [`${where}: ${message}${variable ? ` (\${${variable}} is not set)` : ""}`];
}

/**
 * An invalid configuration: every problem as `key.path: what is wrong`. The message holds them on
 * one line, separated by semicolons (logs, Slack); a terminal prints one line per problem.
 */
export class ConfigInvalidError extends OperatorError {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super("config_invalid", `invalid configuration in ${source}: ${problems.join("; ")}`);
  }
}

/**
 * What a terminal prints for a start-up error: one line per problem of an invalid configuration
 * (after a heading naming the file), else the message as one line.
 */
export function errorLines(error: unknown, prefix: string): string[] {
  if (error instanceof ConfigInvalidError && error.problems.length > 1) {
    return [`${prefix}invalid configuration in ${error.source}:`, ...error.problems.map((p) => `  ${p}`)];
  }
  return [`${prefix}${(error as Error)?.message ?? String(error)}`];
}

function formatIssues(error: z.ZodError, unset: Map<string, string>, source: string): ConfigInvalidError {
  return new ConfigInvalidError(
    source,
    error.issues.flatMap((issue) => describeIssue(issue, unset)),
  );
}

/** Validate an already-parsed config object (YAML document or test fixture). */
export function parseConfig(input: unknown, env: NodeJS.ProcessEnv = process.env, source = "config"): Config {
  const unset = new Map<string, string>();
  const substituted = substituteEnv(input ?? {}, env, [], unset);
  const result = configSchema.safeParse(substituted);
  if (!result.success) throw formatIssues(result.error, unset, source);
  return result.data;
}

/** Module names (without `Elixir.`) of already validated schema references, without repeats. */
function resolvedModules(
  refs: string[],
  schemas: readonly { module: string; alias: string | null }[],
): string[] {
  const modules = refs.flatMap((ref) => {
    const found = resolveSchemaRef(ref, schemas);
    return found.ok ? [stripElixir(found.schema.module)] : [];
  });
  return [...new Set(modules)];
}

/** Path from `--config`, else `SCRYPATH_BOT_CONFIG`, else `./scrypath-bot.yml`. */
export function configPath(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  // An empty value (`--config=` or `SCRYPATH_BOT_CONFIG=`) counts as not given.
  return resolve(explicit || env.SCRYPATH_BOT_CONFIG || "scrypath-bot.yml");
}

export function loadConfig(explicit?: string, env: NodeJS.ProcessEnv = process.env): Config {
  const path = configPath(explicit, env);
  if (!existsSync(path)) {
    throw new OperatorError(
      "config_missing",
      `no configuration file at ${path}; pass --config FILE, set SCRYPATH_BOT_CONFIG, or copy examples/scrypath-bot.yml to ./scrypath-bot.yml`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new OperatorError(
      "config_invalid",
      `cannot read the configuration file ${path} (${reason}); check the path and its permissions`,
      null,
      { cause: error },
    );
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    // Only the first line: the rest of the YAML error is a code frame that can quote secrets.
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new OperatorError(
      "config_invalid",
      `${path} is not valid YAML (${reason?.replace(/:$/, "")}); fix the syntax and run again`,
      null,
      { cause: error },
    );
  }
  return parseConfig(document, env, path);
}

/** Apply runtime overrides the way the mix tasks' switches do: they win over the file. */
export function withOverrides(config: Config, overrides: ConfigOverrides): Config {
  return {
    ...config,
    meilisearch: {
      ...config.meilisearch,
      url: overrides.meilisearchUrl?.replace(/\/+$/, "") ?? config.meilisearch.url,
    },
    indexPrefix: overrides.indexPrefix ?? config.indexPrefix,
    schemas: config.schemas.map((s) => {
      const syncMode = overrides.syncMode ?? s.syncMode;
      return { ...s, syncMode, obanQueue: overrides.obanQueue ?? s.obanQueue };
    }),
  };
}

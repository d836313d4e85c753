// What the benchmark seeds: the Scrypath deployment (schemas, queues, indexes), the mix of Oban
// jobs per 1,000 ids, and the Oban error texts. Pure data; bench/seed.ts turns it into rows.
import { deleteArgs, upsertArgs } from "../devkit/oban/jobArgs.ts";

/** The schema every figure is about. */
export const BENCH_SCHEMA = {
  module: "MyApp.Blog.Post",
  alias: "posts",
  queue: "search_sync",
  maxAttempts: 8,
  /** Last segment of the live index name: `<indexPrefix>_post`. */
  indexSuffix: "post",
} as const;

/** Every Scrypath schema of the deployment; the others share the queue or use their own. */
export const SCHEMAS = [
  BENCH_SCHEMA,
  {
    module: "MyApp.Catalog.Product",
    alias: "products",
    queue: "search_sync",
    maxAttempts: 8,
    indexSuffix: "product",
  },
  {
    module: "MyApp.Accounts.User",
    alias: "users",
    queue: "search_sync",
    maxAttempts: 8,
    indexSuffix: "user",
  },
  { module: "MyApp.Media.Asset", alias: "assets", queue: "media_sync", maxAttempts: 5, indexSuffix: "asset" },
] as const;

type SchemaName = (typeof SCHEMAS)[number]["alias"];

// Oban error texts, as `Exception.format/3` renders them into `errors[].error`: a headline and a
// stack trace, a few hundred bytes. Line numbers avoid 401/403/408/429/5xx, which the reason
// classifier reads as HTTP statuses (whole words); variable numbers have five or more digits.
const STACK = [
  "    (scrypath 0.6.1) lib/scrypath/meilisearch/client.ex:72: Scrypath.Meilisearch.Client.request/4",
  "    (scrypath 0.6.1) lib/scrypath/oban/{{op}}_worker.ex:38: {{worker}}.perform/1",
  "    (oban 2.19.4) lib/oban/queue/executor.ex:145: Oban.Queue.Executor.perform/1",
  "    (oban 2.19.4) lib/oban/queue/executor.ex:77: Oban.Queue.Executor.call/1",
  "    (elixir 1.18.3) lib/task/supervised.ex:101: Task.Supervised.invoke_mfa/2",
  "    (elixir 1.18.3) lib/task/supervised.ex:36: Task.Supervised.reply/4",
].join("\n");

const DOC_STACK = [
  "    (ecto 3.12.5) lib/ecto/changeset.ex:681: Ecto.Changeset.cast/4",
  "    (my_app 1.4.2) lib/my_app/blog/post.ex:88: MyApp.Blog.Post.search_document/1",
  "    (scrypath 0.6.1) lib/scrypath/document.ex:57: Scrypath.Document.build/2",
  '    (elixir 1.18.3) lib/enum.ex:1714: Enum."-map/2-lists^map/1-1-"/2',
  STACK,
].join("\n");

/** Error texts by key, and the reason class core/reasonClass gives each (`queue_exhausted` when discarded). */
export const ERROR_TEXTS = {
  cast: {
    cls: "validation",
    text: `** (Ecto.CastError) expected params to be a map with atoms or string keys, got a map with mixed keys: %{:title => "Draft", "body" => "..."}\n${DOC_STACK}`,
  },
  argument: {
    cls: "validation",
    text: `** (ArgumentError) errors were found at the given arguments:\n\n  * 1st argument: not a textual representation of an integer\n\n    :erlang.binary_to_integer("post-draft")\n${DOC_STACK}`,
  },
  timeout: {
    cls: "transport",
    text: `** (Req.TransportError) timeout\n    (req 0.5.10) lib/req.ex:1112: Req.request!/2\n${STACK}`,
  },
  closed: {
    cls: "transport",
    text: `** (Mint.TransportError) socket closed\n    (req 0.5.10) lib/req/steps.ex:998: Req.Steps.run_finch_request/3\n    (req 0.5.10) lib/req.ex:1112: Req.request!/2\n${STACK}`,
  },
  http429: {
    cls: "transport",
    text: `** (Scrypath.Meilisearch.Error) Meilisearch answered HTTP 429 (too_many_requests): too many requests, slow down\n    (scrypath 0.6.1) lib/scrypath/meilisearch/error.ex:31: Scrypath.Meilisearch.Error.from_response/2\n${STACK}`,
  },
  http503: {
    cls: "transport",
    text: `** (Scrypath.Meilisearch.Error) Meilisearch answered HTTP 503 (service_unavailable): the server is busy\n    (scrypath 0.6.1) lib/scrypath/meilisearch/error.ex:31: Scrypath.Meilisearch.Error.from_response/2\n${STACK}`,
  },
  invalidState: {
    cls: "backend_rejected",
    text: `** (Scrypath.Meilisearch.Error) task 7731894 failed: invalid_state: the index is being swapped, retry after the swap\n    (scrypath 0.6.1) lib/scrypath/meilisearch/tasks.ex:64: Scrypath.Meilisearch.Tasks.await!/3\n${STACK}`,
  },
  dbSize: {
    cls: "backend_rejected",
    text: `** (Scrypath.Meilisearch.Error) task 7731962 failed: database_size_limit_reached: the database has reached its maximum size\n    (scrypath 0.6.1) lib/scrypath/meilisearch/tasks.ex:64: Scrypath.Meilisearch.Tasks.await!/3\n${STACK}`,
  },
  keyError: {
    cls: "unknown",
    text: `** (KeyError) key :slug not found in: %{id: 1842137, title: "Release notes", body: "...", author_id: 77310}\n    (my_app 1.4.2) lib/my_app/blog/post.ex:91: MyApp.Blog.Post.search_document/1\n${STACK}`,
  },
  exit: {
    cls: "unknown",
    text: `** (exit) exited in: GenServer.call(MyApp.Search.Throttle, {:acquire, :search_sync}, 15000)\n    ** (EXIT) no process: the process is not alive or there's no process currently associated with the given name\n    (elixir 1.18.3) lib/gen_server.ex:1128: GenServer.call/3\n${STACK}`,
  },
  functionClause: {
    cls: "unknown",
    text: `** (FunctionClauseError) no function clause matching in MyApp.Blog.Post.search_document/1\n\n    The following arguments were given to MyApp.Blog.Post.search_document/1:\n\n        # 1\n        nil\n\n${DOC_STACK}`,
  },
  boom: {
    cls: "unknown",
    text: `** (RuntimeError) boom\n    (my_app 1.4.2) lib/my_app/search/hooks.ex:23: MyApp.Search.Hooks.before_sync/1\n${STACK}`,
  },
  cancelInvalid: {
    cls: "backend_rejected",
    text: `** (Oban.PerformError) {{worker}} failed with {:cancel, :invalid_state}\n    (oban 2.19.4) lib/oban/queue/executor.ex:261: Oban.Queue.Executor.handle_return/1\n${STACK}`,
  },
  cancelCast: {
    cls: "validation",
    text: `** (Oban.PerformError) {{worker}} failed with {:cancel, %Ecto.CastError{type: :map, value: "not a map"}}\n    (oban 2.19.4) lib/oban/queue/executor.ex:261: Oban.Queue.Executor.handle_return/1\n${STACK}`,
  },
  mailer: {
    cls: "unknown",
    text: `** (Swoosh.DeliveryError) delivery failed: {:api_error, 422, "invalid recipient"}\n    (swoosh 1.17.2) lib/swoosh/mailer.ex:64: Swoosh.Mailer.deliver!/2\n    (my_app 1.4.2) lib/my_app/mailer/delivery_worker.ex:19: MyApp.Mailer.DeliveryWorker.perform/1\n    (oban 2.19.4) lib/oban/queue/executor.ex:145: Oban.Queue.Executor.perform/1`,
  },
} as const;

export type ErrorKey = keyof typeof ERROR_TEXTS;
/** `none`: a job cancelled from outside (Oban.cancel_job/1) has no error entry. */
export type ErrorPick = ErrorKey | "none";

/** Weighted picks (one entry = 5 %) of the newest error's text, per failed state. */
export const ERROR_MIX: Record<"retryable" | "discarded" | "cancelled" | "other", ErrorPick[]> = {
  retryable: [
    "cast",
    "cast",
    "argument",
    "timeout",
    "timeout",
    "timeout",
    "closed",
    "http429",
    "http429",
    "http503",
    "invalidState",
    "invalidState",
    "dbSize",
    "keyError",
    "keyError",
    "keyError",
    "exit",
    "exit",
    "functionClause",
    "boom",
  ],
  discarded: [
    "cast",
    "cast",
    "cast",
    "argument",
    "timeout",
    "timeout",
    "http429",
    "invalidState",
    "invalidState",
    "dbSize",
    "boom",
    "boom",
    "boom",
    "boom",
    "boom",
    "boom",
    "boom",
    "boom",
    "functionClause",
    "keyError",
  ],
  cancelled: [
    "none",
    "none",
    "none",
    "none",
    "none",
    "none",
    "none",
    "none",
    "none",
    "none",
    "cancelInvalid",
    "cancelInvalid",
    "cancelInvalid",
    "cancelInvalid",
    "cancelInvalid",
    "cancelCast",
    "cancelCast",
    "cancelCast",
    "timeout",
    "http429",
  ],
  other: ["mailer", "mailer", "timeout", "closed", "boom"],
};

export type JobKind = { scrypath: SchemaName } | { worker: "mailer" | "invoice" };

export interface MixEntry {
  /** Ids per 1,000 (the entries add up to exactly 1,000). */
  per1000: number;
  kind: JobKind;
  queue: string;
  state: "available" | "scheduled" | "executing" | "retryable" | "completed" | "discarded" | "cancelled";
}

const s =
  (name: SchemaName, queue: string) =>
  (state: MixEntry["state"], per1000: number): MixEntry => ({
    per1000,
    kind: { scrypath: name },
    queue,
    state,
  });
const post = s("posts", "search_sync");
const product = s("products", "search_sync");
const user = s("users", "search_sync");
const asset = s("assets", "media_sync");
const mailer = (state: MixEntry["state"], per1000: number): MixEntry => ({
  per1000,
  kind: { worker: "mailer" },
  queue: "mailers",
  state,
});
const invoice = (state: MixEntry["state"], per1000: number): MixEntry => ({
  per1000,
  kind: { worker: "invoice" },
  queue: "default",
  state,
});

/**
 * The job mix. Row g lands in slot (g · 7919) mod 1000, so every run of 1,000 consecutive ids
 * holds each entry exactly `per1000` times, interleaved: no schema's rows are contiguous.
 */
export const JOB_MIX: MixEntry[] = [
  post("completed", 150),
  post("available", 3),
  post("scheduled", 3),
  post("executing", 1),
  post("retryable", 20),
  post("discarded", 30),
  post("cancelled", 10),
  product("completed", 180),
  product("available", 2),
  product("retryable", 4),
  product("discarded", 4),
  product("cancelled", 2),
  user("completed", 120),
  user("available", 1),
  user("retryable", 2),
  user("discarded", 2),
  asset("completed", 100),
  asset("available", 1),
  asset("discarded", 2),
  mailer("completed", 180),
  mailer("available", 5),
  mailer("retryable", 2),
  mailer("discarded", 3),
  invoice("completed", 160),
  invoice("scheduled", 10),
  invoice("discarded", 3),
];

export const WORKERS = {
  upsert: "Scrypath.Oban.UpsertWorker",
  delete: "Scrypath.Oban.DeleteWorker",
  mailer: "MyApp.Mailer.DeliveryWorker",
  invoice: "MyApp.Billing.InvoiceWorker",
} as const;

/** Args of a Scrypath job without its ids/documents (the seed SQL fills those per row). */
export function scrypathArgTemplates(module: string, index: string) {
  return { upsert: upsertArgs(module, index, []), delete: deleteArgs(module, index, []) };
}

// Meilisearch: how many tasks of each kind the seed enqueues (each call = one task).
export const MEILI_TASKS = {
  live: { succeededAdds: 3000, missingPrimaryKey: 600, invalidId: 600, deletions: 200 },
  reindex: { settingsUpdates: 2, succeededAdds: 400, invalidId: 20 },
  others: { succeededAdds: 500, missingPrimaryKey: 40, deletions: 40 },
} as const;

/** The bot's configuration (as the YAML file would hold it) for a seeded bench deployment. */
export function benchConfigObject(at: {
  meilisearchUrl: string;
  meilisearchApiKey: string | null;
  databaseUrl: string;
  obanPrefix: string;
  indexPrefix: string;
  stateSchema: string;
}): Record<string, unknown> {
  return {
    meilisearch: {
      url: at.meilisearchUrl,
      ...(at.meilisearchApiKey ? { apiKey: at.meilisearchApiKey } : {}),
    },
    database: { url: at.databaseUrl, obanPrefix: at.obanPrefix },
    indexPrefix: at.indexPrefix,
    state: { schema: at.stateSchema },
    schemas: SCHEMAS.map((s) => ({
      module: s.module,
      alias: s.alias,
      syncMode: "oban",
      obanQueue: s.queue,
      obanMaxAttempts: s.maxAttempts,
    })),
  };
}

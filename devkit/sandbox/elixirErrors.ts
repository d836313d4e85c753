// What an Elixir application's Oban jobs record when a Scrypath worker raises: the exception's
// message line, then its stack trace lines, as Oban stores them in `oban_jobs.errors`. The demo
// deployment's seeded rows (seed.ts) and the sandbox's worker (worker.ts) write these texts.

/** An Elixir exception as Oban records it: the message, then the stack trace lines. */
export function elixirError(message: string, frames: string[]): string {
  return [message, ...frames.map((f) => `    ${f}`)].join("\n");
}

export const FRAMES = {
  req: "(req 0.5.15) lib/req.ex:1116: Req.request!/2",
  client: "(scrypath 0.7.1) lib/scrypath/meilisearch/client.ex:74: Scrypath.Meilisearch.Client.request/3",
  upsert: "(scrypath 0.7.1) lib/scrypath/oban/upsert_worker.ex:38: Scrypath.Oban.UpsertWorker.perform/1",
  delete: "(scrypath 0.7.1) lib/scrypath/oban/delete_worker.ex:27: Scrypath.Oban.DeleteWorker.perform/1",
  projection: "(scrypath 0.7.1) lib/scrypath/document.ex:112: Scrypath.Document.project/2",
  executor: "(oban 2.20.1) lib/oban/queue/executor.ex:143: Oban.Queue.Executor.perform/1",
  call: "(oban 2.20.1) lib/oban/queue/executor.ex:75: Oban.Queue.Executor.call/1",
  task: "(elixir 1.18.4) lib/task/supervised.ex:101: Task.Supervised.invoke_mfa/2",
};

export const ERRORS = {
  timeout: elixirError("** (Req.TransportError) timeout", [
    FRAMES.req,
    FRAMES.client,
    FRAMES.upsert,
    FRAMES.executor,
    FRAMES.call,
    FRAMES.task,
  ]),
  unavailable: elixirError(
    "** (Scrypath.Meilisearch.Error) Meilisearch answered HTTP 503 Service Unavailable for POST /indexes/prod_post/documents",
    [FRAMES.client, FRAMES.upsert, FRAMES.executor, FRAMES.call],
  ),
  closed: elixirError("** (Mint.TransportError) socket closed", [
    "(mint 1.7.1) lib/mint/http1.ex:330: Mint.HTTP1.request/5",
    "(finch 0.19.0) lib/finch/http1/conn.ex:121: Finch.HTTP1.Conn.request/8",
    FRAMES.req,
    FRAMES.client,
    FRAMES.delete,
    FRAMES.executor,
  ]),
  cast: elixirError('** (Ecto.CastError) cannot cast "2026-02-30T25:00:00Z" to :utc_datetime', [
    "(ecto 3.12.5) lib/ecto/type.ex:947: Ecto.Type.cast!/2",
    FRAMES.projection,
    FRAMES.upsert,
    FRAMES.executor,
  ]),
  price: elixirError(
    "** (ArgumentError) errors were found at the given arguments:\n\n  * 1st argument: not a valid price_cents value: -1990",
    ["(myapp 1.42.0) lib/my_app/catalog/product.ex:88: MyApp.Catalog.Product.to_document/1", FRAMES.upsert],
  ),
  sizeLimit: elixirError(
    "** (Scrypath.Meilisearch.Error) database_size_limit: the maximum database size of 100 GiB has been reached",
    [FRAMES.client, FRAMES.upsert, FRAMES.executor, FRAMES.call],
  ),
  encode: elixirError('** (Jason.EncodeError) invalid byte 0xE9 in <<"Caf", 233, " au lait">>', [
    "(jason 1.4.4) lib/jason.ex:164: Jason.encode_to_iodata!/2",
    FRAMES.client,
    FRAMES.upsert,
    FRAMES.executor,
  ]),
  noClause: elixirError(
    "** (FunctionClauseError) no function clause matching in MyApp.Blog.Post.search_document/1",
    [
      "(myapp 1.42.0) lib/my_app/blog/post.ex:61: MyApp.Blog.Post.search_document/1",
      FRAMES.projection,
      FRAMES.upsert,
      FRAMES.executor,
    ],
  ),
};

// The `posts` schema most integration tests deploy: MyApp.Blog.Post, synced through Oban on the
// `search_sync` queue, with Oban rows and Meilisearch documents under the test file's prefixes.

export const POST = "MyApp.Blog.Post";
export const QUEUE = "search_sync";

/** The `posts` schema entry of a test configuration; `extra` adds keys (contract, workers, attempts…). */
export function postsSchema(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { module: POST, alias: "posts", syncMode: "oban", obanQueue: QUEUE, ...extra };
}

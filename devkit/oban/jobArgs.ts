// Realistic Scrypath job args (spec §4.3), as Scrypath.Oban.Payload builds them: for the tests' Oban
// rows and the bench's dataset.
/** The fields every Scrypath sync job's args carry, whatever the operation. */
function syncArgs(operation: "upsert" | "delete", schema: string, index: string, ids: number[]) {
  return {
    operation,
    schema: `Elixir.${schema}`,
    backend: "Elixir.Scrypath.Meilisearch",
    index,
    sync_mode: "oban",
    document_ids: ids,
    document_count: ids.length,
  };
}

export function upsertArgs(
  schema: string,
  index: string,
  ids: number[] = [1],
  extra: Record<string, unknown> = {},
) {
  return {
    ...syncArgs("upsert", schema, index, ids),
    documents: ids.map((id) => ({ id, data: { id, title: `Post ${id}` }, source: "fields" })),
    ...extra,
  };
}

export function deleteArgs(
  schema: string,
  index: string,
  ids: number[] = [1],
  extra: Record<string, unknown> = {},
) {
  return { ...syncArgs("delete", schema, index, ids), ...extra };
}

// Plays the Elixir application's Scrypath.Oban workers in tests: the one component outside
// this project. It runs one job the way UpsertWorker/DeleteWorker do — executing, write to
// the index named in args, wait for the Meilisearch task, then completed (or discarded).
import type { Meilisearch } from "meilisearch";
import type pg from "pg";

export async function runScrypathJob(
  pool: pg.Pool,
  prefix: string,
  meili: Meilisearch,
  jobId: number,
  outcome: "complete" | "fail" = "complete",
): Promise<void> {
  const { rows } = await pool.query(
    `UPDATE "${prefix}".oban_jobs SET state = 'executing', attempt = attempt + 1,
       attempted_at = timezone('UTC', now()) WHERE id = $1 AND state = 'available' RETURNING args`,
    [jobId],
  );
  const args = rows[0]?.args as Record<string, unknown> | undefined;
  if (!args) throw new Error(`job ${jobId} is not available`);
  if (outcome === "fail") {
    await pool.query(
      `UPDATE "${prefix}".oban_jobs SET state = 'discarded', discarded_at = timezone('UTC', now()),
         errors = array_append(errors, $2::jsonb) WHERE id = $1`,
      [
        jobId,
        JSON.stringify({
          at: new Date().toISOString(),
          attempt: 1,
          error: "** (RuntimeError) worker crashed",
        }),
      ],
    );
    return;
  }
  const index = meili.index(String(args.index));
  const task =
    args.operation === "upsert"
      ? await index.addDocuments(
          (args.documents as { data: Record<string, unknown> }[]).map((d) => d.data),
          {
            primaryKey: "id",
          },
        )
      : await index.deleteDocuments((args.document_ids as (string | number)[]).map(String));
  const done = await meili.tasks.waitForTask(task.taskUid, { timeout: 20_000, interval: 10 });
  if (done.status !== "succeeded") throw new Error(`worker write failed: ${JSON.stringify(done.error)}`);
  await pool.query(
    `UPDATE "${prefix}".oban_jobs SET state = 'completed', completed_at = timezone('UTC', now()) WHERE id = $1`,
    [jobId],
  );
}

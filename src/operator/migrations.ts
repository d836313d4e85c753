// The bot's own schema version: `scrypath-bot migrate` applies pending migrations (the only DDL the
// bot runs); mutations check that nothing is pending and refuse otherwise (serve never runs DDL).
import { describeDatabase, postgresError } from "../backends/postgres.ts";
import { RefusedError } from "../errors.ts";
import { type MigrationRun, migrateState, type StateVersion, stateVersion } from "../state/migrations.ts";
import type { OperatorContext } from "./context.ts";

export type { MigrationRun, StateVersion } from "../state/migrations.ts";

/** State schemas known to be at the latest version, per pool (a positive answer stays true). */
const current = new WeakMap<OperatorContext["db"], Set<string>>();

function postgres<T>(ctx: OperatorContext, work: () => Promise<T>): Promise<T> {
  return work().catch((error) => {
    throw postgresError(error, describeDatabase(ctx.config.database.url));
  });
}

/** Create or upgrade the bot's state schema under the migration advisory lock. */
export async function migrate(ctx: OperatorContext): Promise<MigrationRun> {
  const run = await postgres(ctx, () => migrateState(ctx.db, ctx.config.state.schema));
  known(ctx).add(ctx.config.state.schema);
  return run;
}

/** Where the state schema stands; read only. */
export function migrationStatus(ctx: OperatorContext): Promise<StateVersion> {
  return postgres(ctx, () => stateVersion(ctx.db, ctx.config.state.schema));
}

function known(ctx: OperatorContext): Set<string> {
  let set = current.get(ctx.db);
  if (!set) {
    set = new Set();
    current.set(ctx.db, set);
  }
  return set;
}

/**
 * Refuse (reason `migrations_pending`) unless the state schema is at the latest migration. Checked
 * on every mutation until the answer is yes, then remembered; never creates anything.
 */
export async function requireMigrated(ctx: OperatorContext): Promise<void> {
  const name = ctx.config.state.schema;
  if (known(ctx).has(name)) return;
  const { current: at, latest } = await migrationStatus(ctx);
  if (at >= latest) {
    known(ctx).add(name);
    return;
  }
  const pending = latest - at;
  throw new RefusedError(
    "migrations_pending",
    `the bot's tables in Postgres schema ${name} are at version ${at} of ${latest} (${pending} migration${pending === 1 ? "" : "s"} pending), so it changes nothing until they are migrated: run \`scrypath-bot migrate\` (with a role that may create tables in that schema), then try again. This refusal is not in the audit log, whose table is not ready.`,
    { state_schema: name, version: at, latest },
  );
}

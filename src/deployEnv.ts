// The deploy-time settings a container sets in its environment (beside the Slack ones in
// src/slack/settings.ts and `${VAR}` in the YAML): the admin port, the Postgres pool size, the log
// level, the config path and the shutdown drain. Validated by zod; every problem is reported at
// once, one line naming the variable.
import { z } from "zod";
import type { Level } from "./log.ts";

export interface DeployEnv {
  /** Port of /healthz, /readyz and /metrics (never the Slack port). */
  adminPort: number;
  /** Overrides `database.poolSize` when set. */
  poolSize: number | null;
  logLevel: Level;
  /** Path from SCRYPATH_BOT_CONFIG (null: `--config` or ./scrypath-bot.yml). */
  configPath: string | null;
  /** How long a SIGTERM waits for answers and confirmations in flight before it closes them. */
  drainMs: number;
}

export const DEFAULT_ADMIN_PORT = 9090;
/** Fits Kubernetes' default 30 s termination grace, with room for closing the pools. */
export const DEFAULT_DRAIN_SECONDS = 20;

export class DeployEnvError extends Error {
  override readonly name = "DeployEnvError";
}

const blankAsUnset = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const integer = (min: number, max: number, what: string) =>
  z.preprocess(
    blankAsUnset,
    z
      .string()
      .trim()
      .regex(/^[0-9]+$/, what)
      .transform(Number)
      .pipe(z.number().int().min(min, what).max(max, what))
      .optional(),
  );

const PORT = "must be a port number between 0 and 65535";
const schema = z.object({
  ADMIN_PORT: integer(0, 65_535, PORT),
  DATABASE_POOL_SIZE: integer(1, 100, "must be a whole number of connections between 1 and 100"),
  LOG_LEVEL: z.preprocess(
    (v) => (typeof v === "string" ? blankAsUnset(v.trim().toLowerCase()) : v),
    z
      .enum(["debug", "info", "warn", "error"], { message: "must be one of debug, info, warn, error" })
      .optional(),
  ),
  SCRYPATH_BOT_CONFIG: z.preprocess(blankAsUnset, z.string().optional()),
  SHUTDOWN_DRAIN_SECONDS: integer(1, 600, "must be a whole number of seconds between 1 and 600"),
});

/** The deploy-time settings of `env`; throws DeployEnvError naming every bad variable. */
export function deployEnv(env: NodeJS.ProcessEnv): DeployEnv {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      return `${name} ${issue.message}, got "${env[name] ?? ""}"`;
    });
    throw new DeployEnvError(`environment: ${[...new Set(problems)].join("; ")}`);
  }
  const v = result.data;
  return {
    adminPort: v.ADMIN_PORT ?? DEFAULT_ADMIN_PORT,
    poolSize: v.DATABASE_POOL_SIZE ?? null,
    logLevel: v.LOG_LEVEL ?? "info",
    configPath: v.SCRYPATH_BOT_CONFIG ?? null,
    drainMs: (v.SHUTDOWN_DRAIN_SECONDS ?? DEFAULT_DRAIN_SECONDS) * 1000,
  };
}

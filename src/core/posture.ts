// Fleet posture verdict (spec §9.2, ScrypathOps `Posture`). Retrying and pending work are
// deliberately neutral: only fetch errors and terminal failures make posture degraded. A terminal
// failure whose replay completed (or was verified) is resolved (src/core/tally.ts): it no longer
// needs a person.

export type PostureState = "unconfigured" | "missing_backend" | "degraded" | "ok";

export type PostureInput =
  | {
      schema: string;
      ok: true;
      backendFailed: number;
      queueFailed: number;
      /** Of those terminal failures, how many a completed or verified replay resolved. */
      resolved?: number;
    }
  | { schema: string; ok: false; error: string };

export interface Posture {
  state: PostureState;
  headline: string;
  evidence: string[];
  nextChecks: string[];
}

export const POSTURE_HEADLINES: Record<PostureState, string> = {
  unconfigured: "Not configured",
  missing_backend: "Broken",
  degraded: "Degraded",
  ok: "No fetch errors observed",
};

export const DEGRADED_SUFFIX = "— treat as incident triage, not green. Work the failed-sync queue first.";

const NEXT_CHECKS: Record<PostureState, string[]> = {
  unconfigured: ["Add schemas to the bot configuration so posture has something to check."],
  missing_backend: ["Configure the Meilisearch backend so sync status can run."],
  degraded: [
    "Open failed sync work to triage fetch and queue errors first.",
    "Review read-only sync and drift signals before changing indexes.",
    "Walk Meilisearch operations expectations for the search backend.",
    "Snapshot a schema when you need raw sync status output (`mix scrypath.status`).",
  ],
  ok: [
    "Scan failed sync work periodically even when posture is green.",
    "Confirm drift and queue visibility when changing sync modes.",
    "Snapshot a schema when you need raw sync status output (`mix scrypath.status`).",
  ],
};

/**
 * Degraded evidence lists one sentence per cause (fetch errors first); the triage suffix is
 * appended to the last one.
 */
export function posture(results: readonly PostureInput[], opts: { backendMissing?: boolean } = {}): Posture {
  const build = (state: PostureState, evidence: string[]): Posture => ({
    state,
    headline: POSTURE_HEADLINES[state],
    evidence,
    nextChecks: [...NEXT_CHECKS[state]],
  });
  if (results.length === 0) {
    return build("unconfigured", ["No schemas are configured for posture checks."]);
  }
  if (opts.backendMissing) {
    return build("missing_backend", [
      "The Meilisearch backend is not configured — posture cannot query sync status.",
    ]);
  }
  const errored = results.filter((r) => !r.ok).length;
  const resolved = results.reduce((n, r) => (r.ok ? n + (r.resolved ?? 0) : n), 0);
  const terminal = results.reduce((n, r) => (r.ok ? n + r.backendFailed + r.queueFailed : n), 0) - resolved;
  const closure = resolved > 0 ? ` (${resolved} more resolved by replay)` : "";
  if (errored === 0 && terminal <= 0) {
    return build("ok", [
      resolved > 0
        ? `Nothing needs a person: no schema fetch errors, and the ${resolved} terminal sync failure(s) were resolved by replay. Retrying or pending work is not counted.`
        : "This check found no schema fetch errors and no terminal sync failures. Retrying or pending work is not counted.",
    ]);
  }
  const causes: string[] = [];
  if (errored > 0) causes.push(`${errored} schema(s) report fetch errors on this check`);
  if (terminal > 0) {
    causes.push(
      `${terminal} sync job(s) failed to apply and will not self-heal (the live index may be missing documents)${closure}`,
    );
  }
  const last = causes.length - 1;
  causes[last] = `${causes[last]} ${DEGRADED_SUFFIX}`;
  return build("degraded", causes);
}

// Everything the CLI writes to a terminal goes through one cleaner: the configured secret values
// and the core's redaction rules, then terminal escapes, control characters and bidi overrides
// out (an `\x1b[31m` in a job error must not recolour the operator's terminal). Text lines are
// cleaned whole; `--json` documents are cleaned value by value before they are serialised, so the
// JSON stays valid and a field named `key` (a Meilisearch setting) is not mistaken for a secret.
import { secretScrubber } from "../core/redact.ts";
import { stripControls } from "../core/sanitize.ts";

export interface CliCleaner {
  /** Cleans text bound for stdout or stderr. */
  text(text: string): string;
  /** A JSON document, string values (and keys) cleaned, pretty-printed. */
  json(doc: unknown): string;
  /** Secrets learnt later (the config's, once it is loaded). */
  addSecrets(secrets: Iterable<string | null | undefined>): void;
}

function mapStrings(value: unknown, clean: (s: string) => string, depth = 0): unknown {
  if (typeof value === "string") return clean(value);
  if (depth > 64 || value === null || typeof value !== "object" || value instanceof Date) return value;
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, clean, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[stripControls(k)] = mapStrings(v, clean, depth + 1);
  return out;
}

export function cliCleaner(secrets: Iterable<string | null | undefined> = []): CliCleaner {
  const known: (string | null | undefined)[] = [...secrets];
  let scrub = secretScrubber(known);
  const text = (t: string) => stripControls(scrub(t));
  return {
    text,
    json: (doc) => JSON.stringify(mapStrings(doc, text), null, 2),
    addSecrets(more) {
      known.push(...more);
      scrub = secretScrubber(known);
    },
  };
}

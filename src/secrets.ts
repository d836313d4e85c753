// The configured secret values every surface (logs, CLI) redacts literally, wherever they appear,
// on top of the shape-based rules of core/redact.ts: tokens and keys that have no recognisable
// shape (a signing secret, a Meilisearch key) and the passwords inside the configured URLs.
import type { Config } from "./config.ts";
import { urlPassword } from "./core/redact.ts";

export function configuredSecrets(
  config: {
    meilisearch: Pick<Config["meilisearch"], "url" | "apiKey">;
    database: Pick<Config["database"], "url">;
  } | null,
  env: NodeJS.ProcessEnv = {},
): (string | null | undefined)[] {
  return [
    env.SLACK_BOT_TOKEN,
    env.SLACK_SIGNING_SECRET,
    env.SLACK_APP_TOKEN,
    config?.meilisearch.apiKey,
    urlPassword(config?.meilisearch.url),
    urlPassword(config?.database.url),
  ];
}

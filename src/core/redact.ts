// Secret redaction for anything that may reach Slack or logs (DESIGN "Secrets never reach Slack").
// Oban job args can carry `meilisearch_api_key` in plain text (spec §4.3), and error texts can echo
// URLs with credentials or bearer tokens.

export const REDACTED = "[REDACTED]";

// Key names that are identifiers, not credentials, even though they end in "key".
// Meilisearch's `separatorTokens` / `foreignKeys` settings are not credentials either.
const NOT_SECRET = new Set([
  "primary_key",
  "document_key",
  "sort_key",
  "foreign_key",
  "foreign_keys",
  "separator_tokens",
  "non_separator_tokens",
]);

// A key is secret when its normalized name (snake_case, lowercase) ends in key/token/auth/
// authorization/credential(s), or contains secret/password/passwd/api_key/apikey/credential anywhere.
const SECRET_SUFFIX = /(^|_)(api_?key|key|token|credentials?|auth|authorization)$/;
const SECRET_ANYWHERE = /secret|password|passwd|api_?key|credential/;

/** True for credential-shaped key names (`meilisearch_api_key`, `apiKey`, `token`, `db_password`). */
export function isSecretKey(key: string): boolean {
  // camelCase → snake_case so `apiKey` and `api_key` read the same.
  const norm = key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/-/g, "_");
  if (NOT_SECRET.has(norm)) return false;
  return SECRET_SUFFIX.test(norm) || SECRET_ANYWHERE.test(norm);
}

/** Deep copy of `value` with every secret-keyed value replaced by "[REDACTED]"; strings are scrubbed too. */
export function redactValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactValue);
  if (value instanceof Date) return new Date(value.getTime());
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) && v !== null && v !== undefined && v !== "" ? REDACTED : redactValue(v);
    }
    return out;
  }
  if (typeof value === "string") return redactText(value);
  return value;
}

// `scheme://user:password@host` → keep the user, hide the password.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/@]+):([^\s/@]+)@/gi;
// `Bearer <token>` / `Basic <blob>` in headers or messages.
const AUTH_SCHEME = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+/g;
// key=value, key: value, "key": "value", key => "value" (Elixir inspect), for secret-looking keys.
// The lookbehind starts a key only at the beginning of a word, which keeps this linear on long
// texts (a lazy key tried at every position was quadratic).
const PAIR =
  /(?<![A-Za-z0-9_.-])(["']?)([A-Za-z0-9_.-]+)\1(\s*(?:=>|[:=])\s*)(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^\s,;&}\])"']+))/g;

/** Removes credentials from free text: bearer tokens, URL passwords, and secret key/value pairs. */
export function redactText(text: string): string {
  let out = text.replace(URL_USERINFO, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`);
  out = out.replace(AUTH_SCHEME, (_m, scheme: string) => `${scheme} ${REDACTED}`);
  out = out.replace(
    PAIR,
    (m, quote: string, key: string, sep: string, dq?: string, sq?: string, bare?: string) => {
      if (key === "" || !isSecretKey(key)) return m;
      // Already handled (`[REDACTED]`) or an auth scheme whose token was redacted above.
      // (The bare-value pattern stops at "]", so an earlier redaction reads as "[REDACTED".)
      if (bare !== undefined && (bare.startsWith("[REDACTED") || /^(Bearer|Basic|Token)$/i.test(bare)))
        return m;
      if (dq !== undefined) return `${quote}${key}${quote}${sep}"${REDACTED}"`;
      if (sq !== undefined) return `${quote}${key}${quote}${sep}'${REDACTED}'`;
      return `${quote}${key}${quote}${sep}${REDACTED}`;
    },
  );
  return out;
}

/** First non-empty line, trimmed, cut to `max` characters with a trailing "…". */
export function firstLine(text: string, max = 300): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  const trimmed = line.trim();
  return trimmed.length > max ? `${trimmed.slice(0, Math.max(0, max - 1))}…` : trimmed;
}

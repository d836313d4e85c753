// Secret redaction for anything that may reach Slack, logs or a terminal (DESIGN "Secrets never
// reach Slack"). Oban job args can carry `meilisearch_api_key` in plain text (spec §4.3), and
// error texts echo URLs with credentials, auth headers and provider tokens.
//
// `redactText` is the one function every surface goes through. It is linear-time (each pattern
// either consumes what it scans or fails after a bounded look) and idempotent:
// redactText(redactText(x)) === redactText(x). What it removes, in order:
//   1. PEM private key blocks;
//   2. URLs: the password of `scheme://user:password@host` (an empty user and a password holding
//      `@` included), secret-named query and fragment parameters (`access_token`, `api_key`,
//      `sig`, `X-Amz-Signature`, `client_secret` …), and the secret part of webhook URLs;
//   3. known token shapes (Slack, AWS access key ids, GitHub, GitLab, Stripe, OpenAI/Anthropic,
//      JWTs, npm, Google, SendGrid, Twilio, Hugging Face, Shopify, Vault …);
//   4. `Authorization: <scheme> <credentials>` and `bearer|basic|token <credentials>`, any case;
//   5. values of secret-named keys: `key=value`, `key: value`, `"key": "value"`,
//      `{\"key\":\"value\"}` (escaped JSON), `key => "value"` (Elixir inspect).
// `secretScrubber` adds the configured secret values (bot token, signing secret, API key, the
// passwords in `database.url` and `meilisearch.url`), replaced literally wherever they appear.

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
  "idempotency_key",
  "cache_key",
  "partition_key",
  "unique_key",
]);

// A key is secret when its normalized name (snake_case, lowercase) ends in key/token/auth/
// authorization/credential(s)/pass/pwd/jwt, or contains secret/password/passwd/
// api_key/apikey/credential anywhere. Names that describe a secret without holding it (error codes
// such as `invalid_api_key`, `token_type`, `api_key_uid`, `password_length`) are not.
const SECRET_SUFFIX = /(^|_)(api_?key|key|token|credentials?|auth|authorization|pass|pwd|jwt)$/;
const SECRET_ANYWHERE = /secret|password|passwd|api_?key|credential|private_?key|access_?key/;
const DESCRIBES_SECRET =
  /^(invalid|missing|bad|expired|wrong|unknown|no)_|_(id|ids|uid|uids|name|names|type|types|count|length|expires_at|expiry|ttl|not_found|prefix|format|header|scheme)$/;

const MAYBE_SECRET = /key|token|secret|pass|pwd|auth|cred|jwt/i;

/** True for credential-shaped key names (`meilisearch_api_key`, `apiKey`, `token`, `db_password`). */
export function isSecretKey(key: string): boolean {
  // Every secret name holds one of these words: most keys are rejected without normalising.
  if (!MAYBE_SECRET.test(key)) return false;
  // camelCase → snake_case so `apiKey` and `api_key` read the same.
  const norm = key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/-/g, "_")
    .replace(/^_+/, "");
  if (NOT_SECRET.has(norm) || DESCRIBES_SECRET.test(norm)) return false;
  return SECRET_SUFFIX.test(norm) || SECRET_ANYWHERE.test(norm);
}

/** Deep copy of `value` with every secret-keyed value replaced by "[REDACTED]"; strings are scrubbed too. */
export function redactValue(value: unknown, text: (s: string) => string = redactText): unknown {
  if (Array.isArray(value)) return value.map((v) => redactValue(v, text));
  if (value instanceof Date) return new Date(value.getTime());
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) && v !== null && v !== undefined && v !== "" ? REDACTED : redactValue(v, text);
    }
    return out;
  }
  if (typeof value === "string") return text(value);
  return value;
}

// ── 1. PEM private keys ─────────────────────────────────────────────────────────────────────
// The body runs over base64, whitespace, escaped newlines (`\n` in JSON) and the encryption
// headers (`Proc-Type: 4,ENCRYPTED`) up to the END line. A block cut short (a truncated error
// text) is redacted to the end of that run, so the text after it survives.
const PEM_BODY = String.raw`[A-Za-z0-9+/=\s\\:,-]`;
const PEM = new RegExp(
  String.raw`(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)(?!\[REDACTED\])${PEM_BODY}*?(?:(-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)|(?!${PEM_BODY}))`,
  "g",
);

// ── 2. URLs ─────────────────────────────────────────────────────────────────────────────────
// A scheme starts a URL only at a word start; the URL runs to whitespace or a delimiter that
// cannot be part of one in text (quotes, backslash of escaped JSON, <>, `, |, {}).
const URL_CANDIDATE = /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,30}:\/\/[^\s"'`<>\\|{}]*/g;

// Hosts whose URL path is itself the credential: everything after the first path segment goes.
const WEBHOOK_HOST =
  /^(?:hooks\.slack\.com|(?:[a-z0-9-]+\.)?discord(?:app)?\.com|[a-z0-9-]+\.webhook\.office\.com|hooks\.zapier\.com|outlook\.office\.com)$/i;

// URL parameters that sign a request (S3/Azure presigned URLs, signed webhooks) are credentials
// there, though the words are too common in prose to count as secret keys everywhere.
const SECRET_PARAM = /^(?:sig|signature|x-amz-signature|x-goog-signature|code)$/i;

function redactParams(params: string): string {
  return params
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq <= 0) return pair;
      // `&amp;` when the URL was already escaped for Slack mrkdwn.
      let key = pair.slice(0, eq).replace(/^amp;/, "");
      if (!MAYBE_SECRET.test(key) && !SECRET_PARAM.test(key) && !key.includes("%")) return pair;
      try {
        key = decodeURIComponent(key);
      } catch {
        // Not percent-encoded text: judge the raw key.
      }
      return (isSecretKey(key) || SECRET_PARAM.test(key)) && pair.length > eq + 1
        ? `${pair.slice(0, eq)}=${REDACTED}`
        : pair;
    })
    .join("&");
}

/** One URL with its password, secret parameters and webhook secret replaced. */
function redactUrl(url: string): string {
  const start = url.indexOf("://") + 3;
  const scheme = url.slice(0, start);
  let rest = url.slice(start);
  // The authority ends at the first `/`, `?` or `#`; its userinfo at the last `@` inside it, so a
  // password holding `@` (`u:p@ss@host`) is hidden whole.
  let end = rest.search(/[/?#]/);
  if (end === -1) end = rest.length;
  let authority = rest.slice(0, end);
  let at = authority.lastIndexOf("@");
  const colon = authority.indexOf(":");
  // `redis://:pa/ss@host`: a `/` inside an unencoded password ends the authority early. When what
  // follows the colon is not a port and an `@` comes before any `?`/`#`, that `@` ends the userinfo.
  if (at === -1 && colon !== -1 && !authority.startsWith("[") && !/^\d*$/.test(authority.slice(colon + 1))) {
    const queryAt = rest.search(/[?#]/);
    const limit = queryAt === -1 ? rest.length : queryAt;
    const later = rest.lastIndexOf("@", limit - 1);
    if (later > end) {
      end = rest.indexOf("/", later) === -1 ? limit : Math.min(limit, rest.indexOf("/", later));
      authority = rest.slice(0, end);
      at = later;
    }
  }
  let host = authority;
  if (at !== -1) {
    const userinfo = authority.slice(0, at);
    host = authority.slice(at + 1);
    const sep = userinfo.indexOf(":");
    if (sep !== -1 && sep < userinfo.length - 1) {
      authority = `${userinfo.slice(0, sep)}:${REDACTED}@${host}`;
    }
  }
  rest = authority + rest.slice(end);
  const hostOnly = host.replace(/:\d*$/, "");
  const pathStart = authority.length;
  if (WEBHOOK_HOST.test(hostOnly)) {
    // Keep the host and the first segment (`/services`, `/api`, `/commands`), hide the rest.
    const path = rest.slice(pathStart);
    const m = /^(\/[^/?#]*\/)(?!\[REDACTED\]$)./.exec(path);
    if (m) return `${scheme}${authority}${m[1]}${REDACTED}`;
    return scheme + rest;
  }
  // Query and fragment parameters (`?access_token=…`, `#access_token=…` of OAuth implicit flows).
  const q = rest.indexOf("?");
  const h = rest.indexOf("#");
  if (q !== -1 && (h === -1 || q < h)) {
    const qEnd = h === -1 ? rest.length : h;
    rest = `${rest.slice(0, q + 1)}${redactParams(rest.slice(q + 1, qEnd))}${rest.slice(qEnd)}`;
  }
  const hash = rest.indexOf("#");
  if (hash !== -1 && rest.indexOf("=", hash) !== -1) {
    rest = `${rest.slice(0, hash + 1)}${redactParams(rest.slice(hash + 1))}`;
  }
  return scheme + rest;
}

// ── 3. Known token shapes ───────────────────────────────────────────────────────────────────
// Prefix-anchored (at a word start) shapes from providers' documented formats and the patterns
// of secretlint's recommended rules. Bounded or prefix-led quantifiers keep each attempt short.
const TOKEN_SHAPES = new RegExp(
  `(?<![A-Za-z0-9_])(?:${[
    // Slack: bot, user, app-level, legacy workspace, refresh and config tokens.
    /(?:xox[abeoprs]|xapp)[.-][A-Za-z0-9.-]*[A-Za-z0-9]/,
    // AWS access key ids (long-lived and temporary).
    /(?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/,
    // GitHub classic, OAuth, user-to-server, server-to-server, refresh; fine-grained PATs.
    /gh[pousr]_[A-Za-z0-9_]{30,}/,
    /github_pat_[A-Za-z0-9_]{22,}/,
    // GitLab personal/deploy/runner tokens.
    /gl(?:pat|dt|rt|ptt|ft|cbt|soat)-[A-Za-z0-9_-]{20,}/,
    // Stripe-like secret and restricted keys, webhook signing secrets.
    /(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{8,}/,
    /whsec_[A-Za-z0-9+/=]{16,}/,
    // OpenAI / Anthropic / generic `sk-` API keys.
    /sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/,
    // JWTs (header and payload are base64url JSON, so both start with eyJ).
    /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/,
    // npm access tokens.
    /npm_[A-Za-z0-9]{36,}/,
    // Google API keys, OAuth access tokens and client secrets.
    /AIza[0-9A-Za-z_-]{35}/,
    /ya29\.[0-9A-Za-z_-]{20,}/,
    /GOCSPX-[0-9A-Za-z_-]{20,}/,
    // SendGrid.
    /SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/,
    // Twilio API key SIDs.
    /SK[0-9a-fA-F]{32}(?![A-Za-z0-9])/,
    // Hugging Face, Groq, Linear, Notion, Shopify, Docker Hub, Figma, Vercel, Databricks.
    /hf_[A-Za-z]{30,}/,
    /gsk_[A-Za-z0-9]{40,}/,
    /lin_api_[A-Za-z0-9_]{32,}/,
    /ntn_[0-9]{11}[A-Za-z0-9]{30,}/,
    /shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32,}/,
    /dckr_pat_[A-Za-z0-9_-]{20,}/,
    /figd_[A-Za-z0-9_-]{40,}/,
    /vc[pikar]_[A-Za-z0-9]{20,}/,
    /dapi[a-fA-F0-9]{32}(?:-[0-9])?/,
    // HashiCorp Vault, Grafana, 1Password service accounts, DigitalOcean, PyPI, Atlassian, age.
    /hv[sbr]\.[A-Za-z0-9_-]{24,}/,
    /glc_[A-Za-z0-9+/]{32,}={0,2}/,
    /glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}/,
    /ops_eyJ[A-Za-z0-9+/=]{50,}/,
    /do[opr]_v1_[a-f0-9]{64}/,
    /pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{20,}/,
    /ATATT3[A-Za-z0-9_=-]{50,}/,
    /AGE-SECRET-KEY-1[0-9A-Z]{50,}/,
    // Mailgun, Square.
    /key-[0-9a-f]{32}(?![A-Za-z0-9])/,
    /sq0(?:atp|csp)-[0-9A-Za-z_-]{22,}/,
  ]
    .map((shape) => shape.source)
    .join("|")})`,
  "g",
);

// ── 4. Authorization ────────────────────────────────────────────────────────────────────────
const SCHEMES = "bearer|basic|token|bot|digest|negotiate|apikey|key";
// `Authorization: Bearer x`, `authorization => "Basic x"`, `"Proxy-Authorization":"Token x"`:
// whatever follows the header is a credential, whatever it looks like.
const AUTH_HEADER = new RegExp(
  String.raw`\b((?:proxy-)?authorization\\?["']?\s*(?::|=>|=)\s*\\?["']?)(?:((?:${SCHEMES})\s+)(?!\[REDACTED\])[^\s"'\\,;]+|(?!\[REDACTED\]|(?:${SCHEMES})\b)[^\s"'\\,;]+)`,
  "gi",
);
// `bearer x` on its own: the credential is a long run that reads like a token (digits, mixed
// case or punctuation), so prose such as "invalid bearer token" or "Token expired" stays.
const AUTH_SCHEME = /\b(bearer|basic|token)(\s+)([A-Za-z0-9._~+/=-]{4,})/gi;
const looksLikeToken = (s: string): boolean => /[0-9._~+/=-]/.test(s) || (/[a-z]/.test(s) && /[A-Z]/.test(s));

// ── 5. key=value pairs ──────────────────────────────────────────────────────────────────────
// key=value, key: value, "key": "value", \"key\":\"value\", key => "value" (Elixir inspect), for
// secret-looking keys. A key starts only at the beginning of a word (the lookbehind), and only a
// word holding a credential word is tried (the first lookahead), taken whole (the capturing
// lookahead, an atomic group): so `Error: api_key: x` is not swallowed as the value of `Error`,
// and each word is scanned a bounded number of times, which keeps this linear on long texts.
// A quoted value ends at the same quote with the same escaping (`"` or `\"`), so escaped JSON is
// read whole.
const PAIR =
  /(?<![A-Za-z0-9_.-])((?:\\*["'])?)(?=[A-Za-z0-9_.-]*?(?:key|token|secret|pass|pwd|auth|cred|jwt))(?=([A-Za-z0-9_.-]+))\2\1(\s*(?:=>|[:=])\s*)(?:(\\*)"((?:[^"\\\n]|\\[^\n])*?)\4"|'([^'\n]*)'|([^\s,;&}\])"'\\]+))/gi;

function redactPairs(text: string): string {
  return text.replace(
    PAIR,
    (
      m,
      quote: string,
      key: string,
      sep: string,
      dqOpen?: string,
      dq?: string,
      sq?: string,
      bare?: string,
    ) => {
      // A bare `key` in prose names a setting, a cache or Redis key (`settings detail key="synonyms"`);
      // a credential under that name in a URL or an object is still redacted there.
      if (!isSecretKey(key) || /^key$/i.test(key)) return m;
      const head = `${quote}${key}${quote}${sep}`;
      if (dqOpen !== undefined) return dq === "" ? m : `${head}${dqOpen}"${REDACTED}${dqOpen}"`;
      if (sq !== undefined) return sq === "" ? m : `${head}'${REDACTED}'`;
      // An earlier redaction (the bare value stops at "]", so `[REDACTED]` reads as "[REDACTED"),
      // or an Authorization header, whose credential after the scheme step 4 redacted.
      if (bare === undefined || bare.startsWith("[REDACTED") || /^(proxy-)?authorization$/i.test(key))
        return m;
      return `${head}${REDACTED}`;
    },
  );
}

/** Removes credentials from free text: keys, tokens, URL passwords and secret parameters. */
export function redactText(text: string): string {
  let out = text.replace(PEM, (_m, begin: string, end?: string) => `${begin}${REDACTED}${end ?? ""}`);
  out = out.replace(URL_CANDIDATE, redactUrl);
  out = out.replace(TOKEN_SHAPES, REDACTED);
  out = out.replace(AUTH_HEADER, (_m, head: string, scheme?: string) => {
    return `${head}${scheme ?? ""}${REDACTED}`;
  });
  out = out.replace(AUTH_SCHEME, (m, scheme: string, space: string, credential: string) =>
    looksLikeToken(credential) ? `${scheme}${space}${REDACTED}` : m,
  );
  return redactPairs(out);
}

/**
 * `redactText` plus the configured secret values, replaced literally (longest first, so a secret
 * containing another goes whole; also in their percent-encoded form, as they appear in URLs).
 * Values shorter than 6 characters are skipped: they would blank ordinary words.
 */
export function secretScrubber(secrets: Iterable<string | null | undefined>): (text: string) => string {
  const values = new Set<string>();
  for (const s of secrets) {
    if (typeof s !== "string" || s.length < 6) continue;
    values.add(s);
    const encoded = encodeURIComponent(s);
    if (encoded !== s) values.add(encoded);
  }
  const exact = [...values].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const secret of exact) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return redactText(out);
  };
}

/** The password of a URL (decoded), or null: for the configured-secrets list. */
export function urlPassword(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const password = new URL(url).password;
    if (!password) return null;
    try {
      return decodeURIComponent(password);
    } catch {
      return password;
    }
  } catch {
    return null;
  }
}

/** First non-empty line, trimmed, cut to `max` characters with a trailing "…". */
export function firstLine(text: string, max = 300): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  const trimmed = line.trim();
  return trimmed.length > max ? `${trimmed.slice(0, Math.max(0, max - 1))}…` : trimmed;
}

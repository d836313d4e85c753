// A corpus of credential shapes as they turn up in error texts, job args and log lines, and a
// negative corpus of operator text that must survive redaction byte for byte. Shared by the core,
// log, CLI and Slack redaction tests. Every value is fake but has its provider's real shape.
//
// `secrets` are the substrings that must not survive; the shapes follow providers' documented
// formats and the patterns of secretlint's recommended preset (see ./secretlint.ts).

export interface CredentialCase {
  name: string;
  text: string;
  secrets: string[];
}

const rep = (s: string, n: number) => s.repeat(n);
const B62 = "aZ3kQ9xL2mN7pR4tV8wY1bC6dF0gH5jK";
const HEX32 = "9f86d081884c7d659a2feaa0c55ad015";

export const CREDENTIALS: CredentialCase[] = [
  // Auth schemes, any case.
  {
    name: "Bearer header",
    text: "GET /tasks: Authorization: Bearer mK3x9QpL2vN8rT4w",
    secrets: ["mK3x9QpL2vN8rT4w"],
  },
  {
    name: "lowercase bearer",
    text: "request failed (bearer s3cr3tT0ken-abc) 401",
    secrets: ["s3cr3tT0ken-abc"],
  },
  { name: "BEARER uppercase", text: "BEARER Zx9yW8vU7tS6rQ5p", secrets: ["Zx9yW8vU7tS6rQ5p"] },
  {
    name: "Basic header",
    text: "authorization: Basic dXNlcjpodW50ZXIyMg==",
    secrets: ["dXNlcjpodW50ZXIyMg=="],
  },
  {
    name: "token scheme (GitHub)",
    text: "Authorization: token 0123456789abcdef0123",
    secrets: ["0123456789abcdef0123"],
  },
  {
    name: "header in Elixir inspect",
    text: '[{"authorization", "Bearer qwERty123456uiop"}]',
    secrets: ["qwERty123456uiop"],
  },
  {
    name: "X-Meili-API-Key header",
    text: "X-Meili-API-Key: 7c1f2e3d4b5a69788796a5b4c3d2e1f0",
    secrets: ["7c1f2e3d4b5a69788796a5b4c3d2e1f0"],
  },
  // URLs.
  {
    name: "URL password",
    text: "** (DBConnection.ConnectionError) postgres://app:Hunter22pw@db.internal:5432/app",
    secrets: ["Hunter22pw"],
  },
  {
    name: "URL password, empty user",
    text: "Redix.ConnectionError redis://:r3disPassw0rd@cache:6379/0",
    secrets: ["r3disPassw0rd"],
  },
  {
    name: "URL password holding @",
    text: "could not connect to postgres://u:p@ssW0rd!@db/app",
    secrets: ["p@ssW0rd!", "ssW0rd"],
  },
  {
    name: "URL password holding /",
    text: "redis://:pa/ssW0rd9@host:6379/1 refused",
    secrets: ["pa/ssW0rd9", "ssW0rd9"],
  },
  {
    name: "meilisearch.url password",
    text: "connect ECONNREFUSED http://admin:meiliPw-42x@127.0.0.1:7700/indexes",
    secrets: ["meiliPw-42x"],
  },
  {
    name: "access_token query",
    text: "GET https://api.example.com/v1/items?access_token=ya1Qz8Xc7Vb6Nm5&page=2 timed out",
    secrets: ["ya1Qz8Xc7Vb6Nm5"],
  },
  {
    name: "api_key query",
    text: "https://maps.example.com/geo?q=x&api_key=Ab12Cd34Ef56Gh78",
    secrets: ["Ab12Cd34Ef56Gh78"],
  },
  {
    name: "token and sig params",
    text: "https://cdn.example.com/f.png?token=tOk3nValue99&sig=5ig4ture0K",
    secrets: ["tOk3nValue99", "5ig4ture0K"],
  },
  {
    name: "S3 presigned URL",
    text: "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAQWERTYUIOPASDFGH%2F20261207%2Fus-east-1&X-Amz-Signature=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978",
    secrets: ["AKIAQWERTYUIOPASDFGH", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"],
  },
  {
    name: "client_secret param",
    text: "POST https://login.example.com/oauth/token?client_id=app&client_secret=cl1entS3cretXyz",
    secrets: ["cl1entS3cretXyz"],
  },
  {
    name: "OAuth fragment token",
    text: "redirect to https://app.example.com/cb#access_token=fr4gT0kenAbc&state=1",
    secrets: ["fr4gT0kenAbc"],
  },
  {
    name: "Slack incoming webhook",
    text: "post to https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/xyzXYZ0123456789abcdWXYZ failed",
    secrets: ["xyzXYZ0123456789abcdWXYZ"],
  },
  {
    name: "Slack response_url",
    text: "response_url https://hooks.slack.com/commands/T0ABCDEF1/1234567890/Zq9Xw8Ve7Ut6",
    secrets: ["Zq9Xw8Ve7Ut6"],
  },
  {
    name: "Discord webhook",
    text: "https://discord.com/api/webhooks/112233445566778899/Disc0rdW3bhookT0kenAbcdefGhij",
    secrets: ["Disc0rdW3bhookT0kenAbcdefGhij"],
  },
  // key=value shapes.
  {
    name: "escaped JSON api_key",
    text: 'Jason.DecodeError in args "{\\"api_key\\":\\"esc4pedK3y999\\",\\"index\\":\\"posts\\"}"',
    secrets: ["esc4pedK3y999"],
  },
  {
    name: "Elixir map",
    text: '%{"meilisearch_api_key" => "ex4mpleMap99", "index" => "myapp_posts"}',
    secrets: ["ex4mpleMap99"],
  },
  { name: "keyword list", text: '[password: "kw0rdPassw", hostname: "db"]', secrets: ["kw0rdPassw"] },
  {
    name: "key after another key's separator",
    text: "Error: x-api-key: 0a9b8c7d6e5f4a3b2c1dZZ",
    secrets: ["0a9b8c7d6e5f4a3b2c1dZZ"],
  },
  { name: "pass=", text: "smtp login failed user=ops pass=SmtpP4ss!x", secrets: ["SmtpP4ss!x"] },
  { name: "PGPASSWORD env", text: "PGPASSWORD=pgEnvPw123 psql -h db", secrets: ["pgEnvPw123"] },
  {
    name: "YAML secret",
    text: "signing_secret: 8f14e45fceea167a5a36dedd4bea2543",
    secrets: ["8f14e45fceea167a5a36dedd4bea2543"],
  },
  {
    name: "npm _authToken",
    text: "//registry.npmjs.org/:_authToken=npmrcT0ken-123abc",
    secrets: ["npmrcT0ken-123abc"],
  },
  // Token shapes.
  {
    name: "Slack bot token",
    text: "Slack said invalid_auth for xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    secrets: ["1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"],
  },
  {
    name: "Slack user token",
    text: "token=xoxp-1234567890-1234567890-1234567890123-0123456789abcdef0123456789abcdef",
    secrets: ["0123456789abcdef0123456789abcdef"],
  },
  {
    name: "Slack app token",
    text: "socket mode: xapp-1-A0123456789-1234567890123-0123456789abcdef0123456789abcdef rejected",
    secrets: ["0123456789abcdef0123456789abcdef"],
  },
  {
    name: "Slack rotating token",
    text: "refresh with xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MA",
    secrets: ["Mi0yLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MA"],
  },
  {
    name: "Slack refresh token",
    text: "xoxe-1-My0xLTEyMzQ1Njc4OTAtNDU2Nzg5MDEyMzQ1",
    secrets: ["My0xLTEyMzQ1Njc4OTAtNDU2Nzg5MDEyMzQ1"],
  },
  {
    name: "AWS access key id",
    text: "The security token included in the request is invalid (AKIAQWERTYUIOPASDFGH)",
    secrets: ["AKIAQWERTYUIOPASDFGH"],
  },
  { name: "AWS temporary key id", text: "ASIAZXCVBNMASDFGHJKL expired", secrets: ["ASIAZXCVBNMASDFGHJKL"] },
  {
    name: "AWS secret access key",
    text: "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzzzzzzz",
    secrets: ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzzzzzzz"],
  },
  {
    name: "GitHub classic PAT",
    text: "git clone https://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@github.com/o/r",
    secrets: ["wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx"],
  },
  {
    name: "GitHub OAuth token",
    text: "gho_16C7e42F292c6912E7710c838347Ae178B4a rejected",
    secrets: ["16C7e42F292c6912E7710c838347Ae178B4a"],
  },
  {
    name: "GitHub fine-grained PAT",
    text: `github_pat_11ABCDEFG0${rep("aB3dE5gH7j", 8)}ab`,
    secrets: [rep("aB3dE5gH7j", 8)],
  },
  { name: "GitLab PAT", text: "glpat-Xy9Zw8Vu7Ts6Rq5Po4Nm", secrets: ["Xy9Zw8Vu7Ts6Rq5Po4Nm"] },
  {
    name: "Stripe live secret key",
    text: "Stripe::AuthenticationError sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    secrets: ["4eC39HqLyjWDarjtT1zdp7dc"],
  },
  {
    name: "Stripe restricted key",
    text: "rk_live_51HxYzAbCdEfGhIjKlMnOp",
    secrets: ["51HxYzAbCdEfGhIjKlMnOp"],
  },
  {
    name: "OpenAI project key",
    text: `openai: sk-proj-${rep("Ab1Cd2Ef3G", 7)}T3BlbkFJ${rep("Hi4Jk5Lm6N", 7)}`,
    secrets: [rep("Ab1Cd2Ef3G", 7)],
  },
  {
    name: "Anthropic key",
    text: `x-api-key sk-ant-api03-${rep("Zy9Xw8Vu7T", 10)}AA`,
    secrets: [rep("Zy9Xw8Vu7T", 10)],
  },
  {
    name: "JWT",
    text: "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U expired",
    secrets: ["eyJzdWIiOiIxMjM0NTY3ODkwIn0", "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"],
  },
  {
    name: "PEM private key",
    text: `-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA${rep(B62, 4)}\n${rep(B62, 4)}\n-----END RSA PRIVATE KEY-----`,
    secrets: ["MIIEowIBAAKCAQEA", B62],
  },
  {
    name: "PEM key cut short",
    text: `key: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA${B62}`,
    secrets: ["b3BlbnNzaC1rZXktdjEAAAAA", B62],
  },
  {
    name: "encrypted PEM with headers, in JSON",
    text: `{"key": "-----BEGIN RSA PRIVATE KEY-----\\nProc-Type: 4,ENCRYPTED\\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\\n\\n${B62}\\n-----END RSA PRIVATE KEY-----\\n"}`,
    secrets: [B62],
  },
  {
    name: "npm token",
    text: "npm ERR! 401 npm_1234567890abcdefghijklmnopqrstuvwxyz",
    secrets: ["npm_1234567890abcdefghijklmnopqrstuvwxyz"],
  },
  {
    name: "Google API key",
    text: "GOOGLE_MAPS=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    secrets: ["AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"],
  },
  {
    name: "Google OAuth access token",
    text: "ya29.a0AfH6SMBxYz1234567890abcdefGHIJKL",
    secrets: ["a0AfH6SMBxYz1234567890abcdefGHIJKL"],
  },
  {
    name: "SendGrid key",
    text: "SendGrid SG.ngeVfQFYQlKU0ufo8x5d1A.TwL2iGABf9DHoTf09kqeF8tAmbihYzrnopKc1s5cr0",
    secrets: ["TwL2iGABf9DHoTf09kqeF8tAmbihYzrnopKc1s5cr0"],
  },
  {
    name: "Twilio API key + auth token URL",
    text: `https://AC${HEX32}:${HEX32.slice(8)}aa55ff00@api.twilio.com SK${HEX32}`,
    secrets: [`${HEX32.slice(8)}aa55ff00`, `SK${HEX32}`],
  },
  {
    name: "Hugging Face token",
    text: "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
    secrets: ["AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"],
  },
  {
    name: "Shopify token",
    text: "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",
    secrets: ["1a2b3c4d5e6f70819293a4b5c6d7e8f9"],
  },
  { name: "Vault token", text: `VAULT_TOKEN hvs.${rep("CAESIJ9x8y7", 9)}`, secrets: [rep("CAESIJ9x8y7", 9)] },
  {
    name: "Docker PAT",
    text: "dckr_pat_Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr",
    secrets: ["Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr"],
  },
];

/** Operator text that is not secret: redaction must leave each one exactly as it is. */
export const NOT_SECRETS: string[] = [
  "job 12345 in queue scrypath_sync failed on attempt 3 of 20",
  "index myapp_posts_v2 (primary key id) has 1,204 documents",
  "** (Meilisearch.Error) index_not_found: Index `myapp_posts_v2` not found.",
  "** (Meilisearch.Error) invalid_api_key: The provided API key is invalid.",
  "** (Postgrex.Error) ERROR 40P01 (deadlock_detected) deadlock detected",
  'FATAL 28P01 (invalid_password) password authentication failed for user "app"',
  "    (my_app 0.1.0) lib/my_app/search.ex:42: MyApp.Search.sync/2",
  "    (scrypath 0.3.0) lib/scrypath/sync/worker.ex:118: Scrypath.Sync.Worker.perform/1",
  "Elixir.MyApp.Blog.Post · Scrypath.Meilisearch.Client",
  "Meilisearch task 48213 failed (documentAdditionOrUpdate)",
  "task uid 48213, batch 977, enqueued 2026-12-07T03:41:22.123Z",
  "trace 3f2b8c1e-5d4a-4e7b-9c0d-1a2b3c4d5e6f for job 991",
  "deployed 9fceb02d0ae598e95dc970b74767f19372d61af8 (git sha) at 2026-12-07T03:40:00Z",
  "binary sha256 4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358",
  "posted to <#C0123ABCD> by <@U0ABC1234>; team T0ABCDEF1",
  "channel C0123ABCD, user U0ABC1234, bot B0ABCDEF2",
  'primary_key=id timeout: 5000 "index": "scrypath_post"',
  '%{"index" => "myapp_posts", "operation" => "upsert", "ids" => [1, 2, 3]}',
  "Bearer token missing: set meilisearch.apiKey",
  "invalid bearer token; Token expired at 10:00 UTC",
  "separatorTokens and nonSeparatorTokens are settings, not tokens",
  "see https://www.meilisearch.com/docs/reference/errors/error_codes#invalid_api_key",
  "http://127.0.0.1:7700/indexes/myapp_posts_v2/documents?limit=20&offset=40",
  "https://registry.npmjs.org/@scope/pkg and ssh://git@github.com/org/repo.git",
  "http://[::1]:7700/tasks?statuses=failed&types=documentAdditionOrUpdate",
  "postgres://app@db.internal:5432/app_prod (no password)",
  "SLACK_BOT_TOKEN is not set (the bot token, xoxb-…)",
  "token_type: bearer, expires_in: 3600",
  "api_key_uid: 0a1b2c3d-4e5f-6789-abcd-ef0123456789",
  'Ecto.Changeset<action: :insert, changes: %{title: "Hello"}, errors: [], valid?: true>',
  "retry 3 jobs: 101, 102, 103 (state retryable → available)",
  "ok 17 valid, 0 invalid",
  '  ! settings: settings detail key="synonyms"',
  "Redix error: key: cache:posts:42 not found",
  "duration 1.2s; p99 480 ms; 2026-12-07 03:41 UTC",
];

/** All secret substrings of the corpus, for "the output contains none of these" checks. */
export const ALL_SECRETS: string[] = CREDENTIALS.flatMap((c) => c.secrets);

// The credential corpus against the one redaction function: every shape goes, nothing else
// changes, twice is the same as once, and long adversarial inputs stay linear.
import { describe, expect, it } from "vitest";
import { REDACTED, redactText, secretScrubber } from "../../src/core/redact.ts";
import { CREDENTIALS, NOT_SECRETS } from "../support/credentials.ts";
import { secretlintFindings } from "../support/secretlint.ts";

describe("the credential corpus", () => {
  it("holds at least 40 shapes, and secretlint's recommended rules recognise a good share of them", () => {
    expect(CREDENTIALS.length).toBeGreaterThanOrEqual(40);
    const recognised = CREDENTIALS.filter((c) => secretlintFindings(c.text).length > 0);
    // The maintained rule set confirms the corpus is made of real shapes (the rest are formats it
    // has no rule for: auth headers, URL parameters, escaped JSON, Stripe, Google, JWT…).
    expect(recognised.length).toBeGreaterThanOrEqual(20);
  });

  it.each(CREDENTIALS.map((c) => [c.name, c] as const))("%s is redacted", (_name, c) => {
    const out = redactText(c.text);
    for (const secret of c.secrets) expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
    // What secretlint still reports after redaction is only ever the placeholder.
    for (const finding of secretlintFindings(out)) expect(finding.text).toContain(REDACTED);
  });

  it.each(CREDENTIALS.map((c) => [c.name, c] as const))("%s: redacting twice changes nothing", (_n, c) => {
    const once = redactText(c.text);
    expect(redactText(once)).toBe(once);
  });

  it("redacts every shape inside one long multi-line error text", () => {
    const text = CREDENTIALS.map((c) => c.text).join("\n");
    const out = redactText(text);
    for (const secret of CREDENTIALS.flatMap((c) => c.secrets)) expect(out).not.toContain(secret);
    expect(redactText(out)).toBe(out);
  });
});

describe("text that is not a secret", () => {
  it.each(NOT_SECRETS)("%s survives unchanged", (text) => {
    expect(redactText(text)).toBe(text);
    expect(secretlintFindings(text)).toEqual([]);
  });

  it("recognises parameters of a URL already escaped for mrkdwn", () => {
    expect(redactText("https://h/?a=1&amp;token=abc123XYZ")).toBe(`https://h/?a=1&amp;token=${REDACTED}`);
  });

  it("survives next to a secret on the same line", () => {
    const text = "job 991 myapp_posts_v2 lib/my_app/search.ex:42 token=abcDEF123456 task 48213";
    expect(redactText(text)).toBe(
      `job 991 myapp_posts_v2 lib/my_app/search.ex:42 token=${REDACTED} task 48213`,
    );
  });
});

describe("secretScrubber", () => {
  it("replaces configured values literally, as typed and percent-encoded, then the rules", () => {
    const scrub = secretScrubber(["plainS3cret", "p@ss/w0rd", null, "short"]);
    const out = scrub("boom plainS3cret http://h/?q=p%40ss%2Fw0rd xoxb-1-2-abcdef short");
    expect(out).toBe(`boom ${REDACTED} http://h/?q=${REDACTED} ${REDACTED} short`);
  });
});

describe("redaction stays linear on adversarial input", () => {
  const MB = 1_000_000;
  const inputs: Record<string, (n: number) => string> = {
    "a=a=…": (n) => "a=".repeat(n / 2),
    "https://…": (n) => "https://".repeat(n / 8),
    "https:// …": (n) => "https:// ".repeat(n / 9),
    "xoxb-…": (n) => "xoxb-".repeat(n / 5),
    'api_key="…': (n) => 'api_key="'.repeat(n / 9),
    'k="k=\\"…': (n) => 'k="k=\\"'.repeat(n / 7),
    "Authorization: …": (n) => "Authorization: ".repeat(n / 15),
    "bearer aaaa…": (n) => `bearer ${"a".repeat(n)}`,
    "?a=b&…": (n) => `https://h/?${"a=b&".repeat(n / 4)}`,
    "http://u:p@…": (n) => "http://u:p@".repeat(n / 11),
    "-----BEGIN PRIVATE KEY-----…": (n) => "-----BEGIN PRIVATE KEY-----".repeat(n / 27),
    "eyJaaaaaa.…": (n) => "eyJaaaaaa.".repeat(n / 10),
  };

  // CPU time (the machine is shared: wall time measures the neighbours), best of three runs so a
  // garbage-collection pause does not read as growth. Milliseconds.
  const time = (text: string): number => {
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 3; i++) {
      const start = process.cpuUsage();
      redactText(text);
      const used = process.cpuUsage(start);
      best = Math.min(best, (used.user + used.system) / 1000);
    }
    return best;
  };

  it.each(Object.entries(inputs))(
    "%s: 1 MB in under a second of CPU, about 10× the time of 100 kB",
    (_name, make) => {
      const small = make(MB / 10);
      const big = make(MB);
      time(small); // warm the regex compiler
      const tSmall = Math.max(time(small), 1);
      const tBig = time(big);
      expect(tBig).toBeLessThan(1000);
      // Linear: 10× the input takes about 10× the time. Quadratic would be ~100×; the bound is
      // generous for a loaded machine.
      expect(tBig / tSmall).toBeLessThan(40);
    },
  );
});

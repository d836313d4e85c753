// Renders the JSON of `npm run bench` as the Markdown tables and plans of BENCHMARKS.md:
//   npm run --silent bench > bench.json && npx tsx bench/report.ts bench.json
import { readFileSync } from "node:fs";
import type { BulkRetryBenchFigures } from "./bulkRetry.ts";
import type { CallResult } from "./calls.ts";
import type { DigestBenchFigures } from "./digest.ts";
import type { Explained } from "./inspect.ts";
import type { RetryBenchFigures } from "./mutations.ts";
import type { SlackBenchFigures } from "./slack.ts";

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: tsx bench/report.ts bench.json\n");
  process.exit(2);
}
const report = JSON.parse(readFileSync(file, "utf8")) as {
  date: string;
  machine: Record<string, unknown>;
  results: Record<string, CallResult>;
  rss?: { maxRssMb: number; sampledPeakMb: number; startMb: number; targetMb: number; pass: boolean };
  explain: Explained[];
  slashCommands?: SlackBenchFigures & { targets: { ackP99Ms: number; finalAnswerMs: number } };
  retries?: RetryBenchFigures;
  bulkRetry?: BulkRetryBenchFigures;
  digest?: DigestBenchFigures & { targetMs: number };
};

const out: string[] = [];
const ms = (n: number) => `${n.toLocaleString("en", { maximumFractionDigits: 1 })} ms`;
const failures = (r: CallResult) =>
  [
    r.op.errors && `op ${r.op.errors.count} (${r.op.errors.first.replace(/^.*: /, "")})`,
    r.floor.errors && `floor ${r.floor.errors.count} (${r.floor.errors.first.replace(/^.*: /, "")})`,
  ]
    .filter(Boolean)
    .join("; ") || "0";
const ok = (pass: boolean) => (pass ? "pass" : "**FAIL**");

out.push(
  "| call | median | p95 | floor median | floor p95 | ratio | SQL / HTTP requests | failed runs | ratio ≤ 1.5 | p95 < 500 ms |",
);
out.push("|---|---:|---:|---:|---:|---:|---:|---|---|---|");
for (const r of Object.values(report.results)) {
  out.push(
    `| \`${r.call}\` | ${ms(r.op.medianMs)} | ${ms(r.op.p95Ms)} | ${ms(r.floor.medianMs)} | ${ms(r.floor.p95Ms)} | ${r.ratio} | ${r.requests.sql} / ${r.requests.http} | ${failures(r)} | ${ok(r.ratio <= r.target.ratio)} | ${ok(r.op.p95Ms < r.target.ms && !r.op.errors)} |`,
  );
}
out.push("");
if (report.rss) {
  out.push(
    `Peak RSS of the measuring process: ${report.rss.maxRssMb} MB (maxRSS; sampled peak ${report.rss.sampledPeakMb} MB, ${report.rss.startMb} MB after start-up); target < ${report.rss.targetMb} MB: ${ok(report.rss.pass)}.`,
  );
  out.push("");
}

const slash = report.slashCommands;
if (slash) {
  const finalP95 = Math.max(slash.finalAnswer.status.p95Ms, slash.finalAnswer.failed.p95Ms);
  out.push(
    `Slash commands (the real Bolt app over HTTP, signed requests from a separate process): ack at ${slash.ack.concurrency} concurrent commands, each burst sent once the previous one was answered (${slash.ack.requests} measured): p50 ${ms(slash.ack.medianMs)}, p99 ${ms(slash.ack.p99Ms)} (target < ${slash.targets.ackP99Ms} ms: ${ok(slash.ack.p99Ms < slash.targets.ackP99Ms)}). Stress, bursts 300 ms apart landing on the previous bursts' work (${slash.ackUnderLoad.requests} measured): p50 ${ms(slash.ackUnderLoad.medianMs)}, p99 ${ms(slash.ackUnderLoad.p99Ms)}, max ${ms(slash.ackUnderLoad.maxMs)}.`,
  );
  out.push("");
  out.push(
    `Final answer at response_url, one command at a time: \`status\` median ${ms(slash.finalAnswer.status.medianMs)} / p95 ${ms(slash.finalAnswer.status.p95Ms)}, \`failed\` median ${ms(slash.finalAnswer.failed.medianMs)} / p95 ${ms(slash.finalAnswer.failed.p95Ms)} (target < ${slash.targets.finalAnswerMs} ms: ${ok(finalP95 < slash.targets.finalAnswerMs)}).`,
  );
  out.push("");
}
const retries = report.retries;
if (retries) {
  out.push(
    `Retry (re-read under a lock, insert the new job, the replay link and the audit row in one transaction): median ${ms(retries.single.medianMs)}, p95 ${ms(retries.single.p95Ms)} over ${retries.single.runs} retries; 100 concurrent retries of distinct jobs through one operator (pool of 5): ${ms(retries.concurrent.wallMs)} wall, ${ms(retries.concurrent.perRetryMs)} per retry, ${retries.concurrent.newJobs} new jobs.`,
  );
  out.push("");
}
const bulk = report.bulkRetry;
if (bulk) {
  const r = bulk.resolve;
  out.push(
    `Bulk retry, resolving \`--class transport --since <outage>\` (${r.matching.toLocaleString("en")} matching rows among the schema's ${r.terminalRowsOfSchema.toLocaleString("en")} terminal rows): median ${ms(r.op.medianMs)}, p95 ${ms(r.op.p95Ms)}; database time median ${ms(r.dbMs.medianMs)} in ${r.statements} statements; its statements bare: median ${ms(r.floor.medianMs)} (ratio ${r.ratio}); the id query alone: median ${ms(r.idQuery.medianMs)} (ratio ${r.ratioToIdQuery}).`,
  );
  out.push("");
  out.push("| 1,000 replays | wall | database time | transactions | statements |");
  out.push("|---|---:|---:|---:|---:|");
  const e = bulk.execute;
  out.push(
    `| \`executeBulkRetry\`, ${e.bulk.batches} batches of ${e.bulk.batchSize} | ${ms(e.bulk.wallMs)} | ${ms(e.bulk.dbMs)} | ${e.bulk.transactions.toLocaleString("en")} | ${e.bulk.statements.toLocaleString("en")} |`,
  );
  out.push(
    `| \`retrySyncWork\` × ${e.single.replays.toLocaleString("en")}, one after another | ${ms(e.single.wallMs)} | ${ms(e.single.dbMs)} | ${e.single.transactions.toLocaleString("en")} | ${e.single.statements.toLocaleString("en")} |`,
  );
  out.push("");
  const f = bulk.failedFigure;
  out.push(
    `\`failedSyncWork\` (limit 10) with the *Retry all N…* figures: median ${ms(f.with.medianMs)} / p95 ${ms(f.with.p95Ms)}, without: ${ms(f.without.medianMs)} / ${ms(f.without.p95Ms)} (ratio ${f.ratio}); the replay-links statement alone: median ${ms(f.blockedStatement.medianMs)}.`,
  );
  out.push("");
}
const digest = report.digest;
if (digest) {
  out.push(
    `Digest of ${digest.schemas} configured schemas: built in ${ms(digest.buildMs)}, posted (${digest.messages} messages, paced at about one per second) in ${ms(digest.postMs)}, ${ms(digest.totalMs)} in all (target < ${digest.targetMs / 1000} s: ${ok(digest.totalMs < digest.targetMs)}).`,
  );
  out.push("");
}

// The class-count statements carry the whole classification CASE in their Group Key and Sort Key
// lines (several KB); shorten such lines, nothing else.
const shorten = (line: string) =>
  line.length > 240 ? `${line.slice(0, 200)} … (${line.length} chars)` : line;
for (const e of report.explain) {
  out.push(
    `#### \`${e.statement}\` — sent by ${e.sentBy.join(", ")}; indexes: ${e.indexes.join(", ") || "none"}; Seq Scan on oban_jobs: ${e.seqScan ? "**yes**" : "no"}`,
  );
  out.push("");
  out.push(`Parameters: \`${JSON.stringify(e.params)}\``);
  out.push("");
  out.push("```");
  out.push(...e.plan.map(shorten));
  out.push("```");
  out.push("");
}
process.stdout.write(`${out.join("\n")}\n`);

// Acknowledge first, always: an ack that fails (already acknowledged, socket closed) is logged,
// and the work still runs so the answer can arrive through response_url.
import type { Logger } from "../../log.ts";

/**
 * Work starts once no other ack has gone out for QUIET_MS, or MAX_WAIT_MS after its own ack.
 * In a burst (an incident channel: twenty people typing `/scrypath failed`), work started
 * between acks takes the CPU (backend queries, result parsing) and the later acks queue behind
 * it; deferring it until the burst has been acknowledged keeps every ack fast, not only the
 * first, for at most MAX_WAIT_MS on the answer (BENCHMARKS.md: ack p99 of a 20-command burst).
 * A 200-command burst on a busy 2-core machine arrives over most of a second with gaps of tens
 * of ms between acks: at 15 ms / 150 ms the first commands' work started while the rest were
 * still being accepted and their acks waited behind it (p99 seconds); 50 ms / 1 s keeps the
 * burst's acks ahead of its work (BENCHMARKS.md, issue 11). A lone command waits 50 ms.
 */
export const QUIET_MS = 50;
export const MAX_WAIT_MS = 1_000;

/** When the latest ack went out (performance.now()); shared by every listener of the process. */
let lastAckAt = Number.NEGATIVE_INFINITY;

/** Records an ack that just went out; returns its time. */
export function noteAck(): number {
  lastAckAt = performance.now();
  return lastAckAt;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once acks have been quiet for `quietMs`, or `maxWaitMs` after `since`. */
export async function ackBurstSettled(since: number, quietMs = QUIET_MS, maxWaitMs = MAX_WAIT_MS) {
  // Always yield once, so requests that already arrived are acknowledged first.
  await new Promise((resolve) => setImmediate(resolve));
  for (;;) {
    const now = performance.now();
    const quietLeft = lastAckAt + quietMs - now;
    const budgetLeft = since + maxWaitMs - now;
    if (quietLeft <= 0 || budgetLeft <= 0) return;
    await sleep(Math.min(quietLeft, budgetLeft));
  }
}

export async function acknowledge(ack: () => Promise<void>, logger: Logger, fields: Record<string, unknown>) {
  try {
    await ack();
  } catch (error) {
    logger.warn("ack failed", { ...fields, error });
  }
  await ackBurstSettled(noteAck());
}

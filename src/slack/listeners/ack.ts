// Acknowledge first, always: an ack that fails (already acknowledged, socket closed) is logged,
// and the work still runs so the answer can arrive through response_url.
import type { Logger } from "../../log.ts";

export async function acknowledge(ack: () => Promise<void>, logger: Logger, fields: Record<string, unknown>) {
  try {
    await ack();
  } catch (error) {
    logger.warn("ack failed", { ...fields, error });
  }
  // Let requests that arrived meanwhile be acknowledged before this one's work takes the CPU:
  // in a burst (an incident channel), every ack stays fast, not only the first.
  await new Promise((resolve) => setImmediate(resolve));
}

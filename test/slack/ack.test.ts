// The quiet-period gate between acks and work (src/slack/listeners/ack.ts). Generous intervals:
// the assertions are about order, not durations, and must hold on a loaded CI machine.
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.ts";
import { ackBurstSettled, acknowledge, noteAck } from "../../src/slack/listeners/ack.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("ack burst gate", () => {
  it("starts no work of a burst before the burst's last ack", async () => {
    const events: string[] = [];
    const quiet = 250;
    const works = [0, 1, 2].map(async (i) => {
      await sleep(i * 40);
      events.push(`ack ${i}`);
      await ackBurstSettled(noteAck(), quiet, 5_000);
      events.push(`work ${i}`);
    });
    await Promise.all(works);
    expect(events.slice(0, 3)).toEqual(["ack 0", "ack 1", "ack 2"]);
    expect(events.slice(3).sort()).toEqual(["work 0", "work 1", "work 2"]);
  });

  it("does not let a steady stream of acks hold work back past the wait limit", async () => {
    let stop = false;
    let ended = false;
    const stream = (async () => {
      for (let i = 0; i < 60 && !stop; i++) {
        noteAck();
        await sleep(20);
      }
      ended = true;
    })();
    await ackBurstSettled(noteAck(), 200, 300);
    const endedBeforeWork = ended;
    stop = true;
    await stream;
    expect(endedBeforeWork).toBe(false);
  });

  it("acknowledges before the gate and logs a failed ack without throwing", async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "warn", write: (line) => lines.push(line) });
    const order: string[] = [];
    await acknowledge(
      async () => {
        order.push("ack");
        throw new Error("already acknowledged");
      },
      logger,
      { command: "/scrypath" },
    );
    order.push("work");
    expect(order).toEqual(["ack", "work"]);
    expect(lines.join("\n")).toContain("ack failed");
  });
});

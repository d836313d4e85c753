// What every listener needs: the command layer's dependencies and the answer machinery.
import type { CommandDeps } from "../../../commands/types.ts";
import type { AnswerDeps } from "../answer.ts";

export interface ListenerDeps extends AnswerDeps {
  commands: CommandDeps;
  /** Registers work still running after the ack, so a graceful stop can wait for it. */
  track?: (work: Promise<unknown>) => void;
}

/** Runs `work`, registered with `track` when given. */
export function tracked(deps: ListenerDeps, work: Promise<void>): Promise<void> {
  deps.track?.(work);
  return work;
}

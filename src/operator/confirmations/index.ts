// The confirmation workflow: a mutation asked for on a surface never acts on request. It is
// checked, previewed, stored with a random id and shown as a card; only one authorised Confirm,
// claimed atomically in Postgres across every replica, executes it through the operator (which
// re-reads and re-validates at that moment). Cancel and expiry close it the same way; every step
// is an audit row. Surfaces give the workflow ports (cards, access, replay following) and render
// its typed answers; they hold no state and no SQL.
import type { OperatorContext } from "../context.ts";
import type { MutationRequest } from "../requests.ts";
import { claimAndExecute } from "./decide.ts";
import { createLifecycle } from "./lifecycle.ts";
import { authorizeRequest, requestConfirmation } from "./request.ts";
import { expireDue, interruptRunning } from "./sweep.ts";
import type { AccessDenial, Click, ClickAnswer, Origin, RequestAnswer, WorkflowPorts } from "./types.ts";

export { BOT_ACTOR, UNKNOWN_REQUEST_ACTION } from "./lifecycle.ts";
export { INTERRUPTED_AFTER_S } from "./sweep.ts";
export type * from "./types.ts";

export interface ConfirmationWorkflow {
  /** May `origin.userId` ask for `request`? Null when yes; else the denial (audited, counted). */
  authorize(request: MutationRequest, origin: Origin): Promise<AccessDenial | null>;
  /** Check, preview, store and post the card. */
  request(request: unknown, origin: Origin): Promise<RequestAnswer>;
  /** A Confirm or Cancel click, bounded by the claim timeout; a confirmed request runs before this resolves. */
  decide(click: Click): Promise<ClickAnswer>;
  /** Expire what is due and close interrupted executions (their cards too); how many. */
  expireDue(): Promise<number>;
  /** Requests this process is executing now: how many. */
  running(): number;
  /** Close what this process is still executing as interrupted, cards included (a shutdown's last step). */
  interruptRunning(): Promise<number>;
  /**
   * A shutdown's first step: executions that can stop at a safe point do (a bulk retry after its
   * current batch, its card saying how many were replayed); the others run to their end.
   */
  windDown(): void;
}

export function createConfirmationWorkflow(ctx: OperatorContext, ports: WorkflowPorts): ConfirmationWorkflow {
  const lc = createLifecycle(ctx, ports);
  return {
    authorize: (request, origin) => authorizeRequest(lc, request, origin),
    request: (request, origin) => requestConfirmation(lc, request, origin),
    decide: (click) => claimAndExecute(lc, click),
    expireDue: () => expireDue(lc),
    running: () => lc.running.size,
    interruptRunning: () => interruptRunning(lc),
    windDown: () => lc.stopping.abort(),
  };
}

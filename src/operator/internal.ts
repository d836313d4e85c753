// The operator's context (its pool and clients), for code that may hold it: the operator's own
// modules, tests, bench and the dev sandbox. Production surfaces call operator functions instead
// (dependency-cruiser rule operator-context-is-private); src/slack/app.ts still hands it to the
// confirmation workflow and follow-ups until those move into the operator (a known violation).
import type { OperatorContext } from "./context.ts";

const contexts = new WeakMap<object, OperatorContext>();

/** Called by createOperator only. */
export function rememberContext(operator: object, context: OperatorContext): void {
  contexts.set(operator, context);
}

/** The context an operator was created with. */
export function operatorContext(operator: object): OperatorContext {
  const context = contexts.get(operator);
  if (!context) throw new Error("not an operator made by createOperator");
  return context;
}

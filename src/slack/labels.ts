// Names for a request before the command has run: the working note's `/scrypath <verb> [schema]`
// and bounded metric labels. Display only; commands/ does the real parsing and validation.
import { COMMANDS } from "../../commands/index.ts";
import { ACTIONS, ALERT_ACTIONS } from "../../views/types.ts";

/** Every verb a CommandResult can carry; other values are counted as "other". */
export const VERBS: readonly string[] = [
  ...COMMANDS.map((c) => c.name),
  "help",
  "unknown",
  "button",
  "confirm",
  "cancel",
];

const SCHEMA_LIKE = /^[A-Za-z][A-Za-z0-9_.]{0,99}$/;

export interface Label {
  verb: string;
  schema: string | null;
}

/** `failed posts --page 2` → { verb: "failed", schema: "posts" }. */
export function commandLabel(text: string): Label {
  const [first = "help", second] = text.trim().split(/\s+/, 2);
  const verb = first.toLowerCase();
  return {
    verb: VERBS.includes(verb) ? verb : first.slice(0, 30),
    schema: second && SCHEMA_LIKE.test(second) ? second : null,
  };
}

const VERB_BY_ACTION: Record<string, string> = {
  [ACTIONS.openStatus]: "status",
  [ACTIONS.openFailed]: "failed",
  [ACTIONS.openReconcile]: "reconcile",
  [ACTIONS.openDrift]: "drift",
  [ACTIONS.page]: "failed",
  [ALERT_ACTIONS.failed]: "failed",
  [ALERT_ACTIONS.reconcile]: "reconcile",
};

/** A button's verb and, when its value names one plausibly, the schema. */
export function actionLabel(actionId: string, value: string | undefined): Label {
  let schema: string | null = null;
  try {
    const parsed = JSON.parse(value ?? "null") as { schema?: unknown } | null;
    if (typeof parsed?.schema === "string" && SCHEMA_LIKE.test(parsed.schema)) schema = parsed.schema;
  } catch {
    // Not JSON: runOpenAction answers that the button is not valid any more.
  }
  return { verb: VERB_BY_ACTION[actionId] ?? "button", schema };
}

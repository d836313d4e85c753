// reason_class rules (spec §3.3). The queue rule table is exported so the SQL layer can compile the
// same checks into a CASE expression; keep the logic here and only here.
import type { MeiliTask, ReasonClass } from "./types.ts";

/** Backend rows: by lower-cased `error.type`; error codes are not consulted. */
export function classifyBackendError(error: MeiliTask["error"]): ReasonClass {
  const type = error && typeof error.type === "string" ? error.type.toLowerCase() : null;
  switch (type) {
    case "invalid_request":
      return "validation";
    case "internal":
      return "backend_rejected";
    case "auth":
      return "transport";
    default:
      return "unknown";
  }
}

export interface QueueTextRule {
  reasonClass: ReasonClass;
  /** Matched case-insensitively (against the lower-cased text). */
  substrings: readonly string[];
  /** Matched as whole words: not preceded or followed by [A-Za-z0-9_] (PCRE `\b`). */
  wholeWordNumbers: readonly string[];
}

/** Evaluated in order; the first rule that matches wins, otherwise `unknown`. */
export const QUEUE_TEXT_RULES: ReadonlyArray<QueueTextRule> = [
  { reasonClass: "validation", substrings: ["ecto.casterror", "argumenterror"], wholeWordNumbers: [] },
  {
    reasonClass: "transport",
    substrings: ["req.transporterror", "mint.transporterror", "timeout"],
    wholeWordNumbers: [
      "401",
      "403",
      "408",
      "429",
      "500",
      "501",
      "502",
      "503",
      "504",
      "505",
      "506",
      "507",
      "508",
      "509",
    ],
  },
  {
    reasonClass: "backend_rejected",
    substrings: ["invalid_state", "database_size_limit", "no_space_left_on_device"],
    wholeWordNumbers: [],
  },
];

const isWordChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);

/** True when `word` occurs in `text` with no word character directly before or after it. */
export function containsWholeWord(text: string, word: string): boolean {
  let from = 0;
  for (;;) {
    const at = text.indexOf(word, from);
    if (at < 0) return false;
    if (!isWordChar(text[at - 1]) && !isWordChar(text[at + word.length])) return true;
    from = at + 1;
  }
}

/**
 * Signal text of the newest Oban error entry: a string is itself, an object's string `error` field,
 * nothing for null/undefined. Upstream yields nothing for an object without a string `error`
 * (`error_entry_to_string/1`) and `inspect`s any other shape; JSON stands in for `inspect` here.
 */
export function queueSignalText(lastError: unknown): string | null {
  if (lastError === null || lastError === undefined) return null;
  if (typeof lastError === "string") return lastError;
  if (typeof lastError === "object" && !Array.isArray(lastError)) {
    const err = (lastError as Record<string, unknown>).error;
    return typeof err === "string" ? err : null;
  }
  return JSON.stringify(lastError) ?? String(lastError);
}

export function classifyQueueText(text: string | null): ReasonClass {
  if (text === null) return "unknown";
  const lowered = text.toLowerCase();
  for (const rule of QUEUE_TEXT_RULES) {
    if (rule.substrings.some((s) => lowered.includes(s))) return rule.reasonClass;
    // Numbers are matched on the original text, as upstream's regex does (digits have no case).
    if (rule.wholeWordNumbers.some((n) => containsWholeWord(text, n))) return rule.reasonClass;
  }
  return "unknown";
}

/** Step 3: a discarded job whose text says nothing is `queue_exhausted`; other states keep the text class. */
export function classifyQueueJob(obanState: string, lastError: unknown): ReasonClass {
  const textClass = classifyQueueText(queueSignalText(lastError));
  return obanState === "discarded" && textClass === "unknown" ? "queue_exhausted" : textClass;
}

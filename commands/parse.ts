// Tokenising and flag parsing for `/scrypath …` text. Hostile input is expected (flag soup,
// unicode, megabytes of text): everything here is bounded and never throws anything but a
// UsageProblem.
import { didYouMean } from "../src/core/schemaRef.ts";

/** Slack caps command text at a few thousand characters; anything longer is refused early. */
export const MAX_TEXT_LENGTH = 4000;
const MAX_TOKENS = 64;

export type FlagKind = "string" | "boolean" | "integer";
export type FlagSpec = Record<string, FlagKind>;

/** A wrong call: what was wrong, and optionally what the user probably meant. */
export class UsageProblem extends Error {
  constructor(
    message: string,
    readonly suggestion: string | null = null,
  ) {
    super(message);
  }
}

/** Split on whitespace, keeping "double" or 'single' quoted runs (quotes removed). */
export function tokenize(text: string): string[] {
  if (text.length > MAX_TEXT_LENGTH) {
    throw new UsageProblem(
      `the command text is too long (${text.length} characters; at most ${MAX_TEXT_LENGTH})`,
    );
  }
  const tokens: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const match of text.normalize("NFC").matchAll(pattern)) {
    tokens.push(match[1] ?? match[2] ?? match[3] ?? "");
    if (tokens.length > MAX_TOKENS) throw new UsageProblem(`too many words (at most ${MAX_TOKENS})`);
  }
  return tokens;
}

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string | boolean | number>;
}

/** `--name value`, `--name=value` and boolean `--name`; unknown flags are refused with a suggestion. */
export function parseFlags(tokens: string[], spec: FlagSpec): ParsedArgs {
  const positionals: string[] = [];
  const flags: ParsedArgs["flags"] = {};
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (!token.startsWith("--") || token === "--") {
      positionals.push(token);
      continue;
    }
    const [rawName, inline] = splitOnce(token.slice(2), "=");
    const name = rawName.toLowerCase();
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!kind) {
      const guess = didYouMean(name, Object.keys(spec));
      throw new UsageProblem(`unknown option --${clip(rawName)}`, guess ? `--${guess}` : null);
    }
    if (Object.hasOwn(flags, name)) throw new UsageProblem(`--${name} is given twice`);
    if (kind === "boolean") {
      if (inline !== undefined) throw new UsageProblem(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = inline ?? tokens[++i];
    if (value === undefined || (inline === undefined && value.startsWith("--"))) {
      throw new UsageProblem(`--${name} needs a value`);
    }
    if (kind === "integer") {
      if (!/^[1-9][0-9]{0,5}$/.test(value))
        throw new UsageProblem(`--${name} expects a positive whole number, got "${clip(value)}"`);
      flags[name] = Number(value);
    } else flags[name] = value;
  }
  return { positionals, flags };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** Echo user input in messages without letting a huge token through. */
export function clip(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

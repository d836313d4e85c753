// Text from backends (error texts, job args, index names) can carry terminal escape sequences,
// C0/C1 control characters and Unicode bidi overrides: on a terminal they recolour or rewrite
// what the operator sees, in Slack they reorder a line ("Trojan Source"). Every surface strips
// them before output. Newline and tab are kept; everything here is linear-time.

// ANSI / VT escape sequences, removed whole so that `\x1b[31m` does not leave `[31m` behind:
// CSI (ESC [ or 0x9B, parameters, intermediates, final byte), OSC / DCS / APC / PM strings up to
// their terminator (BEL or ST; the run excludes every introducer so a scan never restarts inside
// another), and the two-character ESC sequences.
const ANSI =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x90\x98\x9c-\x9f\n]*(?:\x07|\x1b\\|\x9c)|\x1b[ -/]*[0-~]/g;

// C0 controls except tab (09) and newline (0A), DEL, C1 controls, and the bidi marks, embeddings,
// overrides and isolates: U+061C ALM, U+200E/F LRM/RLM, U+202A–U+202E, U+2066–U+2069.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Removes escape sequences, control characters (but newline and tab) and bidi controls. */
export function stripControls(text: string): string {
  return text.replace(ANSI, "").replace(CONTROL, "");
}

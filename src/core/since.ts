// `--since` values as every surface takes them (the CLI and `/scrypath retry`): a duration back
// from now (`2h`, `30m`, `90s`, `1d`) or an absolute ISO timestamp. Pure: `now` is an argument.

/** `2h`, `30m`, `90s`, `1d` before now, or an ISO timestamp; null when not a valid one. */
export function parseSince(value: string, now = new Date()): Date | null {
  const match = /^([1-9][0-9]*)([smhd])$/.exec(value.trim());
  if (match) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as "s" | "m" | "h" | "d"];
    return new Date(now.getTime() - Number(match[1]) * unit * 1000);
  }
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value)) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at;
}

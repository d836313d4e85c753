// The tests' stand-in for Slack is the sandbox's fake Slack API (src/sandbox/fakeSlack.ts) in its
// lenient mode: the Web API under /api/<method> (SLACK_API_URL points here), response_url endpoints
// under /respond/<id>; it records every call and post and can be told to fail (failApi, failRespond).
export { type ApiCall, type Failure, FakeSlack, type ResponsePost } from "../../src/sandbox/fakeSlack.ts";

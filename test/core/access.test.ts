import { describe, expect, it } from "vitest";
import { mutationAccess } from "../../src/core/access.ts";

const operators = { users: ["U_OPS"], usergroups: ["S_ONCALL"] };
const reason = (input: Parameters<typeof mutationAccess>[0]) => {
  const d = mutationAccess(input);
  return d.allowed ? "allowed" : d.reason;
};

describe("mutationAccess", () => {
  it("denies everyone when no operators are configured", () => {
    expect(
      reason({ userId: "U_OPS", operators: { users: [], usergroups: [] }, groupMembers: new Set(["U_OPS"]) }),
    ).toBe("no_operators_configured");
  });

  it("allows listed users and members of listed groups, nobody else", () => {
    expect(reason({ userId: "U_OPS", operators, groupMembers: null })).toBe("allowed");
    expect(reason({ userId: "U_GRP", operators, groupMembers: new Set(["U_GRP"]) })).toBe("allowed");
    expect(reason({ userId: "U_GRP", operators, groupMembers: null })).toBe("not_an_operator");
    expect(reason({ userId: "U_RANDOM", operators, groupMembers: new Set(["U_GRP"]) })).toBe(
      "not_an_operator",
    );
  });

  it("applies the two-person rule only to the requester's own confirmation", () => {
    const base = { operators, groupMembers: null, twoPersonRule: true };
    expect(reason({ ...base, userId: "U_OPS", requestedBy: "U_OPS" })).toBe("two_person_rule");
    expect(reason({ ...base, userId: "U_OPS", requestedBy: "U_OTHER" })).toBe("allowed");
    expect(reason({ ...base, userId: "U_OPS", requestedBy: "U_OPS", twoPersonRule: false })).toBe("allowed");
    // Non-operators are refused for what they are, not for the two-person rule.
    expect(reason({ ...base, userId: "U_X", requestedBy: "U_X" })).toBe("not_an_operator");
  });

  it("says the membership could not be checked when a group lookup failed and the user was not found", () => {
    const unresolved = { operators, groupMembers: null, groupsUnresolved: true };
    expect(reason({ ...unresolved, userId: "U_GRP" })).toBe("membership_unknown");
    // A listed user, or one found in a group that did resolve, is still an operator.
    expect(reason({ ...unresolved, userId: "U_OPS" })).toBe("allowed");
    expect(reason({ ...unresolved, userId: "U_GRP", groupMembers: new Set(["U_GRP"]) })).toBe("allowed");
    expect(mutationAccess({ ...unresolved, userId: "U_GRP" })).toMatchObject({
      message: expect.stringContaining("could not be checked"),
    });
  });
});

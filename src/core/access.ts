// Who may change production from Slack: deny by default. Reads are open in allowed channels;
// every mutation request and every confirmation needs an operator (a listed user, or a member
// of a listed user group), and with the two-person rule the requester cannot confirm.

export interface OperatorsConfig {
  users: readonly string[];
  usergroups: readonly string[];
}

export type AccessRefusal =
  | "no_operators_configured"
  | "not_an_operator"
  | "membership_unknown"
  | "two_person_rule";

export type AccessDecision =
  | { allowed: true }
  | {
      allowed: false;
      reason: AccessRefusal;
      message: string;
      /** The user groups that grant the operator role (Slack ids), for the refusal to name. */
      usergroups?: readonly string[];
    };

/**
 * One sentence per refusal, addressed to the person refused: no config keys, except where no
 * operators are configured at all (that one is for whoever configures the bot). The refusal view
 * names the user groups that grant the role.
 */
export const ACCESS_MESSAGES: Record<AccessRefusal, string> = {
  no_operators_configured:
    "mutations are disabled because no operators are configured; add Slack user ids under access.operators.users or user group ids under access.operators.usergroups",
  not_an_operator: "ask an operator to do it",
  membership_unknown:
    "Slack did not tell in time whether you are in the operators' user group, so your membership could not be checked; try again in a minute, or ask an operator to do it",
  two_person_rule:
    "the two-person rule is on here: whoever asked for a change cannot also confirm it; ask another operator to confirm",
};

const refuse = (reason: AccessRefusal, usergroups: readonly string[] = []): AccessDecision => ({
  allowed: false,
  reason,
  message: ACCESS_MESSAGES[reason],
  ...(usergroups.length > 0 ? { usergroups } : {}),
});

/**
 * `groupMembers`: members of the configured user groups, as resolved from Slack (null when
 * none could be resolved; a listed user is still allowed then). `groupsUnresolved`: some group
 * could not be resolved, so someone not found elsewhere may still be a member: that refusal says
 * the membership could not be checked, not that the person lacks the role.
 */
export function mutationAccess(input: {
  userId: string;
  operators: OperatorsConfig;
  groupMembers: ReadonlySet<string> | null;
  groupsUnresolved?: boolean;
  /** Set when deciding a confirmation: who asked for it. */
  requestedBy?: string | null;
  twoPersonRule?: boolean;
}): AccessDecision {
  const { operators } = input;
  if (operators.users.length === 0 && operators.usergroups.length === 0)
    return refuse("no_operators_configured");
  const isOperator =
    operators.users.includes(input.userId) || (input.groupMembers?.has(input.userId) ?? false);
  if (!isOperator) {
    return refuse(input.groupsUnresolved ? "membership_unknown" : "not_an_operator", operators.usergroups);
  }
  if (input.twoPersonRule && input.requestedBy && input.requestedBy === input.userId)
    return refuse("two_person_rule");
  return { allowed: true };
}

import { claimNamesFromEnv, membershipStoreFromEnv } from '#functions/adapters/wiring';
import { requireRole, type ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, pathParameters } from '#functions/shared/http';
import { memberPathSchema, type MembershipStore } from '../topics';

export interface PutMemberDeps {
  readonly memberships: MembershipStore;
  readonly claims: ClaimNames;
}

/** `PUT /topics/{topic}/members/{userId}` (role admin): adds a member of the admin's own tenant. */
export function makeHandler(deps: PutMemberDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    requireRole(caller, 'admin');
    const { topic, userId } = pathParameters(event, memberPathSchema);
    const outcome = await deps.memberships.put(caller.tenant, topic, userId, caller.userId);
    return json(outcome === 'created' ? 201 : 200, { topic, userId });
  });
}

export const handler = makeHandler({ memberships: membershipStoreFromEnv(), claims: claimNamesFromEnv() });

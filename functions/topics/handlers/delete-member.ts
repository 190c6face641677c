import { claimNamesFromEnv, membershipStoreFromEnv } from '#functions/adapters/wiring';
import { requireRole, type ClaimNames } from '#functions/shared/caller';
import { NotFoundError } from '#functions/shared/errors';
import { callerRoute, pathParameters } from '#functions/shared/http';
import { memberPathSchema, type MembershipStore } from '../topics';

export interface DeleteMemberDeps {
  readonly memberships: MembershipStore;
  readonly claims: ClaimNames;
}

/** `DELETE /topics/{topic}/members/{userId}` (role admin): 204, or 404 when not a member. */
export function makeHandler(deps: DeleteMemberDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    requireRole(caller, 'admin');
    const { topic, userId } = pathParameters(event, memberPathSchema);
    if (!(await deps.memberships.remove(caller.tenant, topic, userId))) throw new NotFoundError(`${userId} is not a member of ${topic}`);
    return { statusCode: 204 };
  });
}

export const handler = makeHandler({ memberships: membershipStoreFromEnv(), claims: claimNamesFromEnv() });

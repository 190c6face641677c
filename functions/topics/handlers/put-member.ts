import { claimNamesFromEnv, membershipStoreFromEnv } from '../../adapters/wiring';
import { requireRole, type ClaimNames } from '../../shared/caller';
import { callerRoute, json } from '../../shared/http';
import type { MembershipStore } from '../topics';
import { memberPath } from './member-path';

export interface PutMemberDeps {
  readonly memberships: MembershipStore;
  readonly claims: ClaimNames;
}

/** `PUT /topics/{topic}/members/{userId}` (role admin): adds a member of the admin's own tenant. */
export function makeHandler(deps: PutMemberDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    requireRole(caller, 'admin');
    const { topic, userId } = memberPath(event);
    const outcome = await deps.memberships.put(caller.tenant, topic, userId, caller.userId);
    return json(outcome === 'created' ? 201 : 200, { topic, userId });
  });
}

export const handler = makeHandler({ memberships: membershipStoreFromEnv(), claims: claimNamesFromEnv() });

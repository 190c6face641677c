import { claimNamesFromEnv, membershipStoreFromEnv } from '../../adapters/wiring';
import { callerFromClaims, requireRole, type ClaimNames } from '../../shared/caller';
import { httpRoute, json, type HttpEvent } from '../../shared/http';
import { instrument } from '../../shared/instrumentation';
import type { MembershipStore } from '../topics';
import { memberPath } from './member-path';

export interface PutMemberDeps {
  readonly memberships: MembershipStore;
  readonly claims: ClaimNames;
}

/** `PUT /topics/{topic}/members/{userId}` (role admin): adds a member of the admin's own tenant. */
export function makeHandler(deps: PutMemberDeps) {
  return instrument(
    httpRoute(async (event: HttpEvent) => {
      const caller = callerFromClaims(event.requestContext.authorizer?.jwt?.claims, deps.claims);
      requireRole(caller, 'admin');
      const { topic, userId } = memberPath(event);
      const outcome = await deps.memberships.put(caller.tenant, topic, userId, caller.userId);
      return json(outcome === 'created' ? 201 : 200, { topic, userId });
    }),
  );
}

export const handler = makeHandler({ memberships: membershipStoreFromEnv(), claims: claimNamesFromEnv() });

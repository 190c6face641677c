/**
 * Who may receive an export (docs/exports.md, "Limits"): an export emails tenant data, so its
 * recipients are the people of that tenant, or addresses at a domain the deployer allows.
 *
 * An address is allowed when it is
 * - at one of the deployer's domains (`exportRecipientDomains`, exact domain match),
 * - the owner's own address from their token (recorded on the schedule as `ownerEmail`), or
 * - the preference address (`PUT /me/preferences {email}`) of a user of the owner's tenant.
 */
import pMap from 'p-map';
import { LimitExceededError } from '../shared/errors';

/** The preference addresses of a tenant's users (functions/adapters/dynamo-recipient-directory.ts). */
export interface RecipientDirectory {
  /** Those of `addresses` (lowercase) that a user of `tenant` set as their preference address. */
  knownAddresses(tenant: string, addresses: readonly string[]): Promise<Set<string>>;
}

export interface RecipientPolicy {
  readonly directory: RecipientDirectory;
  /** Lowercase domains any address at which is allowed. */
  readonly allowedDomains: readonly string[];
}

/** The recipients (lowercase) that are not allowed, in the order given; empty when all are. */
export async function refusedRecipients(
  policy: RecipientPolicy,
  tenant: string,
  recipients: readonly string[],
  ownerEmail: string | undefined,
): Promise<string[]> {
  const domains = new Set(policy.allowedDomains);
  const unsettled = recipients
    .map((address) => address.toLowerCase())
    .filter((address) => address !== ownerEmail && !domains.has(address.slice(address.lastIndexOf('@') + 1)));
  if (unsettled.length === 0) return [];
  const known = await policy.directory.knownAddresses(tenant, unsettled);
  return unsettled.filter((address) => !known.has(address));
}

/** The 400 a schedule write gets for recipients that are not allowed, naming each. */
export function recipientsRefused(refused: readonly string[], allowedDomains: readonly string[]): LimitExceededError {
  const domains = allowedDomains.length > 0 ? `, or an address at ${allowedDomains.join(', ')}` : '';
  return new LimitExceededError(
    400,
    `recipients: ${refused.join(', ')} ${refused.length === 1 ? 'is' : 'are'} not allowed: a recipient must be a user of your tenant (the address they set in their preferences, or your own sign-in address)${domains}`,
    { name: 'exportRecipients', allowed: allowedDomains },
    'recipient_not_allowed',
    { recipients: refused },
  );
}

/** At most this many directory lookups at once; a schedule has at most 50 recipients. */
export const RECIPIENT_LOOKUP_CONCURRENCY = 8;

/** One lookup per address, a few at a time: what the directory adapters share. */
export async function lookUpEach(addresses: readonly string[], isKnown: (address: string) => Promise<boolean>): Promise<Set<string>> {
  const unique = [...new Set(addresses)];
  const found = await pMap(unique, async (address) => ((await isKnown(address)) ? address : undefined), { concurrency: RECIPIENT_LOOKUP_CONCURRENCY });
  return new Set(found.filter((address): address is string => address !== undefined));
}

/**
 * The systems the smoke test can walk: a local runtime (started here, or a running `npm start`),
 * whose tokens come from `POST /dev/token` and whose mail is in the SES emulator; or a deployed
 * stack, whose tokens the deployer gives and whose mail nobody here can read.
 */
import { randomBytes } from 'node:crypto';
import type { DeployedTokens, StackOutputs } from './args';
import type { SmokeTarget, SmokeUsers } from './steps';
import { sesLocalMailbox, type HttpApi } from './wire';

/** `smoke-<8 hex>`: the run's id, its tenant (locally) and its topic. */
export function newRunId(): string {
  return `smoke-${randomBytes(4).toString('hex')}`;
}

export interface LocalEndpoints {
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly mailUrl: string;
}

/** A local runtime: a tenant and users made up for the run, tokens from the local issuer. */
export function localTarget(urls: LocalEndpoints, label: string, unreachable?: string): SmokeTarget {
  return {
    label,
    ...(unreachable !== undefined && { unreachable }),
    httpUrl: urls.httpUrl,
    webSocketUrl: urls.wsUrl,
    mailbox: sesLocalMailbox(urls.mailUrl),
    async users(api: HttpApi, runId: string): Promise<SmokeUsers> {
      const tenant = runId;
      const suffix = runId.replace(/^smoke-/, '');
      const token = async (user: string, roles: string[]) => {
        const { body } = await api.expect(200, 'POST', '/dev/token', undefined, { tenant, user, roles });
        return body.token as string;
      };
      const memberId = `member-${suffix}`;
      return {
        admin: await token(`admin-${suffix}`, ['admin']),
        publisher: await token(`publisher-${suffix}`, ['publisher']),
        member: await token(memberId, []),
        memberId,
        email: `${memberId}@example.com`,
        description: `POST /dev/token: tenant ${tenant}, admin-${suffix}, publisher-${suffix}, ${memberId}`,
      };
    },
  };
}

/** A deployed stack, walked with the deployer's tokens; its mail goes out through SES, unread here. */
export function deployedTarget(outputs: StackOutputs, tokens: DeployedTokens): SmokeTarget {
  const simulator = tokens.email.endsWith('@simulator.amazonses.com');
  return {
    label: `deployed stack ${outputs.stack}`,
    unreachable: 'is the stack deployed, and is this its outputs file?',
    tenantHint: ' (are the three tokens of one tenant?)',
    httpUrl: outputs.httpUrl,
    webSocketUrl: outputs.webSocketUrl,
    noMailbox: simulator
      ? `no mailbox to read deployed: ${tokens.email} is SES's mailbox simulator, which accepts mail and keeps none`
      : `no mailbox to read deployed: look in ${tokens.email}'s inbox yourself`,
    async users(): Promise<SmokeUsers> {
      return { ...tokens, description: `from HERALD_SMOKE_*_TOKEN; member ${tokens.memberId} (its token's sub)` };
    },
  };
}

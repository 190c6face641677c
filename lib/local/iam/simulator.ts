/**
 * The one place that evaluates IAM policies locally. It wraps @cloud-copilot/iam-simulate (AGPL,
 * a dev-time dependency of the local runtime, never bundled into a Lambda): see docs/local-iam.md
 * for why this library and what else was weighed. Swapping the evaluator means rewriting this file
 * only.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly object[] | object;
}

export interface AuthorizationRequest {
  /** `service:Action`, as IAM names it. */
  readonly action: string;
  readonly resource: string;
  /** Condition keys AWS would set for this request (`ses:FromAddress`, `iam:PassedToService`…). */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

export interface Decision {
  readonly allowed: boolean;
  /** `Allowed`, `ImplicitlyDenied`, `ExplicitlyDenied`, or why the request could not be evaluated. */
  readonly result: string;
}

/**
 * Evaluates one request by `principal` (a role ARN of account `accountId`) against the role's
 * identity policies and, where the resource has one, its resource policy, as AWS would.
 */
export async function evaluate(
  principal: string,
  accountId: string,
  identityPolicies: ReadonlyArray<{ readonly name: string; readonly policy: PolicyDocument }>,
  request: AuthorizationRequest,
  resourcePolicy?: PolicyDocument,
): Promise<Decision> {
  const outcome = await runSimulation(
    {
      identityPolicies: identityPolicies.map(({ name, policy }) => ({ name, policy: policy as never })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: resourcePolicy as never,
      request: {
        action: request.action,
        principal,
        resource: { resource: request.resource, accountId },
        // Deployed, every SDK call is HTTPS; locally the emulators speak HTTP on loopback.
        contextVariables: { 'aws:SecureTransport': 'true', ...(request.context as Record<string, string | string[]>) },
      },
    },
    {},
  );
  if (outcome.resultType === 'error') return { allowed: false, result: `not evaluable: ${outcome.errors.message}` };
  return { allowed: outcome.overallResult === 'Allowed', result: outcome.overallResult };
}

/**
 * Whether AWS service `service` (e.g. `scheduler.amazonaws.com`) may assume the role, by its trust
 * policy, with the condition keys the service sets when it does (`aws:SourceAccount`,
 * `aws:SourceArn`).
 */
export async function mayAssume(
  service: string,
  role: { readonly roleArn: string; readonly trust: PolicyDocument },
  accountId: string,
  context: Readonly<Record<string, string>>,
): Promise<Decision> {
  const outcome = await runSimulation(
    {
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: role.trust as never,
      request: { action: 'sts:AssumeRole', principal: service, resource: { resource: role.roleArn, accountId }, contextVariables: { ...context } },
    },
    {},
  );
  if (outcome.resultType === 'error') return { allowed: false, result: `not evaluable: ${outcome.errors.message}` };
  return { allowed: outcome.overallResult === 'Allowed', result: outcome.overallResult };
}

/**
 * The IAM half of the synthesized template, resolved to the local resources: each function's role
 * and its policies, the resource policies of queues and buckets, and the SES identities. The
 * template is the authority: what a role may do locally is exactly what `cdk deploy` would grant.
 *
 * References (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, pseudo parameters) resolve through a mapping
 * derived from the stack's constructs (the description's tables, queues and buckets, by the
 * logical ids synthesis recorded for them) and from each resource's type, never from a list of
 * logical ids.
 */
import type { FunctionName } from '#lib/description';
import type { PolicyDocument } from './simulator';
import type { SynthesizedStack } from './synthesized-stack';

/** What a logical id stands for locally: its `Ref` value and its `Fn::GetAtt` attributes. */
interface LocalIdentity {
  readonly ref: string;
  readonly attributes?: Readonly<Record<string, string>>;
}

/** The local physical side of the description's resources, as the runtime created them. */
export interface LocalResources {
  readonly region: string;
  readonly account: string;
  readonly tables: Readonly<Record<string, { readonly name: string; readonly streamArn?: string }>>;
  readonly queues: Readonly<Record<string, { readonly url: string; readonly arn: string }>>;
  readonly deadLetterQueues: Readonly<Record<string, { readonly url: string; readonly arn: string }>>;
  readonly failureQueues: Readonly<Record<string, { readonly url: string; readonly arn: string }>>;
  readonly buckets: Readonly<Record<string, string>>;
  readonly webSocketApiId: string;
  readonly httpApiId: string;
  /** The name Lambda knows a function by (lambda-host's physical name). */
  functionName(name: FunctionName): string;
}

export interface RoleIam {
  readonly roleArn: string;
  readonly policies: ReadonlyArray<{ readonly name: string; readonly policy: PolicyDocument }>;
  /** The trust policy, resolved: who may assume the role, on what conditions. */
  readonly trust: PolicyDocument;
  /** Managed policies attached to the role, which the template does not hold. */
  readonly managedPolicyArns: readonly string[];
}

export interface TemplateIam {
  readonly functionRoles: ReadonlyMap<FunctionName, RoleIam>;
  /** Resource policies keyed by the resource ARN they guard (queues, buckets). */
  readonly resourcePolicies: ReadonlyMap<string, PolicyDocument>;
  /** The SES identities the stack creates (addresses or domains). */
  readonly sesIdentities: readonly string[];
  /** The role EventBridge Scheduler assumes to send export firings. */
  readonly exportSchedulerRole: RoleIam;
}

export class TemplateResolutionError extends Error {
  override name = 'TemplateResolutionError';
}

/** Local identities of every resource the template holds, derived from the constructs and resource types. */
function localIdentities({ template, logicalIds }: SynthesizedStack, local: LocalResources): Map<string, LocalIdentity> {
  const { region, account } = local;
  const identities = new Map<string, LocalIdentity>();
  for (const [name, id] of Object.entries(logicalIds.tables)) {
    const table = local.tables[name]!;
    const arn = `arn:aws:dynamodb:${region}:${account}:table/${table.name}`;
    identities.set(id, { ref: table.name, attributes: { Arn: arn, ...(table.streamArn ? { StreamArn: table.streamArn } : {}) } });
  }
  for (const [records, queues] of [
    [logicalIds.queues, local.queues],
    [logicalIds.deadLetterQueues, local.deadLetterQueues],
    [logicalIds.failureQueues, local.failureQueues],
  ] as const) {
    for (const [name, id] of Object.entries(records)) {
      const queue = queues[name]!;
      identities.set(id, { ref: queue.url, attributes: { Arn: queue.arn, QueueName: queue.arn.split(':').at(-1)! } });
    }
  }
  for (const [name, id] of Object.entries(logicalIds.buckets)) {
    const bucket = local.buckets[name]!;
    identities.set(id, { ref: bucket, attributes: { Arn: `arn:aws:s3:::${bucket}` } });
  }
  for (const [name, id] of Object.entries(logicalIds.functions)) {
    const physical = local.functionName(name as FunctionName);
    identities.set(id, {
      ref: physical,
      attributes: { Arn: `arn:aws:lambda:${region}:${account}:function:${physical}` },
    });
  }
  identities.set(logicalIds.webSocketApi, { ref: local.webSocketApiId });
  identities.set(logicalIds.httpApi, { ref: local.httpApiId });

  // Everything else by type: names that are the same locally, or ARNs nothing local will ever match.
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (identities.has(id)) continue;
    const properties = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::IAM::Role':
        identities.set(id, { ref: id, attributes: { Arn: `arn:aws:iam::${account}:role/${id}`, RoleId: id } });
        break;
      case 'AWS::Scheduler::ScheduleGroup':
        identities.set(id, { ref: properties.Name, attributes: { Arn: `arn:aws:scheduler:${region}:${account}:schedule-group/${properties.Name}` } });
        break;
      case 'AWS::SES::EmailIdentity':
        identities.set(id, { ref: properties.EmailIdentity });
        break;
      case 'AWS::SecretsManager::Secret':
        identities.set(id, { ref: `arn:aws:secretsmanager:${region}:${account}:secret:${id}` });
        break;
      case 'AWS::Logs::LogGroup':
        identities.set(id, { ref: id, attributes: { Arn: `arn:aws:logs:${region}:${account}:log-group:${id}:*` } });
        break;
      default:
        identities.set(id, { ref: id, attributes: { Arn: `arn:aws:cloudformation:${region}:${account}:stack/local/${id}` } });
    }
  }
  return identities;
}

/** Resolves CloudFormation intrinsics in `node` against local identities and pseudo parameters. */
function resolveIntrinsics(node: unknown, identities: ReadonlyMap<string, LocalIdentity>, local: Pick<LocalResources, 'region' | 'account'>): unknown {
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': local.region,
    'AWS::AccountId': local.account,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': 'local',
  };
  const ref = (name: string): string => {
    if (name in pseudo) return pseudo[name]!;
    const identity = identities.get(name);
    if (!identity) throw new TemplateResolutionError(`Ref to ${name}, which the template does not hold`);
    return identity.ref;
  };
  const getAtt = (id: string, attribute: string): string => {
    const value = identities.get(id)?.attributes?.[attribute];
    if (value === undefined) throw new TemplateResolutionError(`Fn::GetAtt ${id}.${attribute} has no local value`);
    return value;
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (typeof value !== 'object' || value === null) return value;
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object);
    if (keys.length === 1) {
      const [key] = keys as [string];
      const argument = object[key];
      if (key === 'Ref') return ref(argument as string);
      if (key === 'Fn::GetAtt') {
        const [id, attribute] = Array.isArray(argument) ? (argument as [string, string]) : (argument as string).split('.', 2);
        return getAtt(id!, attribute!);
      }
      if (key === 'Fn::Join') {
        const [separator, parts] = argument as [string, unknown[]];
        return (resolve(parts) as unknown[]).join(separator);
      }
      if (key === 'Fn::Sub') {
        const [text, variables] = (Array.isArray(argument) ? argument : [argument, {}]) as [string, Record<string, unknown>];
        return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
          if (name in variables) return String(resolve(variables[name]));
          const [id, attribute] = name.split('.', 2);
          return attribute === undefined ? ref(id!) : getAtt(id!, attribute);
        });
      }
      if (key.startsWith('Fn::')) throw new TemplateResolutionError(`${key} is not resolved locally`);
    }
    return Object.fromEntries(Object.entries(object).map(([key, inner]) => [key, resolve(inner)]));
  };
  return resolve(node);
}

/**
 * A role the enforcement can evaluate: present, and with every policy in the template. Managed
 * policies are not in it, so a role that relies on one cannot be checked here; roles nothing
 * local plays (CDK's custom resources, API Gateway's account role) may have them.
 */
function evaluable(role: RoleIam | undefined, what: string): RoleIam {
  if (!role) throw new TemplateResolutionError(`${what} has no role in the template`);
  if (role.managedPolicyArns.length > 0) {
    throw new TemplateResolutionError(`${what} attaches managed policies (${role.managedPolicyArns.join(', ')}), which the local IAM enforcement cannot read`);
  }
  return role;
}

/** Each function's role, resource policies and SES identities, resolved locally. */
export function templateIam(synthesized: SynthesizedStack, local: LocalResources): TemplateIam {
  const { template, logicalIds } = synthesized;
  const identities = localIdentities(synthesized, local);
  const resolve = <T>(node: unknown) => resolveIntrinsics(node, identities, local) as T;
  const resources = Object.entries(template.Resources);

  const rolesById = new Map<string, RoleIam & { policies: Array<{ name: string; policy: PolicyDocument }> }>();
  for (const [id, resource] of resources) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    const properties = resource.Properties ?? {};
    rolesById.set(id, {
      roleArn: identities.get(id)!.attributes!.Arn!,
      trust: resolve<PolicyDocument>(properties.AssumeRolePolicyDocument),
      managedPolicyArns: (properties.ManagedPolicyArns ?? []).map((arn: unknown) => JSON.stringify(arn)),
      policies: (properties.Policies ?? []).map((inline: { PolicyName: string; PolicyDocument: unknown }) => ({
        name: inline.PolicyName,
        policy: resolve<PolicyDocument>(inline.PolicyDocument),
      })),
    });
  }
  const resourcePolicies = new Map<string, PolicyDocument>();
  for (const [id, resource] of resources) {
    const properties = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Policy') {
      for (const role of properties.Roles ?? []) {
        const roleId = (role as { Ref?: string }).Ref;
        const target = roleId === undefined ? undefined : rolesById.get(roleId);
        if (!target) throw new TemplateResolutionError(`Policy ${id} attaches to a role the template does not hold`);
        target.policies.push({ name: id, policy: resolve<PolicyDocument>(properties.PolicyDocument) });
      }
    } else if (resource.Type === 'AWS::SQS::QueuePolicy') {
      for (const queue of properties.Queues ?? []) {
        const queueId = (queue as { Ref: string }).Ref;
        resourcePolicies.set(identities.get(queueId)!.attributes!.Arn!, resolve<PolicyDocument>(properties.PolicyDocument));
      }
    } else if (resource.Type === 'AWS::S3::BucketPolicy') {
      const bucketId = (properties.Bucket as { Ref: string }).Ref;
      resourcePolicies.set(identities.get(bucketId)!.attributes!.Arn!, resolve<PolicyDocument>(properties.PolicyDocument));
    }
  }

  const functionRoles = new Map<FunctionName, RoleIam>();
  for (const [name, id] of Object.entries(logicalIds.functions) as Array<[FunctionName, string]>) {
    const lambda = template.Resources[id];
    const roleId = (lambda?.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];
    functionRoles.set(name, evaluable(roleId === undefined ? undefined : rolesById.get(roleId), `Function ${name}`));
  }
  const sesIdentities = resources
    .filter(([, resource]) => resource.Type === 'AWS::SES::EmailIdentity')
    .map(([, resource]) => String(resource.Properties?.EmailIdentity));
  return {
    functionRoles,
    resourcePolicies,
    sesIdentities,
    exportSchedulerRole: evaluable(rolesById.get(logicalIds.exportSchedulerRole), 'The export scheduler role'),
  };
}

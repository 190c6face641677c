import { Stack, Validations, type CfnResource } from 'aws-cdk-lib';
import type { Grant } from 'aws-cdk-lib/aws-iam';

/**
 * Acknowledges one AwsSolutions finding on one CloudFormation resource. It takes the L1 resource,
 * which has no children, because CDK matches acknowledgements by construct-path prefix: one made
 * on a higher construct would silently cover everything beneath it.
 */
export function acknowledge(resource: CfnResource, finding: string, reason: string): void {
  Validations.of(resource).acknowledge({ id: `AwsSolutions::AwsSolutions-${finding}`, reason });
}

/**
 * Acknowledges, on `policy`, the IAM5 finding of each wildcard resource that `grant` added, e.g.
 * `IAM5[Resource::<ConnectionsTable1234.Arn>/index/*]`. cdk-nag names a finding after the
 * flattened ARN, so the name is derived from the grant itself: a grant that widens beyond what
 * was acknowledged gets a new name and fails synth.
 */
export function acknowledgeWildcardResources(policy: CfnResource, grant: Grant, reason: string): void {
  for (const statement of grant.principalStatements) {
    for (const arn of statement.resources) {
      const flat = flatten(Stack.of(policy).resolve(arn));
      if (flat.includes('*')) acknowledge(policy, `IAM5[Resource::${flat}]`, reason);
    }
  }
}

/** cdk-nag's rendering of a CloudFormation reference: `<Logical.Attr>`, `<Ref>`, joins inlined. */
function flatten(node: unknown): string {
  if (node === undefined) return ''; // e.g. the index ARN of a grant on a table without indexes
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const fn = node as Record<string, unknown>;
    const join = fn['Fn::Join'];
    if (Array.isArray(join)) return (join[1] as unknown[]).map(flatten).join(String(join[0]));
    const getAtt = fn['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${flatten(getAtt[0])}.${flatten(getAtt[1])}>`;
    if ('Ref' in fn) return `<${flatten(fn.Ref)}>`;
  }
  return JSON.stringify(node);
}

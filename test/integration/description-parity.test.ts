import type { CfnResource } from 'aws-cdk-lib';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { FunctionName, QueueName, TableName } from '../../lib/description';
import { SKIP_BUNDLING, synthesize } from '../infra/synth';

/**
 * The CDK stack and the local runtime both read lib/description.ts. This proves they agree: every
 * route, authorizer and event source in the synthesized template is served by the running local
 * runtime with the same function, and nothing is served locally that the template lacks.
 */
type Resource = { Type: string; Properties: Record<string, any> };

let deployed: { webSocketRoutes: string[]; httpRoutes: string[]; eventSources: string[] };

beforeAll(() => {
  const { template, stack } = synthesize(SKIP_BUNDLING);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const logicalId = (resource: unknown) => stack.getLogicalId(resource as CfnResource);
  const described = stack.described;

  const functionByLogicalId = new Map<string, FunctionName>();
  for (const [name, fn] of Object.entries(described.functions)) functionByLogicalId.set(logicalId(fn.function.node.defaultChild), name as FunctionName);
  const sourceByLogicalId = new Map<string, string>();
  for (const [name, table] of Object.entries(described.tables)) sourceByLogicalId.set(logicalId(table.node.defaultChild), `stream:${name as TableName}`);
  for (const [name, queue] of Object.entries(described.queues)) sourceByLogicalId.set(logicalId(queue.node.defaultChild), `queue:${name as QueueName}`);
  for (const [name, queue] of Object.entries(described.deadLetterQueues)) sourceByLogicalId.set(logicalId(queue.node.defaultChild), `queue:${name as QueueName}:deadLetter`);

  /** The function an integration or authorizer URI invokes: `arn:…:functions/${Fn.Arn}/invocations`. */
  const functionIn = (uri: unknown): FunctionName | undefined => {
    const text = JSON.stringify(uri);
    return [...functionByLogicalId].find(([id]) => text.includes(`"${id}"`))?.[1];
  };
  const apiProtocol = (apiRef: { Ref: string }) => resources[apiRef.Ref]?.Properties.ProtocolType;

  deployed = { webSocketRoutes: [], httpRoutes: [], eventSources: [] };
  for (const resource of Object.values(resources)) {
    const properties = resource.Properties;
    if (resource.Type === 'AWS::ApiGatewayV2::Route') {
      const integrationId = String(properties.Target?.['Fn::Join']?.[1]?.[1]?.Ref ?? '');
      const target = functionIn(resources[integrationId]?.Properties.IntegrationUri);
      const list = apiProtocol(properties.ApiId) === 'WEBSOCKET' ? deployed.webSocketRoutes : deployed.httpRoutes;
      list.push(`${properties.RouteKey} -> ${target}`);
    } else if (resource.Type === 'AWS::ApiGatewayV2::Authorizer' && apiProtocol(properties.ApiId) === 'WEBSOCKET') {
      deployed.webSocketRoutes.push(`$connect authorizer -> ${functionIn(properties.AuthorizerUri)}`);
    } else if (resource.Type === 'AWS::Lambda::EventSourceMapping') {
      const sourceId = String(properties.EventSourceArn?.['Fn::GetAtt']?.[0] ?? '');
      deployed.eventSources.push(`${sourceByLogicalId.get(sourceId)} -> ${functionByLogicalId.get(properties.FunctionName?.Ref)}`);
    }
  }
}, 120_000);

describe('the CDK template and the local runtime', () => {
  it('serve the same WebSocket routes and authorizer, with the same functions', () => {
    expect(deployed.webSocketRoutes.length).toBeGreaterThan(0);
    expect([...inject('localServed').webSocketRoutes].sort()).toEqual([...deployed.webSocketRoutes].sort());
  });

  it('serve the same HTTP routes, with the same functions', () => {
    expect(deployed.httpRoutes.length).toBeGreaterThan(0);
    expect([...inject('localServed').httpRoutes].sort()).toEqual([...deployed.httpRoutes].sort());
  });

  it('feed the same event sources to the same functions', () => {
    expect(deployed.eventSources).toContain('queue:exports -> exportWorker');
    expect(deployed.eventSources).toContain('queue:exports:deadLetter -> exportFailed');
    expect([...inject('localServed').eventSources].sort()).toEqual([...deployed.eventSources].sort());
  });

  it('create the same buckets', async () => {
    const { S3Client, HeadBucketCommand } = await import('@aws-sdk/client-s3');
    const { localBucketName } = await import('../../lib/local/resources');
    const { LOCAL_CREDENTIALS, LOCAL_REGION } = await import('../../lib/local/aws-local');
    const { buckets } = await import('../../lib/description');
    const { stack } = synthesize(SKIP_BUNDLING);
    expect(Object.keys(stack.described.buckets).sort()).toEqual(Object.keys(buckets).sort());
    const s3 = new S3Client({ endpoint: inject('localUrls').s3Url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
    try {
      for (const name of Object.keys(buckets) as Array<keyof typeof buckets>) {
        await expect(s3.send(new HeadBucketCommand({ Bucket: localBucketName(name) }))).resolves.toBeDefined();
      }
    } finally {
      s3.destroy();
    }
  });
});

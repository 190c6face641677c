import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, StreamViewType, Table, TableEncryption, type Attribute } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import type { KeySpec, TableSpec } from '../description';

/**
 * A table exactly as lib/description/ describes it. On-demand, point-in-time recovery, RETAIN
 * and deletion protection are not options: every Herald table holds user data that a redeploy,
 * a stack deletion or a stray DeleteTable must never lose. Removing one is a deliberate act
 * (docs/deploy.md, "Removing what the stack retains").
 */
export function createTable(scope: Construct, id: string, spec: TableSpec): Table {
  const table = new Table(scope, id, {
    partitionKey: attribute(spec.partitionKey),
    sortKey: spec.sortKey && attribute(spec.sortKey),
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    timeToLiveAttribute: spec.ttlAttribute,
    stream: spec.stream && StreamViewType[spec.stream],
    encryption: TableEncryption.AWS_MANAGED,
    removalPolicy: RemovalPolicy.RETAIN,
    deletionProtection: true,
  });
  for (const index of spec.indexes ?? []) {
    table.addGlobalSecondaryIndex({
      indexName: index.name,
      partitionKey: attribute(index.partitionKey),
      sortKey: index.sortKey && attribute(index.sortKey),
      projectionType: ProjectionType.ALL,
    });
  }
  for (const index of spec.localIndexes ?? []) {
    table.addLocalSecondaryIndex({
      indexName: index.name,
      sortKey: attribute(index.sortKey),
      ...(index.include ? { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: [...index.include] } : { projectionType: ProjectionType.KEYS_ONLY }),
    });
  }
  return table;
}

function attribute(key: KeySpec): Attribute {
  return { name: key.name, type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER };
}

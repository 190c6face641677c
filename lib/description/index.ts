/**
 * The one description of Herald's tables, queues and functions, split per feature.
 *
 * Both the CDK constructs (lib/infra/) and the local runtime (lib/local/) read it, so a route,
 * stream or queue that exists in one exists in the other; test/integration/description-parity.test.ts
 * proves it against the synthesized template. It is data: it imports the functions' own names
 * (environment variables, timeouts), never the other way round.
 */
import { alertsFunctions } from './alerts';
import type { FunctionSpec } from './access';
import { exportsFunctions } from './exports';
import { notificationsFunctions } from './notifications';
import { realtimeFunctions } from './realtime';
import { recordsFunctions } from './records';
import type { BucketName, QueueName, QueueSpec, TableName } from './resources';
import { buckets, queues, tables } from './resources';
import { connectionsEndpointEnvVar, settingEnvVars, type SettingName } from './settings';
import { topicsFunctions } from './topics';

export * from './access';
export * from './resources';
export * from './settings';

export const functions = {
  ...realtimeFunctions,
  ...notificationsFunctions,
  ...topicsFunctions,
  ...alertsFunctions,
  ...exportsFunctions,
  ...recordsFunctions,
} as const satisfies Record<string, FunctionSpec>;

export type FunctionName = keyof typeof functions;

/** WebSocket route selection: API Gateway evaluates this against each frame's JSON body. */
export const routeSelectionExpression = '$request.body.action';

export function functionSpecs(): Array<[FunctionName, FunctionSpec]> {
  return Object.entries(functions) as Array<[FunctionName, FunctionSpec]>;
}

/** The environment a function receives, given the physical names and settings of this deployment. */
export function functionEnvironment(
  spec: FunctionSpec,
  physical: {
    tableNames: Record<TableName, string>;
    queueUrls: Record<QueueName, string>;
    bucketNames: Record<BucketName, string>;
    connectionsEndpoint: string;
    settings: Record<SettingName, string>;
  },
): Record<string, string> {
  const env: Record<string, string> = { ...spec.environment };
  for (const table of Object.keys(spec.tables ?? {}) as TableName[]) {
    env[tables[table].envVar] = physical.tableNames[table];
  }
  for (const queue of Object.keys(spec.queues ?? {}) as QueueName[]) {
    const queueSpec: QueueSpec = queues[queue];
    env[queueSpec.envVar] = physical.queueUrls[queue];
  }
  for (const bucket of Object.keys(spec.buckets ?? {}) as BucketName[]) {
    env[buckets[bucket].envVar] = physical.bucketNames[bucket];
  }
  if (spec.manageConnections) env[connectionsEndpointEnvVar] = physical.connectionsEndpoint;
  for (const setting of spec.settings ?? []) env[settingEnvVars[setting]] = physical.settings[setting];
  return env;
}

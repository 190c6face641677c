import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** The CloudFormation template as `cdk synth` writes it. */
export interface Template {
  readonly Resources: Record<string, { Type: string; Properties?: Record<string, any> }>;
}

/**
 * The stack `cdk deploy` would deploy, as the local IAM enforcement reads it: the template, and
 * the logical ids of the constructs the description names (tables by table name, and so on), so
 * the template's references can be mapped to the local resources without the constructs.
 */
export interface SynthesizedStack {
  readonly template: Template;
  readonly logicalIds: {
    readonly tables: Record<string, string>;
    readonly queues: Record<string, string>;
    readonly deadLetterQueues: Record<string, string>;
    readonly failureQueues: Record<string, string>;
    readonly buckets: Record<string, string>;
    readonly functions: Record<string, string>;
    readonly webSocketApi: string;
    readonly httpApi: string;
    readonly exportSchedulerRole: string;
  };
  /** The Scheduler group the stack names for export schedules. */
  readonly exportScheduleGroup: string;
}

/**
 * Synthesizes the stack in this process with the local settings. Asset bundling is skipped
 * (`aws:cdk:bundling-stacks: []`) and cdk-nag is not attached: neither changes a role or policy,
 * and both would add seconds to every start.
 */
export async function synthesizeLocalStack(context: Record<string, unknown>): Promise<SynthesizedStack> {
  // Imported here, so a start that finds the stack in its cache never loads the CDK.
  const { buildHeraldApp } = await import('#lib/infra/herald-stack');
  const { app, stack } = buildHeraldApp({ ...context, 'aws:cdk:bundling-stacks': [] }, { nagChecks: false });
  const template = app.synth().getStackByName(stack.stackName).template as Template;
  const { described, realtimeApi, httpApi, exports } = stack;
  const idOf = (construct: IConstruct) => (stack as Stack).getLogicalId(construct.node.defaultChild as CfnElement);
  const idsOf = (record: Readonly<Record<string, IConstruct>>) =>
    Object.fromEntries(Object.entries(record).map(([name, construct]) => [name, idOf(construct)]));
  return {
    template,
    logicalIds: {
      tables: idsOf(described.tables),
      queues: idsOf(described.queues),
      deadLetterQueues: idsOf(described.deadLetterQueues),
      failureQueues: idsOf(described.failureQueues),
      buckets: idsOf(described.buckets),
      functions: Object.fromEntries(Object.entries(described.functions).map(([name, fn]) => [name, idOf(fn.function)])),
      webSocketApi: idOf(realtimeApi.webSocketApi),
      httpApi: idOf(httpApi.httpApi),
      exportSchedulerRole: idOf(exports.schedulerRole),
    },
    exportScheduleGroup: exports.scheduleGroupName,
  };
}

/**
 * `synthesizeLocalStack`, kept in `cacheDir` under a hash of everything the template depends on:
 * the CDK code and description (lib/, but not the local runtime), the functions' modules they read
 * (functions/shared/, the worker timeout), cdk.json, the locked package versions and `context`. A
 * start whose inputs are unchanged reads the file instead of loading the CDK and synthesizing
 * (docs/local-iam.md, "What it costs").
 */
export async function synthesizeLocalStackCached(repoRoot: string, cacheDir: string, context: Record<string, unknown>): Promise<SynthesizedStack> {
  const hash = createHash('sha256').update(JSON.stringify(context));
  // lib/ outside the local runtime, and the functions' modules the description and config read
  // (environment names, the worker timeout, the email check, the realtime caps' defaults).
  const sources = (folder: string, keep: (file: string) => boolean) =>
    readdirSync(join(repoRoot, folder), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && keep(file))
      .sort()
      .map((file) => join(folder, file));
  const inputs = [
    ...sources('lib', (file) => !file.startsWith('local')),
    ...sources('functions', (file) => file.startsWith('shared/') || ['exports/limits.ts', 'realtime/limits.ts'].includes(file)),
  ];
  for (const file of [...inputs, 'cdk.json', 'package-lock.json']) {
    hash.update(file).update(readFileSync(join(repoRoot, file)));
  }
  const cacheFile = join(cacheDir, `stack-${hash.digest('hex').slice(0, 32)}.json`);
  try {
    return JSON.parse(readFileSync(cacheFile, 'utf8')) as SynthesizedStack;
  } catch {
    const synthesized = await synthesizeLocalStack(context);
    mkdirSync(cacheDir, { recursive: true });
    // Written aside and renamed, so a start running beside this one never reads half a file.
    const partial = `${cacheFile}.${process.pid}.partial`;
    writeFileSync(partial, JSON.stringify(synthesized));
    renameSync(partial, cacheFile);
    return synthesized;
  }
}

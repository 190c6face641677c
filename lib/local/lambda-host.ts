import { randomUUID } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { functionDefaults, functionSpecs, type FunctionName, type FunctionSpec } from '../description';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './aws-local';
import type { IamEnforcement } from './iam/enforcement';

export interface LocalFunction {
  readonly name: FunctionName;
  /** The name Lambda would know it by, as in logs and on-failure records. */
  readonly physicalName: string;
  readonly spec: FunctionSpec;
  invoke(event: unknown): Promise<unknown>;
}

export type LocalFunctions = ReadonlyMap<FunctionName, LocalFunction>;

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/**
 * Published with `{ functionName, phase: 'start' | 'end' }` as a handler is called and once its
 * result is back (or it threw), for benchmarks that time a request's stages (bench/publish-spans.ts).
 */
export const invocationChannel = channel('herald.local.lambda.invocation');

/** The name Lambda knows a local function by, as in logs, ARNs and on-failure records. */
export function localFunctionName(name: FunctionName): string {
  return `herald-${name}`;
}

/**
 * Loads every function of the description in this process, the way Lambda cold-starts one: each
 * entry module is imported with exactly its own environment (tables, settings), so a function that
 * reads a variable its description does not grant fails here as it would in AWS. The variables are
 * removed again once the module has read them at import.
 *
 * With `iam`, each import and invocation runs as the function's role from the synthesized
 * template, so every AWS call it makes is authorized as AWS would (lib/local/iam/).
 */
export async function loadFunctions(
  repoRoot: string,
  environmentOf: (spec: FunctionSpec) => Record<string, string>,
  iam?: IamEnforcement,
): Promise<LocalFunctions> {
  const loaded = new Map<FunctionName, LocalFunction>();
  for (const [name, spec] of functionSpecs()) {
    const env = environmentOf(spec);
    const asRole = <T>(work: (onTimeout: (ms: number) => void) => T): T =>
      iam ? iam.runAs(name, iam.functionRole(name), (caller) => work((ms) => (caller.timedOutAfterMs = ms))) : work(() => undefined);
    const handler = await asRole(() => importWithEnv(resolve(repoRoot, spec.entry), env));
    const physicalName = localFunctionName(name);
    loaded.set(name, { name, physicalName, spec, invoke: (event) => asRole((onTimeout) => invoke(physicalName, spec, handler, event, onTimeout)) });
  }
  return loaded;
}

async function importWithEnv(file: string, env: Record<string, string>): Promise<Handler> {
  const previous = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    const module = (await import(pathToFileURL(file).href)) as { handler?: Handler };
    if (typeof module.handler !== 'function') throw new Error(`${file} does not export a handler`);
    return module.handler;
  } finally {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/**
 * `onTimeout` hears of an invocation that ran out of time. Lambda stops such an environment; here
 * the handler's promise cannot be stopped, so the IAM layer refuses every AWS call it still makes.
 */
async function invoke(functionName: string, spec: FunctionSpec, handler: Handler, event: unknown, onTimeout: (ms: number) => void): Promise<unknown> {
  const timeoutMs = (spec.timeoutSeconds ?? functionDefaults.timeoutSeconds) * 1000;
  const deadline = Date.now() + timeoutMs;
  const context: Context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: String(spec.memoryMb ?? functionDefaults.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout(timeoutMs);
      reject(new Error(`Task timed out after ${timeoutMs / 1000} seconds`));
    }, timeoutMs);
  });
  try {
    // Lambda hands each invocation its own serialised copy of the event and serialises the result:
    // nothing a handler mutates leaks into another invocation, and an unserialisable result fails here too.
    const copy = JSON.parse(JSON.stringify(event)) as unknown;
    if (invocationChannel.hasSubscribers) invocationChannel.publish({ functionName, phase: 'start' });
    const result = await Promise.race([handler(copy, context), timeout]);
    return result === undefined ? undefined : (JSON.parse(JSON.stringify(result)) as unknown);
  } finally {
    clearTimeout(timer);
    if (invocationChannel.hasSubscribers) invocationChannel.publish({ functionName, phase: 'end' });
  }
}

/**
 * Local IAM enforcement: every AWS SDK call a function makes locally is authorized against that
 * function's role, taken from the synthesized template, before it is sent, as AWS would authorize
 * it. A call AWS would deny fails with AccessDeniedException and is logged with the function,
 * action and resource. See docs/local-iam.md.
 *
 * Every function runs in this one process and shares SDK clients (a document client per execution
 * environment is one per process here), so the caller is not the client but the invocation: the
 * Lambda host runs each import and invocation inside `runAs`, and an AsyncLocalStorage carries the
 * role to the middleware. Calls made outside any role (the runtime creating tables, tests) are the
 * operator's and are not checked.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { BuildMiddleware, MiddlewareStack } from '@smithy/types';
import { authorizationRequests, UnmappedOperationError, type RequestContext } from './sdk-requests';
import { evaluate, mayAssume, type AuthorizationRequest, type Decision, type PolicyDocument } from './simulator';
import type { RoleIam, TemplateIam } from './template-iam';

/** Who is calling: a function (or a service acting as a role), and the state of its invocation. */
export interface Caller {
  /** A function's name, or what assumes the role (e.g. `scheduler`). */
  readonly label: string;
  readonly role: RoleIam;
  readonly enforcement: IamEnforcement;
  /** Set when the invocation ran out of time: Lambda has frozen its environment, so it calls nothing more. */
  timedOutAfterMs?: number;
}

export interface RecordedCall {
  readonly label: string;
  readonly request: AuthorizationRequest;
  readonly allowed: boolean;
}

export class AccessDeniedException extends Error {
  override name = 'AccessDeniedException';
  readonly $fault = 'client';
  readonly $metadata = { httpStatusCode: 400 };
}

export interface IamEnforcementOptions {
  readonly iam: TemplateIam;
  readonly region: string;
  readonly account: string;
  /** `host:port` of each local @connections endpoint, to its API id. */
  readonly apiIdsByHost: Readonly<Record<string, string>>;
  readonly log: (message: string) => void;
  /** Where to keep writing every call made (IamUsage), for the least-privilege test that reads it. */
  readonly usageFile?: string;
}

/** What `usageFile` holds: each role's policies and every distinct call made as it. */
export interface IamUsage {
  readonly roles: Record<string, { readonly roleArn: string; readonly policies: RoleIam['policies'] }>;
  readonly calls: readonly RecordedCall[];
}

const callers = new AsyncLocalStorage<Caller>();

export class IamEnforcement {
  /** Every distinct request each caller made, allowed or not, for the least-privilege check. */
  readonly calls = new Map<string, RecordedCall>();
  private readonly iterators = new Map<string, string>();
  private readonly requestContext: RequestContext;
  private readonly roles = new Map<string, RoleIam>();
  /**
   * Decisions already made, per role policy set. Policies and resource policies are fixed for the
   * runtime's life and a decision depends only on them and the request, so a repeated request gets
   * the first answer without evaluating again. Keyed by the policies array itself, so
   * `withoutAction` (which swaps it) starts from fresh decisions.
   */
  private readonly decisions = new WeakMap<RoleIam['policies'], Map<string, Decision>>();
  private usageWrite: NodeJS.Timeout | undefined;

  constructor(private readonly options: IamEnforcementOptions) {
    installMiddleware();
    this.requestContext = {
      apiIdOfHost: (host) => options.apiIdsByHost[host],
      streamOfIterator: (iterator) => this.iterators.get(iterator),
      sesIdentityOf: (address) => {
        const domain = address.split('@')[1] ?? '';
        // SES sends as the address's own identity when it is verified, else as its domain's.
        return (
          options.iam.sesIdentities.find((identity) => identity === address) ?? options.iam.sesIdentities.find((identity) => identity === domain) ?? address
        );
      },
    };
  }

  /** Runs `work` (and everything it starts) as `role`; the Lambda host wraps each import and invocation in it. */
  runAs<T>(label: string, role: RoleIam, work: (caller: Caller) => T): T {
    const caller: Caller = { label, role, enforcement: this };
    this.roles.set(label, role);
    return callers.run(caller, () => work(caller));
  }

  /**
   * `client` whose calls run as `role` (all of them, or only `operations`, by command name; the
   * others run as no role): for what a service does as a role, such as Lambda's event-source
   * mappings polling as the function's role, or Scheduler sending as the schedule's. With
   * `assumedBy`, the service must first be allowed to assume the role by its trust policy, with
   * the condition keys it sets; when it is not, every call fails as AWS's AssumeRole would.
   */
  clientActingAs<C extends object>(
    client: C,
    label: string,
    role: RoleIam,
    options: {
      readonly operations?: readonly string[];
      readonly assumedBy?: { readonly service: string; readonly context: Readonly<Record<string, string>> };
    } = {},
  ): C {
    const { operations, assumedBy } = options;
    let assumed: Promise<void> | undefined;
    const assume = () =>
      (assumed ??= assumedBy
        ? mayAssume(assumedBy.service, role, this.options.account, assumedBy.context).then((decision) => {
            if (decision.allowed) return;
            const message = `${assumedBy.service} may not assume ${role.roleArn} with ${JSON.stringify(assumedBy.context)} (${decision.result})`;
            this.options.log(`[iam] AccessDenied: ${message}`);
            throw new AccessDeniedException(message);
          })
        : Promise.resolve());
    return new Proxy(client, {
      get: (target, property, receiver) => {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        const send = (target as { send: (...args: unknown[]) => unknown }).send.bind(target);
        return (command: object, ...rest: unknown[]) =>
          !operations || operations.includes(command.constructor.name)
            ? assume().then(() => this.runAs(label, role, () => send(command, ...rest)))
            : callers.exit(() => send(command, ...rest));
      },
    });
  }

  /** The role a function runs as. */
  functionRole(name: string): RoleIam {
    const role = this.options.iam.functionRoles.get(name as never);
    if (!role) throw new Error(`No role for function ${name} in the synthesized template`);
    return role;
  }

  /** Authorizes one SDK call of `caller`; throws AccessDeniedException when AWS would deny it. */
  async authorize(caller: Caller, clientName: string, commandName: string, input: Record<string, any>, host: string, path: string): Promise<void> {
    if (caller.timedOutAfterMs !== undefined) {
      throw new Error(`${caller.label}: ${commandName} after the invocation timed out (${caller.timedOutAfterMs / 1000} s): Lambda would have stopped it`);
    }
    const { region, account } = this.options;
    let requests: AuthorizationRequest[];
    try {
      requests = authorizationRequests({ clientName, commandName, input, target: { region, account, host, path } }, this.requestContext);
    } catch (error) {
      if (error instanceof UnmappedOperationError) this.options.log(`[iam] ${caller.label}: ${error.message}`);
      throw error;
    }
    for (const request of requests) {
      const decision = await this.decide(caller.role, request);
      this.record({ label: caller.label, request, allowed: decision.allowed });
      if (!decision.allowed) {
        const message = `${caller.label} (role ${caller.role.roleArn}) is not authorized to perform ${request.action} on ${request.resource} (${decision.result})`;
        this.options.log(`[iam] AccessDenied: ${message}`);
        throw new AccessDeniedException(`User: ${caller.role.roleArn} is not authorized to perform: ${request.action} on resource: ${request.resource}`);
      }
    }
  }

  /** DynamoDB names a stream only when it issues an iterator; GetRecords then names just the iterator. */
  noteIterators(input: Record<string, any>, output: Record<string, any> | undefined): void {
    const stream = input.StreamArn ?? (input.ShardIterator ? this.iterators.get(input.ShardIterator) : undefined);
    if (input.ShardIterator) this.iterators.delete(input.ShardIterator);
    const next = output?.ShardIterator ?? output?.NextShardIterator;
    if (stream && next) this.iterators.set(next, stream);
  }

  /**
   * Drops `action` from every statement of `label`'s role, as if the template never granted it.
   * Only for the test that shows a missing grant fails; returns the undo.
   */
  withoutAction(label: string, action: string): () => void {
    const role = this.functionRole(label);
    const original = role.policies;
    const strip = (value: unknown) => [value].flat().filter((name) => name !== action);
    (role as { policies: RoleIam['policies'] }).policies = original.map(({ name, policy }) => ({
      name,
      policy: {
        ...policy,
        Statement: [policy.Statement]
          .flat()
          .map((statement: any) => ({ ...statement, Action: strip(statement.Action) }))
          .filter((statement) => statement.Action.length > 0),
      },
    }));
    return () => {
      (role as { policies: RoleIam['policies'] }).policies = original;
    };
  }

  /** Writes the usage file now rather than after the next batch of calls. */
  flushUsage(): void {
    clearTimeout(this.usageWrite);
    this.usageWrite = undefined;
    if (!this.options.usageFile) return;
    const usage: IamUsage = {
      roles: Object.fromEntries([...this.roles].map(([label, role]) => [label, { roleArn: role.roleArn, policies: role.policies }])),
      calls: [...this.calls.values()],
    };
    writeFileSync(this.options.usageFile, JSON.stringify(usage));
  }

  private record(call: RecordedCall): void {
    const key = `${call.label} ${call.request.action} ${call.request.resource} ${call.allowed}`;
    if (this.calls.has(key)) return;
    this.calls.set(key, call);
    if (this.options.usageFile && !this.usageWrite) this.usageWrite = setTimeout(() => this.flushUsage(), 200).unref();
  }

  private async decide(role: RoleIam, request: AuthorizationRequest): Promise<Decision> {
    let known = this.decisions.get(role.policies);
    if (!known) this.decisions.set(role.policies, (known = new Map()));
    const key = JSON.stringify([role.roleArn, request.action, request.resource, request.context ?? null]);
    const cached = known.get(key);
    if (cached) return cached;
    const decision = await evaluate(role.roleArn, this.options.account, role.policies, request, this.resourcePolicyOf(request.resource));
    known.set(key, decision);
    return decision;
  }

  private resourcePolicyOf(resource: string): PolicyDocument | undefined {
    const policies = this.options.iam.resourcePolicies;
    // A bucket's policy guards its objects too.
    return policies.get(resource) ?? (resource.startsWith('arn:aws:s3:::') ? policies.get(resource.split('/')[0]!) : undefined);
  }
}

let installed = false;

/**
 * Adds the authorization middleware to every SDK command this process resolves, whichever client
 * sends it: handlers create their own clients, and presigning (S3 GetObject) resolves the same
 * stack without sending, so a presigned URL the role could not use is refused here as well. Smithy
 * has no global middleware hook, so the one place every command passes through is wrapped.
 */
function installMiddleware(): void {
  if (installed) return;
  installed = true;
  let prototype: any = Object.getPrototypeOf(GetItemCommand.prototype);
  while (prototype && !Object.prototype.hasOwnProperty.call(prototype, 'resolveMiddlewareWithContext')) prototype = Object.getPrototypeOf(prototype);
  if (!prototype)
    throw new Error('local IAM: the SDK Command class has no resolveMiddlewareWithContext; the SDK changed and lib/local/iam/enforcement.ts needs updating');
  const original = prototype.resolveMiddlewareWithContext as (...args: any[]) => unknown;
  prototype.resolveMiddlewareWithContext = function (this: { middlewareStack: MiddlewareStack<any, any> }, ...args: any[]) {
    const [, , , { clientName, commandName }] = args as [unknown, unknown, unknown, { clientName: string; commandName: string }];
    this.middlewareStack.add(authorizationMiddleware(clientName, commandName), { step: 'build', name: 'heraldLocalIam', override: true });
    return original.apply(this, args);
  };
}

function authorizationMiddleware(clientName: string, commandName: string): BuildMiddleware<any, any> {
  return (next) => async (args) => {
    const caller = callers.getStore();
    if (!caller) return next(args);
    const request = args.request as { hostname?: string; port?: number; path?: string };
    const host = `${request.hostname ?? ''}${request.port ? `:${request.port}` : ''}`;
    await caller.enforcement.authorize(caller, clientName, commandName, args.input as Record<string, any>, host, request.path ?? '/');
    const result = await next(args);
    if (clientName === 'DynamoDBStreamsClient') caller.enforcement.noteIterators(args.input as Record<string, any>, result.output as Record<string, any>);
    return result;
  };
}

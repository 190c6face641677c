/**
 * `npm run smoke` arguments: which Herald to walk (a local runtime started here, a running
 * `npm start`, or a deployed stack by its `cdk deploy --outputs-file`), and the deployer's tokens.
 * Everything a user can get wrong ends in a UsageError whose message says what to do.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export const SES_SIMULATOR_SUCCESS = 'success@simulator.amazonses.com';
export const DEFAULT_TIMEOUT_SECONDS = 180;

export const TOKEN_VARIABLES = {
  admin: 'HERALD_SMOKE_ADMIN_TOKEN',
  publisher: 'HERALD_SMOKE_PUBLISHER_TOKEN',
  member: 'HERALD_SMOKE_MEMBER_TOKEN',
} as const;
export const EMAIL_VARIABLE = 'HERALD_SMOKE_EMAIL';

export const USAGE = `Usage: npm run smoke [-- options]

Walks Herald through its public contract: a notification over the WebSocket (ticket, socket,
resume, POST /notifications, ack), a critical alert to a topic member's socket and email, and a
scheduled export run now, its email, download link and file. One line per check; the exit code is
0 when every check passed, 1 when one failed or the time limit ran out, 2 for a usage error.

Where:
  (no option)            start the local runtime in this process (in memory), walk it, stop it
  --local                walk the \`npm start\` already running, found through .herald/local.json
  --outputs <file>       walk a deployed stack: <file> is what \`npx cdk deploy --outputs-file <file>\`
                         wrote (HttpApiUrl, WebSocketUrl)
  --stack <name>         the stack in <file>, when it holds more than one Herald stack

Options:
  --timeout <seconds>    overall limit; the run stops itself when it is reached (default ${DEFAULT_TIMEOUT_SECONDS})
  -h, --help             this text

Locally, tokens come from the runtime's POST /dev/token for a tenant, topic and users made up for
this run, and emails are read from the SES emulator's mailbox.

Deployed, the deployer supplies three JWTs of the issuer the stack trusts (the Cognito pool's ID
tokens, or your OIDC provider's), all of ONE tenant:
  ${TOKEN_VARIABLES.admin}      a user with the "admin" role (adds the member to a topic)
  ${TOKEN_VARIABLES.publisher}  a user with the "publisher" role (may be the same token)
  ${TOKEN_VARIABLES.member}     a dedicated smoke-test user with no role needed: it receives
                                the notifications and owns the export. Its preferences are
                                replaced (email set to the address below).
  ${EMAIL_VARIABLE}             optional; the member's address for critical alerts and the export
                                (default ${SES_SIMULATOR_SUCCESS}, SES's mailbox simulator, which
                                a sandboxed SES account may send to)
The member's id is the "sub" claim of its token. Each run uses a new topic and export schedule and
removes them at the end; notifications stay in the member's inbox until their retention ends.

Deployed there is no mailbox to read, so the smoke test checks what the API shows instead (the
alert reaching the socket, the run's status and emailedAt) and prints as skipped: reading the
alert email, finding the export email, and following its download link (the link is only in the
email).
`;

export class UsageError extends Error {}

export type SmokeWhere =
  | { readonly kind: 'in-process' }
  | { readonly kind: 'running'; readonly localJson: string }
  | { readonly kind: 'deployed'; readonly outputsFile: string; readonly stack?: string };

export interface SmokeArgs {
  readonly where: SmokeWhere;
  readonly timeoutSeconds: number;
  readonly help: boolean;
}

/** Parses argv (without node and the script); `localJson` is where a running `npm start` wrote its URLs. */
export function parseSmokeArgs(argv: readonly string[], localJson: string): SmokeArgs {
  let values: { outputs?: string; stack?: string; local?: boolean; timeout?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        outputs: { type: 'string' },
        stack: { type: 'string' },
        local: { type: 'boolean' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.outputs !== undefined && values.local) throw new UsageError('--outputs and --local choose different systems: give one of them');
  if (values.stack !== undefined && values.outputs === undefined) throw new UsageError('--stack chooses a stack in an outputs file: give --outputs <file> too');
  if (values.outputs === '') throw new UsageError('--outputs needs the file `npx cdk deploy --outputs-file <file>` wrote');
  let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS;
  if (values.timeout !== undefined) {
    timeoutSeconds = Number(values.timeout);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 10 || timeoutSeconds > 3600) {
      throw new UsageError(`--timeout must be a number of seconds from 10 to 3600, got "${values.timeout}"`);
    }
  }
  const where: SmokeWhere =
    values.outputs !== undefined
      ? { kind: 'deployed', outputsFile: values.outputs, ...(values.stack !== undefined && { stack: values.stack }) }
      : values.local
        ? { kind: 'running', localJson }
        : { kind: 'in-process' };
  return { where, timeoutSeconds, help: values.help ?? false };
}

export interface StackOutputs {
  readonly stack: string;
  readonly httpUrl: string;
  readonly webSocketUrl: string;
}

type ReadText = (path: string) => string;
const readText: ReadText = (path) => readFileSync(path, 'utf8');

function readJson(path: string, what: string, read: ReadText): unknown {
  let text: string;
  try {
    text = read(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} ${path} is not JSON: ${(error as Error).message}`);
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function urlOf(value: unknown, protocols: readonly string[], name: string, where: string): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || !protocols.includes(url.protocol)) {
    throw new UsageError(`${where}: ${name} must be a ${protocols.map((protocol) => `${protocol}//`).join(' or ')} URL, got ${JSON.stringify(value)}`);
  }
  return String(value).replace(/\/+$/, '');
}

/**
 * The stack's URLs from `cdk deploy --outputs-file`: `{"Herald": {"HttpApiUrl": …, "WebSocketUrl": …}}`.
 * A file of one stack's outputs alone (no stack level) is taken too.
 */
export function readStackOutputs(path: string, stack?: string, read: ReadText = readText): StackOutputs {
  const parsed = readJson(path, 'outputs file', read);
  const hint = 'It should be the file `npx cdk deploy --outputs-file <file>` wrote, e.g. {"Herald":{"HttpApiUrl":"https://…","WebSocketUrl":"wss://…"}}.';
  if (!isRecord(parsed)) throw new UsageError(`outputs file ${path} holds ${Array.isArray(parsed) ? 'an array' : typeof parsed}, not stacks. ${hint}`);
  const stacks: Record<string, unknown> = 'HttpApiUrl' in parsed ? { [stack ?? '(top level)']: parsed } : parsed;
  const herald = Object.entries(stacks).filter(([, outputs]) => isRecord(outputs) && 'HttpApiUrl' in outputs);
  let chosen: [string, unknown] | undefined;
  if (stack !== undefined) {
    chosen = Object.entries(stacks).find(([name]) => name === stack);
    if (!chosen) throw new UsageError(`outputs file ${path} has no stack "${stack}" (it has: ${Object.keys(stacks).join(', ') || 'none'})`);
  } else if (herald.length === 1) {
    chosen = herald[0];
  } else if (herald.length === 0 && Object.keys(stacks).length === 1) {
    // One stack: it is the one meant, and the message below names what it lacks.
    chosen = Object.entries(stacks)[0];
  } else if (herald.length === 0) {
    const found = Object.entries(stacks).map(
      ([name, outputs]) => `${name} (${isRecord(outputs) ? Object.keys(outputs).join(', ') || 'no outputs' : typeof outputs})`,
    );
    throw new UsageError(`outputs file ${path} has no stack with an HttpApiUrl output${found.length ? `; found ${found.join('; ')}` : ''}. ${hint}`);
  } else {
    throw new UsageError(`outputs file ${path} holds several Herald stacks (${herald.map(([name]) => name).join(', ')}): choose one with --stack <name>`);
  }
  const [name, outputs] = chosen!;
  if (!isRecord(outputs)) throw new UsageError(`outputs file ${path}: stack "${name}" has no outputs object`);
  const where = `outputs file ${path}, stack "${name}"`;
  for (const key of ['HttpApiUrl', 'WebSocketUrl']) {
    if (!(key in outputs)) throw new UsageError(`${where} has no ${key} output (it has: ${Object.keys(outputs).join(', ') || 'none'}). ${hint}`);
  }
  return {
    stack: name,
    httpUrl: urlOf(outputs.HttpApiUrl, ['https:', 'http:'], 'HttpApiUrl', where),
    webSocketUrl: urlOf(outputs.WebSocketUrl, ['wss:', 'ws:'], 'WebSocketUrl', where),
  };
}

/** What a running `npm start` wrote to .herald/local.json, as far as the smoke test needs it. */
export interface RunningLocal {
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly mailUrl: string;
}

export function readLocalJson(path: string, read: ReadText = readText): RunningLocal {
  let parsed: unknown;
  try {
    parsed = readJson(path, 'local runtime file', read);
  } catch (error) {
    if (error instanceof UsageError && /no such file/.test(error.message)) {
      throw new UsageError(`${path} does not exist: start Herald with \`npm start\` first, or run without --local to start one in this process`);
    }
    throw error;
  }
  if (!isRecord(parsed)) throw new UsageError(`${path} is not what \`npm start\` writes (an object of URLs)`);
  return {
    httpUrl: urlOf(parsed.httpUrl, ['http:', 'https:'], 'httpUrl', path),
    wsUrl: urlOf(parsed.wsUrl, ['ws:', 'wss:'], 'wsUrl', path),
    mailUrl: urlOf(parsed.mailUrl, ['http:', 'https:'], 'mailUrl', path),
  };
}

export interface DeployedTokens {
  readonly admin: string;
  readonly publisher: string;
  readonly member: string;
  /** The member's user id: its token's `sub`, as Herald reads it. */
  readonly memberId: string;
  readonly email: string;
}

/** The claims of a JWT, unverified: the stack verifies; this only reads `sub` and `exp` to fail early. */
export function jwtClaims(token: string, name: string): Record<string, unknown> {
  const parts = token
    .trim()
    .replace(/^Bearer\s+/i, '')
    .split('.');
  let claims: unknown;
  try {
    claims = parts.length === 3 ? JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) : undefined;
  } catch {
    claims = undefined;
  }
  if (!isRecord(claims)) throw new UsageError(`${name} is not a JWT (three base64url parts, the middle one JSON claims)`);
  return claims;
}

/** Reads the deployer's tokens from the environment; `now` and the limit say how long they must last. */
export function readDeployedTokens(env: NodeJS.ProcessEnv, now: Date, timeoutSeconds: number): DeployedTokens {
  const missing = Object.values(TOKEN_VARIABLES).filter((variable) => !env[variable]?.trim());
  if (missing.length > 0) {
    throw new UsageError(`a deployed stack needs ${missing.join(', ')} in the environment (JWTs of the issuer the stack trusts; see npm run smoke -- --help)`);
  }
  const tokens = Object.fromEntries(
    Object.entries(TOKEN_VARIABLES).map(([role, variable]) => {
      const token = env[variable]!.trim().replace(/^Bearer\s+/i, '');
      const claims = jwtClaims(token, variable);
      if (typeof claims.exp === 'number' && claims.exp * 1000 < now.getTime() + timeoutSeconds * 1000) {
        const when = new Date(claims.exp * 1000).toISOString();
        throw new UsageError(
          `${variable} ${claims.exp * 1000 <= now.getTime() ? 'expired' : 'expires before the run could end'} (exp ${when}): get a fresh token`,
        );
      }
      if (typeof claims.sub !== 'string' || claims.sub === '') throw new UsageError(`${variable} has no "sub" claim, which Herald takes as the user id`);
      return [role, { token, sub: claims.sub }];
    }),
  ) as Record<keyof typeof TOKEN_VARIABLES, { token: string; sub: string }>;
  const email = env[EMAIL_VARIABLE]?.trim() || SES_SIMULATOR_SUCCESS;
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new UsageError(`${EMAIL_VARIABLE} must be one plain email address, got "${email}"`);
  return { admin: tokens.admin.token, publisher: tokens.publisher.token, member: tokens.member.token, memberId: tokens.member.sub, email };
}

import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseSmokeArgs, readDeployedTokens, readLocalJson, readStackOutputs, SES_SIMULATOR_SUCCESS, UsageError } from '#smoke/args';
import { parseCsv } from '#smoke/wire';

/** `npm run smoke` arguments and the files and variables they name: every mistake is a UsageError saying what to do. */
const LOCAL_JSON = '/repo/.herald/local.json';
const files = (contents: Record<string, string>) => (path: string) => {
  if (!(path in contents)) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
  return contents[path]!;
};
const usageError = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('parseSmokeArgs', () => {
  it('walks a local runtime started in-process by default, within 180 s', () => {
    expect(parseSmokeArgs([], LOCAL_JSON)).toEqual({ where: { kind: 'in-process' }, timeoutSeconds: 180, help: false });
  });

  it('takes --local (a running npm start), --outputs with --stack, --timeout and --help', () => {
    expect(parseSmokeArgs(['--local'], LOCAL_JSON).where).toEqual({ kind: 'running', localJson: LOCAL_JSON });
    expect(parseSmokeArgs(['--outputs', 'cdk-outputs.json', '--stack', 'HeraldProd', '--timeout', '300'], LOCAL_JSON)).toEqual({
      where: { kind: 'deployed', outputsFile: 'cdk-outputs.json', stack: 'HeraldProd' },
      timeoutSeconds: 300,
      help: false,
    });
    expect(parseSmokeArgs(['-h'], LOCAL_JSON).help).toBe(true);
  });

  it.each([
    [['--outputs', 'a.json', '--local'], '--outputs and --local'],
    [['--stack', 'Herald'], 'give --outputs <file> too'],
    [['--outputs'], "'--outputs <value>' argument missing"],
    [['--timeout', 'soon'], '--timeout must be a number of seconds from 10 to 3600, got "soon"'],
    [['--timeout', '5'], 'got "5"'],
    [['--mailbox', 'x'], "Unknown option '--mailbox'"],
    [['cdk-outputs.json'], 'Unexpected argument'],
  ])('refuses %j: %s', (argv, message) => {
    expect(usageError(() => parseSmokeArgs(argv, LOCAL_JSON))).toContain(message);
  });
});

describe('readStackOutputs (cdk deploy --outputs-file)', () => {
  const good = {
    Herald: {
      HttpApiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/',
      WebSocketUrl: 'wss://def.execute-api.eu-west-1.amazonaws.com/live',
      UserPoolId: 'eu-west-1_x',
    },
  };

  it("reads the Herald stack's URLs, without the trailing slash", () => {
    expect(readStackOutputs('o.json', undefined, files({ 'o.json': JSON.stringify(good) }))).toEqual({
      stack: 'Herald',
      httpUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com',
      webSocketUrl: 'wss://def.execute-api.eu-west-1.amazonaws.com/live',
    });
  });

  it("picks the one stack with HttpApiUrl among others, takes --stack, and a file of one stack's outputs alone", () => {
    const mixed = { Network: { VpcId: 'vpc-1' }, ...good };
    expect(readStackOutputs('o.json', undefined, files({ 'o.json': JSON.stringify(mixed) })).stack).toBe('Herald');
    const two = { HeraldA: good.Herald, HeraldB: good.Herald };
    expect(readStackOutputs('o.json', 'HeraldB', files({ 'o.json': JSON.stringify(two) })).stack).toBe('HeraldB');
    expect(readStackOutputs('o.json', undefined, files({ 'o.json': JSON.stringify(good.Herald) })).httpUrl).toBe(
      'https://abc.execute-api.eu-west-1.amazonaws.com',
    );
  });

  it.each([
    ['a missing file', {}, undefined, 'cannot read outputs file o.json: no such file'],
    ['text that is not JSON', { 'o.json': 'HttpApiUrl = https://x' }, undefined, 'outputs file o.json is not JSON'],
    ['an array', { 'o.json': '[]' }, undefined, 'holds an array, not stacks'],
    ['one stack without HttpApiUrl', { 'o.json': '{"Network":{"VpcId":"vpc-1"}}' }, undefined, 'stack "Network" has no HttpApiUrl output (it has: VpcId)'],
    [
      'no stack with HttpApiUrl',
      { 'o.json': '{"Network":{"VpcId":"vpc-1"},"Db":{}}' },
      undefined,
      'has no stack with an HttpApiUrl output; found Network (VpcId); Db (no outputs)',
    ],
    [
      'two Herald stacks',
      { 'o.json': JSON.stringify({ A: good.Herald, B: good.Herald }) },
      undefined,
      'several Herald stacks (A, B): choose one with --stack <name>',
    ],
    ['an unknown --stack', { 'o.json': JSON.stringify(good) }, 'Prod', 'has no stack "Prod" (it has: Herald)'],
    [
      'no WebSocketUrl',
      { 'o.json': '{"Herald":{"HttpApiUrl":"https://x.example"}}' },
      undefined,
      'stack "Herald" has no WebSocketUrl output (it has: HttpApiUrl)',
    ],
    [
      'an HttpApiUrl that is no URL',
      { 'o.json': '{"Herald":{"HttpApiUrl":"abc","WebSocketUrl":"wss://x"}}' },
      undefined,
      'HttpApiUrl must be a https:// or http:// URL, got "abc"',
    ],
    [
      'a WebSocketUrl over https',
      { 'o.json': '{"Herald":{"HttpApiUrl":"https://x","WebSocketUrl":"https://x/live"}}' },
      undefined,
      'WebSocketUrl must be a wss:// or ws:// URL',
    ],
  ])('refuses %s with a clear message', (_case, contents, stack, message) => {
    expect(usageError(() => readStackOutputs('o.json', stack, files(contents)))).toContain(message);
  });
});

describe('readLocalJson (a running npm start)', () => {
  it('reads the URLs npm start wrote, and says to start it when the file is missing', () => {
    const urls = { httpUrl: 'http://127.0.0.1:4100', wsUrl: 'ws://127.0.0.1:4101/live', mailUrl: 'http://127.0.0.1:4103', webUrl: 'http://127.0.0.1:4102' };
    expect(readLocalJson(LOCAL_JSON, files({ [LOCAL_JSON]: JSON.stringify(urls) }))).toEqual({
      httpUrl: urls.httpUrl,
      wsUrl: urls.wsUrl,
      mailUrl: urls.mailUrl,
    });
    expect(usageError(() => readLocalJson(LOCAL_JSON, files({})))).toContain('does not exist: start Herald with `npm start` first');
    expect(usageError(() => readLocalJson(LOCAL_JSON, files({ [LOCAL_JSON]: '{"httpUrl":"http://x"}' })))).toContain('wsUrl must be');
  });
});

describe('readDeployedTokens', () => {
  const jwt = (claims: Record<string, unknown>) => `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
  const now = new Date('2026-12-01T12:00:00Z');
  const inAnHour = now.getTime() / 1000 + 3600;
  const env = {
    HERALD_SMOKE_ADMIN_TOKEN: jwt({ sub: 'admin-1', exp: inAnHour }),
    HERALD_SMOKE_PUBLISHER_TOKEN: `Bearer ${jwt({ sub: 'pub-1', exp: inAnHour })}`,
    HERALD_SMOKE_MEMBER_TOKEN: jwt({ sub: '3f2c-member', exp: inAnHour }),
  };

  it("takes the member's id from its sub and sends mail to SES's mailbox simulator by default", () => {
    const tokens = readDeployedTokens(env, now, 180);
    expect(tokens).toMatchObject({ memberId: '3f2c-member', email: SES_SIMULATOR_SUCCESS });
    expect(tokens.publisher).not.toContain('Bearer');
    expect(readDeployedTokens({ ...env, HERALD_SMOKE_EMAIL: 'ops@example.com' }, now, 180).email).toBe('ops@example.com');
  });

  it.each([
    [{ HERALD_SMOKE_ADMIN_TOKEN: undefined, HERALD_SMOKE_MEMBER_TOKEN: ' ' }, 'needs HERALD_SMOKE_ADMIN_TOKEN, HERALD_SMOKE_MEMBER_TOKEN in the environment'],
    [{ HERALD_SMOKE_MEMBER_TOKEN: 'not-a-jwt' }, 'HERALD_SMOKE_MEMBER_TOKEN is not a JWT'],
    [
      { HERALD_SMOKE_ADMIN_TOKEN: jwt({ sub: 'a', exp: now.getTime() / 1000 - 1 }) },
      'HERALD_SMOKE_ADMIN_TOKEN expired (exp 2026-12-01T11:59:59.000Z): get a fresh token',
    ],
    [{ HERALD_SMOKE_ADMIN_TOKEN: jwt({ sub: 'a', exp: now.getTime() / 1000 + 60 }) }, 'expires before the run could end'],
    [{ HERALD_SMOKE_MEMBER_TOKEN: jwt({ exp: inAnHour }) }, 'HERALD_SMOKE_MEMBER_TOKEN has no "sub" claim'],
    [{ HERALD_SMOKE_EMAIL: 'a@b.com, c@d.com' }, 'HERALD_SMOKE_EMAIL must be one plain email address'],
  ])('refuses %j: %s', (change, message) => {
    expect(usageError(() => readDeployedTokens({ ...env, ...change }, now, 180))).toContain(message);
  });
});

describe('parseCsv', () => {
  it('reads quoted fields, doubled quotes, line breaks in quotes, CRLF and a BOM', () => {
    expect(parseCsv('\uFEFFSeq,Title,Data\r\n1,"a, b","{""k"":1}"\r\n2,"line\nbreak",\r\n')).toEqual([
      ['Seq', 'Title', 'Data'],
      ['1', 'a, b', '{"k":1}'],
      ['2', 'line\nbreak', ''],
    ]);
    expect(() => parseCsv('a,"b')).toThrow(/Quote Not Closed/);
  });
});

describe('npm run smoke (the script)', () => {
  it('exits 2 with the reason when the outputs file is bad, before touching anything', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smoke-args-'));
    writeFileSync(join(dir, 'outputs.json'), '{"Herald":{"WebSocketUrl":"wss://x/live"}}');
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--disable-warning=ExperimentalWarning', join(root, 'bin/smoke.ts'), '--outputs', join(dir, 'outputs.json')],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('stack "Herald" has no HttpApiUrl output (it has: WebSocketUrl)');
    expect(result.stderr).toContain('See `npm run smoke -- --help`.');
    expect(result.stdout).toBe('');
  }, 60_000);
});

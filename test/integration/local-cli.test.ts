import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '#lib/local/runtime';

/** `npm start`'s failure modes: each must be one line that says what to do, and exit 1. */
function runLocal(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--disable-warning=ExperimentalWarning', join(REPO_ROOT, 'bin/local.ts'), '--in-memory', ...args],
      {
        cwd: REPO_ROOT,
        env,
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: stderr.trim(), stdout });
    });
  });
}

let blocker: Server;
let busyPort: number;

beforeAll(async () => {
  blocker = createServer();
  await new Promise<void>((listening) => blocker.listen(0, '127.0.0.1', () => listening()));
  busyPort = (blocker.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((closed) => blocker.close(() => closed())));

describe('npm start', () => {
  it('names a busy port and how to move off it, in one line', async () => {
    const { code, stderr } = await runLocal(['--port-base', String(busyPort)]);
    expect(code).toBe(1);
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).toContain(`Port ${busyPort}`);
    expect(stderr).toContain('--port-base');
  });

  it('says how to install Java when it is missing, in one line, before any port is checked', async () => {
    // Node and npm's bin only: no java on this PATH. The busy port base shows the order: Java first.
    const path = [dirname(process.execPath), join(REPO_ROOT, 'node_modules/.bin')].join(':');
    const { code, stderr } = await runLocal(['--port-base', String(busyPort)], { ...process.env, PATH: path });
    expect(code).toBe(1);
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).toContain('openjdk-17-jre-headless');
  });

  it('refuses a bad --port-base', async () => {
    const { code, stderr } = await runLocal(['--port-base', 'abc']);
    expect(code).toBe(1);
    expect(stderr).toContain('--port-base');
  });
});

import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { synthesizeLocalStackCached } from '#lib/local/iam/synthesized-stack';

const context = { stackName: 'herald', emailSender: 'cache@herald.local', alarmEmail: 'alarms@herald.local' };

/** A stand-in repository root: the files the cache key reads, and nothing else. */
function fakeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'herald-cache-root-'));
  mkdirSync(join(root, 'lib', 'local'), { recursive: true });
  mkdirSync(join(root, 'functions', 'shared'), { recursive: true });
  writeFileSync(join(root, 'functions', 'shared', 'environment.ts'), 'export const names = 1;');
  writeFileSync(join(root, 'lib', 'stack.ts'), 'export const version = 1;');
  writeFileSync(join(root, 'lib', 'local', 'runtime.ts'), 'export const runtime = 1;');
  writeFileSync(join(root, 'cdk.json'), '{}');
  writeFileSync(join(root, 'package-lock.json'), '{}');
  return root;
}

/** Marks every cached file, so a later read can tell the cache from a fresh synthesis. */
function markCache(cacheDir: string): void {
  for (const file of readdirSync(cacheDir).filter((name) => name.endsWith('.json'))) {
    const path = join(cacheDir, file);
    writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), exportScheduleGroup: 'from-cache' }));
  }
}

describe('the local stack cache', () => {
  it('synthesizes once, then reads the cache until the CDK code, the functions modules it reads, cdk.json, the lock file or the context change; local runtime files do not count', async () => {
    const root = fakeRoot();
    const cacheDir = mkdtempSync(join(tmpdir(), 'herald-cache-'));
    const first = await synthesizeLocalStackCached(root, cacheDir, context);
    expect(first.exportScheduleGroup).toBe('herald-exports');
    expect(Object.keys(first.logicalIds.tables)).toContain('notifications');
    markCache(cacheDir);
    expect((await synthesizeLocalStackCached(root, cacheDir, context)).exportScheduleGroup).toBe('from-cache');

    writeFileSync(join(root, 'lib', 'local', 'runtime.ts'), 'export const runtime = 2;');
    expect((await synthesizeLocalStackCached(root, cacheDir, context)).exportScheduleGroup).toBe('from-cache');

    writeFileSync(join(root, 'lib', 'stack.ts'), 'export const version = 2;');
    expect((await synthesizeLocalStackCached(root, cacheDir, context)).exportScheduleGroup).toBe('herald-exports');
    markCache(cacheDir);
    writeFileSync(join(root, 'functions', 'shared', 'environment.ts'), 'export const names = 2;');
    expect((await synthesizeLocalStackCached(root, cacheDir, context)).exportScheduleGroup).toBe('herald-exports');
    expect((await synthesizeLocalStackCached(root, cacheDir, { ...context, stackName: 'other' })).exportScheduleGroup).toBe('other-exports');
  }, 120_000);
});

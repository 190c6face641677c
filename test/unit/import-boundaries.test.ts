import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function entriesUnder(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(root, folder, file));
}

/** Every module a file reaches through static and dynamic imports (relative ones followed, packages named). */
function reach(start: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [start];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    for (const [, specifier] of source.matchAll(/(?:from|import\()\s*'([^']+)'/g)) {
      if (!specifier!.startsWith('.')) {
        packages.add(specifier!.startsWith('@') ? specifier!.split('/').slice(0, 2).join('/') : specifier!.split('/')[0]!);
        continue;
      }
      const target = resolve(dirname(file), specifier!);
      const candidate = [target, `${target}.ts`, join(target, 'index.ts')].find((path) => existsSync(path) && path.endsWith('.ts'));
      if (candidate) pending.push(candidate);
    }
  }
  return { files, packages };
}

describe('what a Lambda bundle can contain', () => {
  const entries = entriesUnder('functions').filter((file) => file.includes('/handlers/'));

  it('finds the handler entries', () => {
    expect(entries.length).toBeGreaterThan(30);
  });

  it.each(entries.map((file) => [relative(root, file), file]))('%s reaches neither the local runtime nor the AGPL IAM simulator', (_, entry) => {
    const { files, packages } = reach(entry);
    expect([...files].map((file) => relative(root, file)).filter((file) => file.startsWith('lib/local/') || file.startsWith('test/'))).toEqual([]);
    expect([...packages].filter((name) => name.startsWith('@cloud-copilot') || name === 'aws-cdk-lib' || name === 'cdk-nag')).toEqual([]);
  });
});

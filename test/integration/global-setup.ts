import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startLocalRuntime, type LocalRuntime, type LocalUrls } from '#lib/local/runtime';

declare module 'vitest' {
  export interface ProvidedContext {
    localUrls: LocalUrls;
    localServed: LocalRuntime['served'];
    /** Where the runtime keeps writing each function's role and calls (lib/local/iam/); absent with HERALD_IAM=off. */
    iamUsageFile: string | undefined;
    /** The runtime's download-link keys, base64, current first then previous (a rotation has happened). */
    localLinkKeys: string[];
  }
}

/** Starts the whole local runtime in memory on free ports, once for all integration files. */
export default async function setup(project: TestProject) {
  const iamUsageFile = join(mkdtempSync(join(tmpdir(), 'herald-iam-')), 'usage.json');
  // Two keys, as after a rotation: links of either are accepted (test/integration/export-limits.test.ts).
  const linkKeys = [randomBytes(32), randomBytes(32)];
  const runtime = await startLocalRuntime({
    portBase: 0,
    exportLinkKeys: linkKeys,
    iamUsageFile,
    log: (message) => (process.env.HERALD_DEBUG || message.startsWith('[iam]')) && console.error(`[herald] ${message}`),
  });
  project.provide('localUrls', runtime.urls);
  project.provide('localServed', runtime.served);
  project.provide('iamUsageFile', runtime.iam ? iamUsageFile : undefined);
  project.provide(
    'localLinkKeys',
    linkKeys.map((key) => key.toString('base64')),
  );
  return () => runtime.stop();
}

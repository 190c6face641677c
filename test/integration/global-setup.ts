import type { TestProject } from 'vitest/node';
import { startLocalRuntime, type LocalRuntime, type LocalUrls } from '../../lib/local/runtime';

declare module 'vitest' {
  export interface ProvidedContext {
    localUrls: LocalUrls;
    localServed: LocalRuntime['served'];
  }
}

/** Starts the whole local runtime in memory on free ports, once for all integration files. */
export default async function setup(project: TestProject) {
  const runtime = await startLocalRuntime({ portBase: 0, log: (message) => process.env.HERALD_DEBUG && console.error(`[herald] ${message}`) });
  project.provide('localUrls', runtime.urls);
  project.provide('localServed', runtime.served);
  return () => runtime.stop();
}

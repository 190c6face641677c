import { build } from 'esbuild';
import { bundling } from '../lib/infra/herald-function';

/**
 * Bundles `entry` to `outfile` as lib/infra/herald-function.ts bundles a deployed function (ESM,
 * minified, SDK included), so what a benchmark loads is what Lambda loads.
 */
export async function bundleLikeLambda(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: bundling.minify,
    mainFields: [...bundling.mainFields],
    banner: { js: bundling.banner },
    external: [...bundling.externalModules],
    outfile,
    logLevel: 'error',
  });
}

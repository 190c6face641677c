import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * web/client takes its types from the server's protocol definition (functions/protocol/); only
 * the types may cross, so the browser bundle carries neither zod nor any server schema. The one
 * module shared as code is the hybrid logical clock (functions/protocol/hlc.ts, no imports), so
 * client and server read and make clocks alike.
 */
describe('the browser client bundle', () => {
  it('holds the client, the clock and idb only: no zod, no protocol schemas', async () => {
    const result = await build({
      entryPoints: ['web/client/index.ts'],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      external: ['idb'],
      write: false,
      metafile: true,
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.length).toBeGreaterThan(3);
    expect(inputs.filter((input) => !input.startsWith('web/client/'))).toEqual(['functions/protocol/hlc.ts']);
    expect(result.outputFiles[0]!.text).not.toMatch(/zod|strictObject/);
  });
});

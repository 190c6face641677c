/**
 * Zod's tree-shakable build with English messages. Schemas in functions/ use it as
 * `import * as z from '../shared/validation'`: zod's classic build adds ~450 KB to every bundle
 * (and its parse time to every cold start), this about 20 KB. Re-exporting (never passing the
 * namespace around as a value) keeps esbuild able to drop what a function does not use.
 */
import { config, type core } from 'zod/mini';
// The English locale alone: the 'zod/locales' index would bundle every language.
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';

/** "recipients.3: Invalid email" style messages, so a caller sees which field is wrong. */
export function describeIssues(error: core.$ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(body)'}: ${issue.message}`)
    .join('; ');
}

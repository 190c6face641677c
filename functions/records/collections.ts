/**
 * What the deployer declares per collection (context `recordCollections`, lib/config.ts): each
 * field's merge strategy (docs/sync.md, "Declaring a collection"). A collection nobody declared
 * still syncs, with every field last-writer-wins.
 */
import * as z from '../shared/validation';
import { collectionNameSchema, fieldNameSchema } from '../protocol/records';

export const strategies = ['server-wins', 'last-writer-wins', 'merge-by-id', 'manual'] as const;
export type Strategy = (typeof strategies)[number];

/** The strategy of a field no declaration names, and of every field of an undeclared collection. */
export const DEFAULT_STRATEGY: Strategy = 'last-writer-wins';

export const collectionDeclarationSchema = z.strictObject({
  /** Strategy per field name. */
  fields: z.optional(z.record(fieldNameSchema, z.enum(strategies))),
  /** Strategy of the fields `fields` does not name. @default last-writer-wins */
  otherFields: z.optional(z.enum(strategies)),
  /** A field holding a user id: when a change sets it to someone new, that person is notified (deliver()). */
  assigneeField: z.optional(fieldNameSchema),
});
export type CollectionDeclaration = z.infer<typeof collectionDeclarationSchema>;

export const collectionDeclarationsSchema = z.record(collectionNameSchema, collectionDeclarationSchema);
export type CollectionDeclarations = z.infer<typeof collectionDeclarationsSchema>;

/** A collection's rules as the merge reads them. */
export interface CollectionRules {
  strategyOf(field: string): Strategy;
  readonly assigneeField?: string;
}

export function collectionRules(declarations: CollectionDeclarations, collection: string): CollectionRules {
  const declared = Object.hasOwn(declarations, collection) ? declarations[collection] : undefined;
  const fields = declared?.fields ?? {};
  const other = declared?.otherFields ?? DEFAULT_STRATEGY;
  return {
    strategyOf: (field) => (Object.hasOwn(fields, field) ? (fields[field] as Strategy) : other),
    ...(declared?.assigneeField !== undefined && { assigneeField: declared.assigneeField }),
  };
}

/** The declarations from their JSON text (an environment variable, a context value); the error names what is wrong. */
export function parseCollectionDeclarations(text: string): { ok: true; value: CollectionDeclarations } | { ok: false; problem: string } {
  if (text.trim() === '') return { ok: true, value: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'is not JSON' };
  }
  const result = collectionDeclarationsSchema.safeParse(value);
  if (!result.success) return { ok: false, problem: z.describeIssues(result.error) };
  for (const [collection, declaration] of Object.entries(result.data)) {
    if (declaration.assigneeField !== undefined) {
      const strategy = collectionRules(result.data, collection).strategyOf(declaration.assigneeField);
      if (strategy === 'merge-by-id')
        return { ok: false, problem: `${collection}.assigneeField: "${declaration.assigneeField}" is merge-by-id, an array, not a user id` };
    }
  }
  return { ok: true, value: result.data };
}

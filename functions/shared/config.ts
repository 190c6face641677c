/**
 * Reads a function's environment once, at cold start. A missing variable throws with its name so
 * a misconfigured deploy fails on its first invocation with a message that says what to set.
 */
export class MissingConfigError extends Error {
  override name = 'MissingConfigError';
}

export function requireEnv<const K extends string>(names: readonly K[], env: NodeJS.ProcessEnv = process.env): Record<K, string> {
  const missing = names.filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new MissingConfigError(`Missing environment variable${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  }
  return Object.fromEntries(names.map((name) => [name, env[name] as string])) as Record<K, string>;
}

export function positiveIntegerEnv(name: string, value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) {
    throw new MissingConfigError(`Environment variable ${name} must be a positive whole number, got "${value}"`);
  }
  return number;
}

/** A JSON array of strings, as lib/description/ encodes list settings. */
export function stringListEnv(name: string, value: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new MissingConfigError(`Environment variable ${name} must be a JSON array of strings, got "${value}"`);
  }
  return parsed;
}

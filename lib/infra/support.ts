import { Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * A construct's props with its defaults filled in: the defaults first, then every prop the caller
 * set, so the caller's value wins and a prop left undefined keeps its default (aws-solutions-
 * constructs merges the same way, defaults before the client's props).
 */
export function withDefaults<D extends object, P extends object>(defaults: D, props: P): D & P {
  const set = Object.fromEntries(Object.entries(props).filter(([, value]) => value !== undefined));
  return { ...defaults, ...set } as D & P;
}

/** A prop a construct cannot be built with; the message names the construct's path and the prop. */
export class InvalidPropsError extends Error {
  override name = 'InvalidPropsError';

  constructor(scope: IConstruct, prop: string, problem: string) {
    super(`${scope.node.path}: prop "${prop}" ${problem}`);
  }
}

/** Checks a whole number in [min, max]; a token (resolved only at deploy) is taken as given. */
export function requireInteger(scope: IConstruct, prop: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidPropsError(scope, prop, `must be a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`}, got ${value}.`);
  }
}

/** Checks a string against a pattern; a token is taken as given. */
export function requireMatch(scope: IConstruct, prop: string, value: string, pattern: RegExp, shape: string): void {
  if (Token.isUnresolved(value)) return;
  if (!pattern.test(value)) throw new InvalidPropsError(scope, prop, `must be ${shape}, got "${value}".`);
}

/** API Gateway throttling of a stage, as both APIs take it. */
export interface Throttle {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  /** Requests allowed in a burst. */
  readonly burstLimit: number;
}

export function requireThrottle(scope: IConstruct, throttle: Throttle): void {
  requireInteger(scope, 'throttle.rateLimit', throttle.rateLimit, 1);
  requireInteger(scope, 'throttle.burstLimit', throttle.burstLimit, 1);
}

/** Maps each value of a description record (tables, queues) keeping its key. */
export function mapRecord<K extends string, V, R>(record: Record<K, V>, fn: (value: V, key: K) => R): Record<K, R> {
  return Object.fromEntries(Object.entries<V>(record).map(([key, value]) => [key, fn(value, key as K)])) as Record<K, R>;
}

/** `alertFanout` -> `AlertFanout`: how a description name becomes a construct id. */
export function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

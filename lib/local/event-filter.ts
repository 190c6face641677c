/**
 * Lambda event filtering (FilterCriteria): the subset of EventBridge patterns that Lambda accepts.
 * A pattern is an object whose keys are ANDed; a leaf is an array of conditions that are ORed.
 * An event matches when any pattern matches; no patterns at all lets every event through.
 */

export type FilterPattern = object | string;

type Leaf = string | number | boolean | null;
type Matcher = (value: unknown) => boolean;
type Condition = (values: readonly Leaf[]) => boolean;

export class FilterPatternError extends Error {
  override name = 'FilterPatternError';
}

/** Compiles the patterns once, so an invalid one fails when the event source starts, as in AWS. */
export function compileFilter(patterns: readonly FilterPattern[] | undefined): (event: unknown) => boolean {
  if (!patterns || patterns.length === 0) return () => true;
  const matchers = patterns.map((pattern, index) => {
    const parsed: unknown = typeof pattern === 'string' ? parseJson(pattern, index) : pattern;
    if (!isPlainObject(parsed)) throw new FilterPatternError(`Filter pattern ${index} must be a JSON object`);
    return compileObject(parsed, `pattern ${index}`);
  });
  return (event) => matchers.some((match) => match(event));
}

/**
 * What Lambda filters an SQS record on: the record with its body parsed when the body is a JSON
 * object or array, so `{"body": {"kind": ["x"]}}` can reach inside; any other body stays a string.
 */
export function sqsFilterSubject<T extends { body: string }>(record: T): Omit<T, 'body'> & { body: unknown } {
  try {
    const body: unknown = JSON.parse(record.body);
    if (typeof body === 'object' && body !== null) return { ...record, body };
  } catch {
    // Not JSON: Lambda matches the raw string.
  }
  return record;
}

function parseJson(text: string, index: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new FilterPatternError(`Filter pattern ${index} is not valid JSON`);
  }
}

function compileObject(pattern: Record<string, unknown>, path: string): Matcher {
  const fields = Object.entries(pattern).map(([key, sub]): [string, Matcher] => {
    const where = `${path}.${key}`;
    if (Array.isArray(sub)) return [key, compileLeaf(sub, where)];
    if (isPlainObject(sub)) return [key, compileObject(sub, where)];
    throw new FilterPatternError(`Filter ${where} must be an array of conditions or a nested object`);
  });
  const matchObject = (value: unknown): boolean => fields.every(([key, match]) => match(isPlainObject(value) ? value[key] : undefined));
  // EventBridge flattens arrays of objects: the nested pattern matches if any element does.
  return (value) => (Array.isArray(value) ? value.some(matchObject) : matchObject(value));
}

function compileLeaf(conditions: readonly unknown[], path: string): Matcher {
  if (conditions.length === 0) throw new FilterPatternError(`Filter ${path} has an empty list of conditions`);
  const compiled = conditions.map((condition) => compileCondition(condition, path));
  return (value) => {
    const values = leafValues(value);
    return compiled.some((condition) => condition(values));
  };
}

/** Only leaves (scalars, or scalars inside arrays) can match; an object is an intermediate node. */
function leafValues(value: unknown): Leaf[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap(leafValues);
  return isLeaf(value) ? [value] : [];
}

function compileCondition(condition: unknown, path: string): Condition {
  if (isLeaf(condition)) return (values) => values.some((value) => value === condition);
  if (!isPlainObject(condition) || Object.keys(condition).length !== 1) {
    throw new FilterPatternError(`Filter ${path}: a condition is a value or an object with one operator`);
  }
  const [operator, operand] = Object.entries(condition)[0]!;
  switch (operator) {
    case 'exists':
      if (typeof operand !== 'boolean') throw new FilterPatternError(`Filter ${path}: "exists" takes true or false`);
      return (values) => values.length > 0 === operand;
    case 'prefix':
      return stringTest(operand, path, operator, (value, text) => value.startsWith(text));
    case 'suffix':
      return stringTest(operand, path, operator, (value, text) => value.endsWith(text));
    case 'equals-ignore-case':
      return stringTest(operand, path, operator, (value, text) => value.toLowerCase() === text.toLowerCase());
    case 'anything-but': {
      const excluded = compileAnythingBut(operand, path);
      // Like every EventBridge operator but "exists", anything-but needs the field to be present.
      return (values) => values.some((value) => !excluded(value));
    }
    case 'numeric':
      return compileNumeric(operand, path);
    default:
      throw new FilterPatternError(`Filter ${path}: unsupported operator "${operator}"`);
  }
}

function stringTest(operand: unknown, path: string, operator: string, test: (value: string, operand: string) => boolean): Condition {
  if (typeof operand !== 'string') throw new FilterPatternError(`Filter ${path}: "${operator}" takes a string`);
  return (values) => values.some((value) => typeof value === 'string' && test(value, operand));
}

function compileAnythingBut(operand: unknown, path: string): (value: Leaf) => boolean {
  if (isPlainObject(operand)) {
    const [[operator, text] = []] = Object.entries(operand);
    if (Object.keys(operand).length !== 1 || typeof text !== 'string' || (operator !== 'prefix' && operator !== 'suffix')) {
      throw new FilterPatternError(`Filter ${path}: "anything-but" takes values or one {"prefix"} or {"suffix"}`);
    }
    return (value) => typeof value === 'string' && (operator === 'prefix' ? value.startsWith(text) : value.endsWith(text));
  }
  const list = Array.isArray(operand) ? operand : [operand];
  if (list.length === 0 || !list.every((item) => typeof item === 'string' || typeof item === 'number')) {
    throw new FilterPatternError(`Filter ${path}: "anything-but" takes strings or numbers`);
  }
  return (value) => list.some((item) => item === value);
}

const comparisons: Record<string, (left: number, right: number) => boolean> = {
  '=': (left, right) => left === right,
  '>': (left, right) => left > right,
  '>=': (left, right) => left >= right,
  '<': (left, right) => left < right,
  '<=': (left, right) => left <= right,
};

function compileNumeric(operand: unknown, path: string): Condition {
  const invalid = new FilterPatternError(`Filter ${path}: "numeric" takes [operator, number] or a range [">", a, "<=", b]`);
  if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) throw invalid;
  const tests: Array<(value: number) => boolean> = [];
  for (let index = 0; index < operand.length; index += 2) {
    const compare = comparisons[String(operand[index])];
    const bound: unknown = operand[index + 1];
    if (!compare || typeof bound !== 'number' || !Number.isFinite(bound)) throw invalid;
    tests.push((value) => compare(value, bound));
  }
  return (values) =>
    values.some((value) => {
      // DynamoDB's N values are strings, and Lambda documents numeric filters on them.
      const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
      return Number.isFinite(number) && tests.every((test) => test(number));
    });
}

function isLeaf(value: unknown): value is Leaf {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

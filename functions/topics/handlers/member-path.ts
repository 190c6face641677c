import { BadRequestError } from '../../shared/errors';
import type { HttpEvent } from '../../shared/http';
import * as z from '../../shared/validation';
import { topicSchema } from '../../protocol/frames';

const path = z.object({ topic: topicSchema, userId: topicSchema });

/** `{topic}` and `{userId}` from the path, checked like any other input. */
export function memberPath(event: HttpEvent): { topic: string; userId: string } {
  const result = path.safeParse(event.pathParameters ?? {});
  if (!result.success) throw new BadRequestError(z.describeIssues(result.error), 'invalid_path');
  return result.data;
}

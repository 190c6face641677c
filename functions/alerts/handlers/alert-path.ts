import { BadRequestError } from '../../shared/errors';
import type { HttpEvent } from '../../shared/http';
import * as z from '../../shared/validation';
import { alertIdSchema } from '../model';

const path = z.object({ id: alertIdSchema });

/** `{id}` from the path, checked like any other input. */
export function alertIdOf(event: HttpEvent): string {
  const result = path.safeParse(event.pathParameters ?? {});
  if (!result.success) throw new BadRequestError(z.describeIssues(result.error), 'invalid_path');
  return result.data.id;
}

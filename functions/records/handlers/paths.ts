import { topicSchema } from '#functions/protocol/frames';
import { collectionNameSchema, syncIdSchema } from '#functions/protocol/records';
import * as z from '#functions/shared/validation';

/** A scope is a topic of the caller's tenant: named like one. */
export const scopePathSchema = z.object({ scope: topicSchema });
export const recordPathSchema = z.object({ scope: topicSchema, collection: collectionNameSchema, id: syncIdSchema });
export const devicePathSchema = z.object({ scope: topicSchema, deviceId: syncIdSchema });

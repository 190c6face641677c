import type { ConnectionStore } from './connections';
import type { ServerFrame } from './frames';

/** The @connections API: post a frame to one socket. 'gone' means the socket no longer exists (410). */
export interface ConnectionGateway {
  post(connectionId: string, data: string): Promise<'sent' | 'gone'>;
}

/**
 * Posts a frame and prunes the connection row when API Gateway says it is gone, so later pushes
 * stop paying for a dead socket. Deletion uses the connection id, the table's own key.
 */
export async function pushFrame(
  gateway: ConnectionGateway,
  connections: ConnectionStore,
  connectionId: string,
  frame: ServerFrame,
): Promise<'sent' | 'gone'> {
  const outcome = await gateway.post(connectionId, JSON.stringify(frame));
  if (outcome === 'gone') await connections.remove(connectionId);
  return outcome;
}

import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SatmachineKind } from '../domain/search-attributes';

/** Liveness probe: proves a worker is polling the task queue and custom search attributes work. */
export async function pingWorkflow(message: string): Promise<{ echo: string; workflowId: string }> {
  upsertSearchAttributes([{ key: SatmachineKind, value: 'ping' }]);
  return { echo: message, workflowId: workflowInfo().workflowId };
}

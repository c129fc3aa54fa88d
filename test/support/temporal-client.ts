import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { getStack } from './stack';
import { installRuntime } from '../../worker/runtime';
import { createLogger } from '../../log/logger';

// SDK logs of test processes go through pino (silent unless LOG_LEVEL is set).
installRuntime(createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'test' }));

/** A client of the run's dev server; `close()` when done. */
export async function testClient(): Promise<{ client: Client; close: () => Promise<void> }> {
  const { address, namespace } = getStack().temporal;
  const connection = await Connection.connect({ address });
  return { client: new Client({ connection, namespace }), close: () => connection.close() };
}

/** A unique task queue per test, so that test files never steal each other's tasks. */
export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/**
 * A worker on the run's dev server using the workflow bundle test/run.ts built once, so it starts fast.
 * Returns the worker and a `stop()` that shuts it down and waits for it to finish.
 */
export async function startTestWorker(opts: Omit<WorkerOptions, 'connection' | 'namespace' | 'workflowBundle' | 'workflowsPath'>): Promise<{ worker: Worker; stop: () => Promise<void> }> {
  const stack = getStack() as ReturnType<typeof getStack> & { workflowBundlePath?: string };
  const connection = await NativeConnection.connect({ address: stack.temporal.address });
  const worker = await Worker.create({
    ...opts,
    connection,
    namespace: stack.temporal.namespace,
    ...(stack.workflowBundlePath ? { workflowBundle: { codePath: stack.workflowBundlePath } } : { workflowsPath: require.resolve('../../workflows') }),
  });
  const running = worker.run();
  return {
    worker,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

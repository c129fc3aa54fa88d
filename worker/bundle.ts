/**
 * `npm run build`, second step: bundles the compiled workflows (dist/workflows) once into dist/workflow-bundle.js,
 * which the built worker loads instead of running webpack at every start.
 */
import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_PATH } from './workflow-source';

async function main(): Promise<void> {
  const started = Date.now();
  const quiet = { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: (m: string) => console.warn(m), error: (m: string, meta?: unknown) => console.error(m, meta ?? '') };
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quiet });
  writeFileSync(WORKFLOW_BUNDLE_PATH, code);
  console.log(`workflow bundle: ${WORKFLOW_BUNDLE_PATH} (${Math.round(code.length / 1024)} KiB, ${Date.now() - started} ms)`);
}

main().catch((err: unknown) => {
  console.error('bundling the workflows failed:', err);
  process.exit(1);
});

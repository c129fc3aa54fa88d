/**
 * Where the worker gets its workflow code: the bundle `npm run build` prebuilt (dist/workflow-bundle.js, next to
 * dist/worker/) when running the build, so a production start never runs webpack; from source (tsx: sandbox,
 * tests) the workflows are bundled at start as before.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export const WORKFLOW_BUNDLE_PATH = path.join(__dirname, '..', 'workflow-bundle.js');

export type WorkflowSource = { workflowBundle: { codePath: string } } | { workflowsPath: string };

export function workflowSource(): WorkflowSource {
  // Only the built worker (.js) trusts the prebuilt bundle: from source a stale one would run old code.
  if (__filename.endsWith('.js') && existsSync(WORKFLOW_BUNDLE_PATH)) return { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } };
  return { workflowsPath: require.resolve('../workflows') };
}

import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadTemporalDev, toolPaths } from '../../config/temporal-dev';

const SA_TYPES = {
  Keyword: SearchAttributeType.KEYWORD,
  Int: SearchAttributeType.INT,
  Text: SearchAttributeType.TEXT,
  Bool: SearchAttributeType.BOOL,
  Datetime: SearchAttributeType.DATETIME,
  Double: SearchAttributeType.DOUBLE,
  KeywordList: SearchAttributeType.KEYWORD_LIST,
} as const;

/**
 * A real Temporal dev server (the CLI from .tools/, never a download) on random ports, with the
 * search attributes and dynamic config of temporal-dev.yaml.
 */
export async function startTemporal(): Promise<{ address: string; namespace: string; cliPath: string; stop: () => Promise<void> }> {
  const dev = loadTemporalDev();
  const cliPath = toolPaths().temporalCli;
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cliPath },
      ip: '127.0.0.1',
      namespace: dev.namespace,
      searchAttributes: Object.entries(dev.searchAttributes).map(([name, type]) => defineSearchAttributeKey(name, SA_TYPES[type])),
      extraArgs: Object.entries(dev.dynamicConfig).flatMap(([k, v]) => ['--dynamic-config-value', `${k}=${JSON.stringify(v)}`]),
    },
  });
  return { address: env.address, namespace: dev.namespace, cliPath, stop: () => env.teardown() };
}

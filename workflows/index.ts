// Every workflow the worker registers. Workflows import only @temporalio/workflow, domain/ and activity *types*.
export * from './ping';

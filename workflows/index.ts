// Every workflow the worker registers. Workflows import only @temporalio/workflow, domain/ and activity *types*.
export * from './ping';
export * from './poller';
export * from './cashout';
export * from './reconcile';
export * from './health';
export * from './sweep';

/**
 * The Node flags the production worker runs with (P5, docs/performance.md): V8's old generation capped at
 * 160 MiB and its young generation at 4 MiB semi-spaces. Without a cap V8 collects lazily up to a limit of
 * a few GiB and the worker's RSS grew to 527 MiB under 50 cash-outs × 51 payouts; the live set is far
 * smaller. The same string is in deploy/satmachine-worker.service and package.json's `start:worker`
 * (test/worker-node-options.test.ts keeps them equal); the benchmarks run the worker with it.
 * Too small a cap makes the worker exit "heap out of memory" under load: systemd restarts it and Temporal
 * retries what it was doing (exactly-once holds through a kill), but an operator should see it: raise the cap.
 */
export const WORKER_NODE_OPTIONS = '--max-old-space-size=160 --max-semi-space-size=4';

#!/usr/bin/env node
// `npx satmachine …`: the operator CLI. TypeScript sources run through tsx (no build step).
require('tsx/cjs');
require('../client/cli.ts');

/** `npm run build`: stores the CLI's top-level commands (dist/client/commands-manifest.json) for a fast help. */
import { writeFileSync } from 'node:fs';
import { commandManifest } from './cli';
import { MANIFEST_PATH } from './command-modules';

const entries = commandManifest();
writeFileSync(MANIFEST_PATH, `${JSON.stringify(entries, null, 2)}\n`);
console.log(`CLI manifest: ${entries.length} commands in ${MANIFEST_PATH}`);

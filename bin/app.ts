import { ConfigError } from '../lib/config';
import { buildHeraldApp } from '../lib/infra/herald-stack';

try {
  // Under the CDK CLI the app synthesizes itself when the process is about to exit.
  buildHeraldApp();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`Herald: ${error.message}`);
  process.exit(1);
}

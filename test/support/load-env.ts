// Runs in every integration test worker: takes the addresses global-setup found or started.
import { readEnvFile, TEST_ENV_FILE } from './services';

for (const [k, v] of Object.entries(readEnvFile(TEST_ENV_FILE))) process.env[k] ??= v;

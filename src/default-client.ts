/**
 * default-client — the process-wide {@link Client} behind `request()`, `fetch()` and
 * `download()` when the caller names none.
 *
 * Owns: creating that client lazily, once. Lives apart from the package index so that
 * `fetch` and `download` depend on it without importing the index that re-exports them
 * (no import cycle).
 */

import { Client, type RequestOptions } from './client.js';
import type { Response } from './response.js';

let defaultClientInstance: Client | undefined;

/** The client behind `request()` and `fetch()`: default Transport, no overall timeout. */
export function defaultClient(): Client {
  defaultClientInstance ??= new Client();
  return defaultClientInstance;
}

/** `defaultClient().request(url, opts)`. */
export function request(url: string | URL, opts?: RequestOptions): Promise<Response> {
  return defaultClient().request(url, opts);
}

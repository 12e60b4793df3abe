// nginx for tests: re-exports scripts/nginx.mjs (a real nginx on loopback, own temp prefix).
// The script lives outside the compiled tree, so it is imported by a path computed from
// this file's compiled location (build/test/helpers → scripts); the types come from
// scripts/nginx.d.mts. Tests skip with `nginxSkipReason()` when nginx is not installed.
import type * as NginxModule from '../../scripts/nginx.mjs';

export type { NginxOptions, RunningNginx } from '../../scripts/nginx.mjs';

const mod = (await import(new URL('../../../scripts/nginx.mjs', import.meta.url).href)) as typeof NginxModule;

export const { startNginx, haveNginx, nginxPath, nginxSkipReason } = mod;

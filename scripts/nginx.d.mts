// Types for scripts/nginx.mjs (a real nginx on loopback for tests and benchmarks).

/** How nginx is started. */
export interface NginxOptions {
  /** Serve HTTPS with a self-signed certificate for 127.0.0.1 and localhost (see `ca`). */
  tls?: boolean;
  /** HTTP/2: h2 over TLS (ALPN) with `tls`, else h2c with prior knowledge. */
  http2?: boolean;
  /** Create /1m and /64m (default true; /small, /1k, /echo, /close, /chunked are always there). */
  files?: boolean;
  /** 'minimal' (5 headers, a `return 200`) or 'realistic' (12 headers from a static file). */
  headers?: 'minimal' | 'realistic';
  /** How many more loopback ports serve the same paths (distinct origins). */
  extraListeners?: number;
  /** /never is proxied here (a server that never answers); absent: no /never. */
  neverPort?: number;
  /** nginx worker processes (default 1). */
  workers?: number;
  /** Requests per connection before nginx closes it (GOAWAY over HTTP/2); default 10 000 000. */
  keepaliveRequests?: number;
}

/** A running nginx. */
export interface RunningNginx {
  /** The first listener's port. */
  port: number;
  /** `http(s)://127.0.0.1:PORT` of the first listener. */
  origin: string;
  /** The first listener's origin + `path`. */
  url(path?: string): string;
  /** Every listener's port (first, then the extra ones). */
  ports: number[];
  /** Every listener's origin. */
  origins: string[];
  /** PEM of the self-signed certificate when `tls`, else undefined. */
  ca: string | undefined;
  pid: number | undefined;
  /** The temp prefix (config, files, error.log); removed by close(). */
  dir: string;
  /** Connections accepted and requests served so far on the listeners (stub_status on a port of its own). */
  stats(): Promise<{ accepts: number; requests: number }>;
  /** Stops nginx and removes its temp dir; idempotent. */
  close(): Promise<void>;
}

/** The nginx binary (NGINX_BIN or BENCH_NGINX_BIN, else on PATH or in /usr/sbin), or null. */
export function nginxPath(): string | null;
/** True when nginx is installed. */
export function haveNginx(): boolean;
/** A skip message when nginx is absent, else undefined (`test(name, { skip: nginxSkipReason() })`). */
export function nginxSkipReason(): string | undefined;
/** Starts nginx on loopback ports with its own prefix and config in a temp dir. */
export function startNginx(options?: NginxOptions): Promise<RunningNginx>;

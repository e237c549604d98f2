import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, eventually, freePort } from './processes';

/** The shipped proxy policy (docker/nginx): what every generated configuration includes. */
const POLICY = path.join(ROOT, 'docker/nginx/mcp-proxy.conf');

/** Debian's nginx (`apt-get install -y nginx`; .ci/run installs it). */
function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (existsSync(candidate)) return candidate;
  throw new Error('nginx is not installed: `apt-get install -y nginx` (the CI script does it)');
}

/** One request as nginx logged it: which replicas it went to, in order, and what each answered. */
export interface ProxiedRequest {
  method: string;
  uri: string;
  status: number;
  /** `127.0.0.1:port` of every replica tried. */
  upstreams: string[];
}

/**
 * Real nginx in front of gateway replicas, as docker/compose.yaml runs it: the upstream block mirrors
 * docker/nginx/nginx.conf (fixed addresses instead of Docker's DNS) and `location /` includes the shipped
 * docker/nginx/mcp-proxy.conf, so tests run the policy that ships. One foreground process of its own
 * (no daemon, no master), stopped by its pid.
 */
export class Nginx {
  private exitCode?: number | null;
  private readonly exited: Promise<void>;
  private readonly output: string[] = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly port: number,
  ) {
    child.stderr?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.exitCode = code;
        resolve();
      }),
    );
  }

  /** Starts nginx on a free port with `backends` (base URLs such as `http://127.0.0.1:1234`) as the upstream. */
  static async start(backends: string[]): Promise<Nginx> {
    const binary = nginxBinary();
    const dir = await mkdtemp(path.join(tmpdir(), 'fabric-nginx-'));
    const port = await freePort();
    const servers = backends.map((url) => `server ${new URL(url).host} max_fails=1 fail_timeout=5s;`);
    const conf = `
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  log_format upstreams '$request_method $request_uri $status "$upstream_addr"';
  access_log ${dir}/access.log upstreams;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream gateway {
    ${servers.join('\n    ')}
    keepalive 64;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port};
    location = /lb-healthz { access_log off; return 200 "ok\\n"; }
    location / { include ${POLICY}; }
  }
}
`;
    await writeFile(path.join(dir, 'nginx.conf'), conf);
    const child = spawn(binary, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const nginx = new Nginx(child, dir, port);
    try {
      await eventually(
        async () => {
          if (nginx.exitCode !== undefined) throw new Error(`nginx exited: ${await nginx.errors()}`);
          return (await fetch(`${nginx.url}/lb-healthz`)).ok;
        },
        10_000,
        'nginx to answer',
      );
    } catch (error) {
      await nginx.stop();
      throw error;
    }
    return nginx;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Every request logged so far. */
  async requests(): Promise<ProxiedRequest[]> {
    const log = await readFile(path.join(this.dir, 'access.log'), 'utf8').catch(() => '');
    return log
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [method, uri, status] = line.split(' ');
        const upstreams = /"(.*)"$/.exec(line)?.[1] ?? '';
        return { method, uri, status: Number(status), upstreams: upstreams.split(/, | : /).filter(Boolean) };
      });
  }

  async errors(): Promise<string> {
    const log = await readFile(path.join(this.dir, 'error.log'), 'utf8').catch(() => '');
    return `${log}${this.output.join('')}`.slice(-4_000);
  }

  /** Stops nginx (fast shutdown, SIGKILL after 5 s) and removes its directory. */
  async stop(): Promise<void> {
    if (this.exitCode === undefined) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await this.exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

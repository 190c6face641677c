import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { build } from 'esbuild';
import { closeServer, listenOnLoopback } from './http-server';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface WebServer {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Serves web/ (the demo app and the client library) for `npm start`. TypeScript modules are
 * bundled with esbuild on request, so the demo runs the library's source without a build step.
 * `/config.json` tells the page where the local HTTP API is.
 */
export async function startWebServer(options: { port: number; root: string; config: Record<string, string> }): Promise<WebServer> {
  const root = resolve(options.root);
  const server: Server = createServer((request, response) => {
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    } catch {
      response.writeHead(400, { 'content-type': 'text/plain' }).end('Bad request path');
      return;
    }
    if (pathname === '/config.json') {
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(options.config));
      return;
    }
    const file = normalize(join(root, pathname === '/' ? 'demo/index.html' : pathname));
    if (file !== root && !file.startsWith(root + sep)) {
      response.writeHead(404).end();
      return;
    }
    serveFile(file)
      .then(({ body, type }) => response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body))
      .catch(() => response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found'));
  });
  const port = await listenOnLoopback(server, options.port);
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => closeServer(server),
  };
}

async function serveFile(file: string): Promise<{ body: string | Buffer; type: string }> {
  if (!(await stat(file)).isFile()) throw new Error('not a file');
  if (extname(file) === '.ts') {
    const result = await build({ entryPoints: [file], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, sourcemap: 'inline' });
    return { body: result.outputFiles[0]?.text ?? '', type: CONTENT_TYPES['.js'] as string };
  }
  return { body: await readFile(file), type: CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' };
}

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One file the admin page is made of, read once at start-up. */
export interface AdminAsset {
  body: Buffer;
  contentType: string;
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

/** The page's own files, by the name they are served under (`/admin/<name>`; the page itself is `index.html`). */
const PAGE_FILES = ['index.html', 'admin.js', 'admin.css', 'favicon.svg'];
/** uPlot's files from its package (a production dependency, so in the image's node_modules too). */
const UPLOT_FILES = ['uPlot.iife.min.js', 'uPlot.min.css'];

/** Thrown when the page's files are not where the build puts them. */
export class AdminAssetsMissingError extends Error {
  constructor(searched: string[], options?: { cause?: unknown }) {
    super(`the admin page's files are missing (looked in ${searched.join(', ')})`, options);
    this.name = 'AdminAssetsMissingError';
  }
}

/**
 * Where the page's files are: `assets/admin` next to the bundle (`dist/apps/gateway`, copied there by the
 * build), or in the sources when running from them (tests).
 */
function pageDirectory(): string {
  const candidates = [join(__dirname, 'assets', 'admin'), join(__dirname, '..', '..', '..', 'assets', 'admin')];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (!found) throw new AdminAssetsMissingError(candidates);
  return found;
}

/**
 * Node's own `require`: in the bundle `require` is webpack's, which would try to bundle the files it is asked
 * to resolve; `__non_webpack_require__` is how webpack names Node's (undefined outside the bundle).
 */
declare const __non_webpack_require__: NodeJS.Require | undefined;
const nodeRequire: NodeJS.Require = typeof __non_webpack_require__ === 'function' ? __non_webpack_require__ : require;

function typeOf(name: string): string {
  return TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
}

/**
 * Reads every file of the admin page (its own and uPlot's); throws `AdminAssetsMissingError` when one is
 * missing. The page is told whether callers authenticate, so that it asks for a credential before it calls.
 */
export function loadAdminAssets(options: { authRequired: boolean }): Map<string, AdminAsset> {
  const assets = new Map<string, AdminAsset>();
  const dir = pageDirectory();
  for (const name of PAGE_FILES) {
    let body = readFileSync(join(dir, name));
    if (name === 'index.html' && options.authRequired) {
      body = Buffer.from(body.toString('utf8').replace('<body data-auth="off">', '<body data-auth="on">'));
    }
    assets.set(name, { body, contentType: typeOf(name) });
  }
  for (const name of UPLOT_FILES) {
    let file: string;
    try {
      file = nodeRequire.resolve(`uplot/dist/${name}`);
    } catch (error) {
      throw new AdminAssetsMissingError([`uplot/dist/${name}`], { cause: error });
    }
    assets.set(name, { body: readFileSync(file), contentType: typeOf(name) });
  }
  return assets;
}

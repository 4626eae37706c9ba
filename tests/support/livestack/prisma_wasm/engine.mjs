#!/usr/bin/env node
// Prisma query engine for prisma-client-py, served from Prisma's WASM build.
//
// prisma-client-py 0.11 drives Prisma's native `query-engine` binary: it runs `<engine> --version`,
// then spawns `<engine> -p PORT --enable-metrics --enable-raw-queries` with PRISMA_DML_PATH (the
// schema file), PRISMA_ENGINE_PROTOCOL=graphql and optionally OVERWRITE_DATASOURCES in the
// environment, polls `GET /status`, and sends GraphQL-protocol requests over HTTP:
//   POST /                           a query or a batch (header X-transaction-id inside a tx)
//   POST /transaction/start          {"max_wait": ms, "timeout": ms, "isolation_level"?} -> {"id"}
//   POST /transaction/{id}/commit    and  /transaction/{id}/rollback
//   GET  /metrics?format=json|prometheus
// The native binary is downloaded from Prisma's servers at run time, which is impossible on a
// machine that reaches only package registries. The npm package @prisma/client ships the same
// query engine compiled to WebAssembly; with @prisma/adapter-pg it talks to PostgreSQL through
// node-postgres. This program loads it and serves the binary's HTTP protocol on loopback.
// The WASM engine only understands the JSON protocol, so GraphQL-protocol requests are translated
// (protocol.mjs) on the way in and the answers translated back on the way out.
//
// Fidelity notes (where the native binary's observable behaviour is reproduced on purpose):
// * startup fails (exit 1, P1001 on stderr) when the database cannot be reached, as the binary
//   verifies its connection before it listens;
// * connection-level failures the adapter reports as plain JS errors (refused, reset,
//   terminated) are turned into the binary's user-facing errors (P1001 "Can't reach database
//   server", P1017 "Server has closed the connection", P1008 timeouts) instead of the WASM
//   engine's opaque P2036 "Error in external connector";
// * transaction endpoint errors use the binary's HTTP statuses (404 unknown, 410 closed,
//   504 acquisition timeout, 500 otherwise); query errors come back as 200 with `errors`.
// * the engine exits when its parent dies (no orphaned engines after a killed proxy).

import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import process from 'node:process';

import { ProtocolError, Translator } from './protocol.mjs';

const require = createRequire(import.meta.url);

function loadWasmEngine() {
  const runtime = require('@prisma/client/runtime/query_engine_bg.postgresql.js');
  const wasmPath = require.resolve('@prisma/client/runtime/query_engine_bg.postgresql.wasm');
  const module = new WebAssembly.Module(fs.readFileSync(wasmPath));
  const instance = new WebAssembly.Instance(module, { './query_engine_bg.js': runtime });
  runtime.__wbg_set_wasm(instance.exports);
  return runtime;
}

function parseArgs(argv) {
  const opts = { port: null, host: '127.0.0.1', version: false, enableRawQueries: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--version' || arg === '-V' || arg === 'version') opts.version = true;
    else if (arg === '-p' || arg === '--port') opts.port = Number(argv[++i]);
    else if (arg.startsWith('--port=')) opts.port = Number(arg.slice(7));
    else if (arg === '-H' || arg === '--host') opts.host = argv[++i];
    else if (arg === '--enable-raw-queries' || arg === '-r') opts.enableRawQueries = true;
    // --enable-metrics, --enable-playground, --enable-open-telemetry, ... are accepted and ignored.
  }
  return opts;
}

function fail(message, code = 1) {
  process.stderr.write(`prisma-wasm-engine: ${message}\n`);
  process.exit(code);
}

// ---------------------------------------------------------------- datasource
function readDatamodel() {
  if (process.env.PRISMA_DML_PATH) return fs.readFileSync(process.env.PRISMA_DML_PATH, 'utf8');
  if (process.env.PRISMA_DML) return Buffer.from(process.env.PRISMA_DML, 'base64').toString('utf8');
  fail('neither PRISMA_DML_PATH nor PRISMA_DML is set');
}

function datasourceUrl(datamodel) {
  const block = /datasource\s+(\w+)\s*\{([^}]*)\}/m.exec(datamodel);
  if (!block) fail('the schema has no datasource block');
  const [, name, body] = block;
  if (process.env.OVERWRITE_DATASOURCES) {
    const overrides = JSON.parse(process.env.OVERWRITE_DATASOURCES);
    const match = overrides.find((o) => o.name === name) ?? overrides[0];
    if (match?.url) return match.url;
  }
  const fromEnv = /url\s*=\s*env\(\s*"([^"]+)"\s*\)/.exec(body);
  if (fromEnv) {
    const value = process.env[fromEnv[1]];
    if (!value) fail(`environment variable ${fromEnv[1]} (the datasource url) is not set`);
    return value;
  }
  const literal = /url\s*=\s*"([^"]+)"/.exec(body);
  if (literal) return literal[1];
  fail('cannot find the datasource url in the schema');
}

// Prisma-only URL parameters become node-postgres pool settings; the rest stays in the URL.
function poolConfig(rawUrl) {
  const url = new URL(rawUrl);
  const take = (key) => {
    const value = url.searchParams.get(key);
    url.searchParams.delete(key);
    return value;
  };
  const connectionLimit = take('connection_limit');
  const poolTimeout = take('pool_timeout');
  const connectTimeout = take('connect_timeout');
  const socketTimeout = take('socket_timeout');
  const schema = take('schema');
  for (const key of ['pgbouncer', 'statement_cache_size', 'application_name', 'sslaccept']) take(key);
  const pgOptions = ['-c TimeZone=UTC']; // adapter-pg's timestamptz parsing assumes a UTC session
  if (schema) pgOptions.push(`-c search_path="${schema.replace(/"/g, '')}"`);
  const config = {
    connectionString: url.toString(),
    max: connectionLimit ? Number(connectionLimit) : os.cpus().length * 2 + 1, // Prisma's default
    // Prisma bounds connecting (connect_timeout, 5 s) and waiting for a pooled connection
    // (pool_timeout, 10 s) separately; node-postgres has one bound covering both.
    connectionTimeoutMillis: 1000 * Number(connectTimeout ?? poolTimeout ?? 5) || undefined,
    idleTimeoutMillis: 300000,
    options: pgOptions.join(' '),
  };
  if (socketTimeout) config.query_timeout = 1000 * Number(socketTimeout);
  return {
    config,
    schema: schema ?? undefined,
    host: url.hostname,
    port: url.port || '5432',
    socketTimeout: socketTimeout ? Number(socketTimeout) : null,
  };
}

// ---------------------------------------------------------------- error mapping
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const CLOSED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

function userFacingFromJsError(error, db) {
  const code = error?.code;
  const message = String(error?.message ?? error);
  const where = `\`${db.host}\`:\`${db.port}\``;
  const meta = { database_host: db.host, database_port: Number(db.port) };
  if (UNREACHABLE_CODES.has(code) || /timeout exceeded when trying to connect|connection timeout/i.test(message)) {
    return {
      error_code: 'P1001',
      message: `Can't reach database server at ${where}\n\nPlease make sure your database server is running at ${where}.`,
      meta,
    };
  }
  if (CLOSED_CODES.has(code) || /connection terminated|connection error|not queryable|closed/i.test(message)) {
    return { error_code: 'P1017', message: 'Server has closed the connection.', meta: {} };
  }
  if (/query read timeout|timed out/i.test(message)) {
    const t = db.socketTimeout ?? 0;
    return { error_code: 'P1008', message: `Operations timed out after \`${t}s\``, meta: { time: `${t}s` } };
  }
  return {
    error_code: 'P2036',
    message: `Error in external connector: ${message}`,
    meta: { message },
  };
}

function errorFromPostgresKind(err) {
  // Startup check only: a Postgres error with a SQLSTATE (e.g. 28P01 auth failed, 3D000 no db).
  const messages = {
    '28P01': 'P1000',
    '28000': 'P1000',
    '3D000': 'P1003',
    '57P03': 'P1001',
  };
  return { error_code: messages[err.code] ?? 'P1010', message: err.message, meta: { code: err.code } };
}

function rewriteConnectorErrors(value, registry, db) {
  if (Array.isArray(value)) {
    value.forEach((item) => rewriteConnectorErrors(item, registry, db));
    return;
  }
  if (!value || typeof value !== 'object') return;
  const ufe = value.user_facing_error;
  if (ufe && ufe.error_code === 'P2036' && typeof ufe.meta?.id === 'number') {
    const entry = registry.consumeError(ufe.meta.id);
    registry.registeredErrors[ufe.meta.id] = undefined; // free the slot (the registry never does)
    if (entry) {
      const mapped = userFacingFromJsError(entry.error, db);
      value.user_facing_error = { is_panic: false, ...mapped };
      value.error = mapped.message;
    }
    return;
  }
  for (const key of Object.keys(value)) rewriteConnectorErrors(value[key], registry, db);
}

function transactionErrorStatus(errors) {
  const first = errors?.[0];
  const message = `${first?.error ?? ''} ${first?.user_facing_error?.message ?? ''}`.toLowerCase();
  if (message.includes('not found')) return 404;
  if (message.includes('already closed') || message.includes('expired') || message.includes('closed')) return 410;
  if (message.includes('unable to start a transaction in the given time')) return 504;
  return 500;
}

// ---------------------------------------------------------------- lenient column types
// adapter-pg rejects result columns of built-in types it has no mapping for (e.g. `name`, `char`,
// `regclass`, `interval`), failing the whole raw query with "Failed to deserialize column of type
// 'Unknown'"; the native engine returns such columns as text. Column values arrive in text
// format, so relabelling those columns as TEXT gives the native engine's answer.
const MAPPED_OIDS = new Set([
  16, 17, 20, 21, 23, 25, 26, 114, 142, 650, 700, 701, 790, 869, 1042, 1043, 1082, 1083, 1114, 1184,
  1266, 1560, 1562, 1700, 2950, 3802,
  143, 199, 651, 791, 1000, 1001, 1002, 1005, 1007, 1009, 1014, 1015, 1016, 1021, 1022, 1028, 1041,
  1115, 1182, 1183, 1231, 1561, 1563, 2951, 3807,
]);
const TEXT_OID = 25;

function makeColumnTypesLenient(pg, PrismaPg) {
  // Keep Postgres' own text for types node-postgres would parse into objects (point, circle, interval).
  for (const oid of [600, 718, 1186]) pg.types.setTypeParser(oid, 'text', (value) => value);
  const queryable = Object.getPrototypeOf(PrismaPg.prototype); // shared by the pool and transactions
  if (queryable.__llmpLenient) return;
  const performIO = queryable.performIO;
  queryable.performIO = async function lenientPerformIO(query) {
    const result = await performIO.call(this, query);
    if (result.ok && Array.isArray(result.value?.fields)) {
      const relabelled = [];
      result.value.fields.forEach((field, index) => {
        if (field.dataTypeID < 10000 && !MAPPED_OIDS.has(field.dataTypeID)) {
          field.dataTypeID = TEXT_OID;
          relabelled.push(index);
        }
      });
      // node-postgres parses a few of those types into objects (interval, point, circle): back to text.
      for (const row of relabelled.length ? result.value.rows : []) {
        for (const index of relabelled) {
          const value = row[index];
          if (value !== null && typeof value === 'object') {
            row[index] = typeof value.toPostgres === 'function' ? value.toPostgres() : JSON.stringify(value);
          }
        }
      }
    }
    return result;
  };
  queryable.__llmpLenient = true;
}

// ---------------------------------------------------------------- server
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const runtime = loadWasmEngine();
  if (opts.version) {
    const info = runtime.getBuildTimeInfo();
    process.stdout.write(`query-engine ${info.commit}\n`);
    return;
  }
  if (!Number.isInteger(opts.port) || opts.port <= 0) fail('usage: engine.mjs --version | -p PORT [...]');

  const { default: pg } = await import('pg');
  const { PrismaPg } = await import('@prisma/adapter-pg');
  const { bindAdapter } = await import('@prisma/driver-adapter-utils');
  makeColumnTypesLenient(pg, PrismaPg);

  const datamodel = readDatamodel();
  const db = poolConfig(datasourceUrl(datamodel));
  const pool = new pg.Pool(db.config);
  // An idle pooled connection that breaks (e.g. Postgres stopped) emits 'error' on the pool;
  // unhandled, that would kill the process. The next query reconnects.
  pool.on('error', (err) => process.stderr.write(`prisma-wasm-engine: idle connection error: ${err.message}\n`));
  const adapter = bindAdapter(new PrismaPg(pool, db.schema ? { schema: db.schema } : undefined));

  const logQueries = Boolean(process.env.LOG_QUERIES);
  const rustLog = (process.env.RUST_LOG ?? 'error').toLowerCase();
  const logLevel = ['trace', 'debug', 'info', 'warn', 'error'].includes(rustLog) ? rustLog : 'error';
  const protocol = (process.env.PRISMA_ENGINE_PROTOCOL ?? 'graphql').toLowerCase();

  const engine = new runtime.QueryEngine(
    {
      datamodel,
      env: process.env,
      logQueries,
      ignoreEnvVarErrors: true,
      datasourceOverrides: {},
      logLevel,
      configDir: process.cwd(),
      engineProtocol: protocol === 'json' ? 'json' : 'graphql',
    },
    (line) => {
      let event;
      try {
        event = JSON.parse(line);
      } catch {
        process.stderr.write(`prisma-wasm-engine: ${line}\n`);
        return;
      }
      if ('span' in event) return;
      const level = String(event.level ?? '').toLowerCase();
      if (level === 'error' || level === 'warn' || (logQueries && 'query' in event) || logLevel !== 'error') {
        process.stderr.write(`prisma-wasm-engine: ${JSON.stringify(event)}\n`);
      }
    },
    adapter,
  );

  // Like the native binary: verify the database before listening, fail loudly when it is away.
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    const ufe = err && typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code)
      ? errorFromPostgresKind(err)
      : userFacingFromJsError(err, db);
    process.stderr.write(`${JSON.stringify({ is_panic: false, ...ufe })}\n`);
    await pool.end().catch(() => {});
    process.exit(1);
  }
  await engine.connect('{}');

  const trace = '{}';
  const translator = new Translator(datamodel);
  // GraphQL protocol (prisma-client-py) -> JSON protocol; JSON-protocol bodies pass through.
  const translateRequest = (parsed) => {
    const isGraphql = (r) => r && typeof r.query === 'string';
    if (Array.isArray(parsed.batch)) {
      if (!parsed.batch.every(isGraphql)) return { json: parsed, respond: (r) => r };
      const items = parsed.batch.map((r) => translator.request(r));
      const batch = { batch: items.map((i) => i.json) };
      if (parsed.transaction) {
        batch.transaction = typeof parsed.transaction === 'object' ? parsed.transaction : {};
      }
      return {
        json: batch,
        respond: (result) => (Array.isArray(result.batchResult)
          ? { ...result, batchResult: result.batchResult.map((r, i) => translator.response(r, items[i].alias, items[i].action)) }
          : result),
      };
    }
    if (!isGraphql(parsed)) return { json: parsed, respond: (r) => r };
    const item = translator.request(parsed);
    return { json: item.json, respond: (result) => translator.response(result, item.alias, item.action) };
  };
  const json = (res, status, body) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const engineResult = (raw) => {
    const parsed = JSON.parse(raw);
    rewriteConnectorErrors(parsed, adapter.errorRegistry, db);
    return parsed;
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url, 'http://engine');
      try {
        if (req.method === 'GET' && url.pathname === '/status') {
          return json(res, 200, { status: 'ok' });
        }
        if (req.method === 'POST' && url.pathname === '/') {
          const txId = req.headers['x-transaction-id'] || undefined;
          let request;
          try {
            request = translateRequest(JSON.parse(body));
          } catch (err) {
            if (!(err instanceof ProtocolError) && !(err instanceof SyntaxError)) throw err;
            const message = `invalid request: ${err.message}`;
            return json(res, 200, { errors: [{ error: message, user_facing_error: { is_panic: false, message } }] });
          }
          const result = engineResult(await engine.query(JSON.stringify(request.json), trace, txId));
          return json(res, 200, request.respond(result));
        }
        if (req.method === 'POST' && url.pathname === '/transaction/start') {
          const result = engineResult(await engine.startTransaction(body || '{}', trace));
          return json(res, result.errors ? transactionErrorStatus(result.errors) : 200, result);
        }
        const txMatch = /^\/transaction\/([^/]+)\/(commit|rollback)$/.exec(url.pathname);
        if (req.method === 'POST' && txMatch) {
          const [, id, action] = txMatch;
          const raw = action === 'commit'
            ? await engine.commitTransaction(id, trace)
            : await engine.rollbackTransaction(id, trace);
          const result = engineResult(raw);
          return json(res, result.errors ? transactionErrorStatus(result.errors) : 200, result);
        }
        if (req.method === 'GET' && url.pathname === '/metrics') {
          const format = url.searchParams.get('format') ?? 'prometheus';
          let globalLabels = {};
          if (body) globalLabels = JSON.parse(body);
          try {
            const raw = await engine.metrics(JSON.stringify({ format, globalLabels }));
            if (format === 'json') return json(res, 200, raw);
            res.writeHead(200, { 'content-type': 'text/plain' });
            return res.end(raw);
          } catch (err) {
            // The WASM build is compiled without the metrics recorder.
            return json(res, 501, { errors: [{ error: `metrics are not available in the WASM query engine: ${err?.message ?? err}` }] });
          }
        }
        return json(res, 404, { errors: [{ error: `no such endpoint: ${req.method} ${url.pathname}` }] });
      } catch (err) {
        const message = err?.message ?? String(err);
        return json(res, 500, { errors: [{ error: message, user_facing_error: { is_panic: false, message } }] });
      }
    });
  });
  server.keepAliveTimeout = 65000;

  const listenOn = (host) => new Promise((resolve, reject) => {
    const onError = (err) => reject(err);
    server.once('error', onError);
    server.listen(opts.port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  await listenOn(opts.host);
  // prisma-client-py connects to "localhost", which may resolve to ::1 first: serve it too.
  if (opts.host === '127.0.0.1') {
    const v6 = http.createServer(server.listeners('request')[0]);
    v6.on('error', () => {}); // no IPv6 loopback here: 127.0.0.1 alone is fine
    v6.listen(opts.port, '::1');
  }

  let stopping = false;
  const shutdown = async (code) => {
    if (stopping) return;
    stopping = true;
    // Like the native binary, exit promptly: a clean disconnect gets half a second at most (with
    // the database away, pool.end() can wait on connections that will never answer).
    setTimeout(() => process.exit(code), 300).unref();
    server.close();
    try {
      await engine.disconnect('{}');
    } catch {}
    await pool.end().catch(() => {});
    process.exit(code);
  };
  process.on('SIGINT', () => shutdown(0));
  process.on('SIGTERM', () => shutdown(0));
  // Exit when the parent (the proxy) is gone, so a killed proxy never leaves an engine behind.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown(0);
  }, 1000).unref();
}

main().catch((err) => fail(err?.stack ?? String(err)));
